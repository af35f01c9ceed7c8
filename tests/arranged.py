"""A real answer laid out as clips, for the tests of each part of plugin_core/arrangement/: a tone melody
rendered with a synthetic bundle, its clip list, and B mixed back from the clips as a DAW would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.arrangement.clips import ClipList, build_clip_list, clip_audio
from plugin_core.bundle.load import Bundle, load_bundle
from plugin_core.io.audio import Audio, read_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import Rendered, render_audio
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.sessions import ReadClip, ReadTrack


@dataclass
class Arranged:
    bundle: Bundle
    a_path: Path
    a: Audio
    rendered: Rendered
    clips: ClipList


def arrange(folder: Path, *, bpm: float = 97.0, channels: int = 2, seconds: float = 6.0) -> Arranged:
    """A (``seconds`` of a melody at ``bpm``) rendered on a beat grid and laid out as clips."""
    bundle = load_bundle(make_synthetic_bundle(folder / "bundle", memory_bpm=120.0, memory_seconds=24.0))
    a_path = folder / "a.wav"
    write_audio(a_path, np.repeat(tone_melody(seconds, bpm, seed=3), channels, axis=0), RATE, subtype="FLOAT")
    a = read_audio(a_path)
    rendered = render_audio(bundle, a, seed=2, segmentation=SegmentationConfig("beats", bpm=bpm))
    clips = build_clip_list(
        rendered.decisions,
        rendered.boundaries,
        bundle.memory,
        sample_rate=a.sample_rate,
        channels=a.num_channels,
        length=a.num_samples,
        segments_per_beat=1,
        end_fade=rendered.end_fade,
    )
    return Arranged(bundle, a_path, a, rendered, clips)


def as_track(arranged: Arranged) -> ReadTrack:
    """The clip list as a track of clips whose audio is each clip's own span (``clip_audio``)."""
    clips = arranged.clips
    return ReadTrack(
        "B",
        1.0,
        [
            ReadClip(
                start=clip.start,
                length=clip.length,
                offset=0,
                gain=clip.gain,
                fade_in=(clip.fade_in.samples, clip.fade_in.shape),
                fade_out=(clip.fade_out.samples, clip.fade_out.shape),
                audio=clip_audio(clip, clips, arranged.bundle.memory),
            )
            for clip in clips.clips
        ],
    )

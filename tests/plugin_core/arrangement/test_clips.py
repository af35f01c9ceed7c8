"""The answer as clips: beats of A's grid, a tempo map a DAW reads back to the sample, the engine's
fade curves, and clips that mix back to the rendered B."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugin_core.arrangement.clips import (
    EQUAL_POWER,
    LINEAR,
    RAMP,
    Clip,
    ClipList,
    Fade,
    beat_positions,
    build_clip_list,
    fade_weights,
    rendered_name,
)
from plugin_core.arrangement.session import write_session
from plugin_core.bundle.load import load_bundle
from plugin_core.decision.config import ANTICIPATE
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.audio import read_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import render_audio
from tests.arranged import arrange, as_track
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.sessions import mix


def test_each_boundary_gets_its_beat_and_a_pickup_its_share():
    beat = 26460  # 100 qpm at 44.1 kHz
    assert beat_positions(np.arange(5) * beat, 44100, 1).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert beat_positions(np.arange(5) * beat, 44100, 2).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    pickup = np.array([0, beat // 2, beat // 2 + beat, beat // 2 + 2 * beat])
    assert beat_positions(pickup, 44100, 1).tolist() == pytest.approx([0.0, 0.5, 1.5, 2.5])
    assert beat_positions(np.arange(5) * beat, 44100, None) is None


def _clip_list(boundaries, beats) -> ClipList:
    return ClipList(sample_rate=44100, channels=1, length=int(boundaries[-1]), boundaries=np.asarray(boundaries), beats=beats, clips=())


def test_a_steady_a_gets_one_tempo_and_a_change_of_tempo_a_second_point():
    steady = _clip_list(np.arange(9) * 26460, np.arange(9.0))
    assert [(p.seconds, p.beat, p.bpm) for p in steady.tempo_map()] == [(0.0, 0.0, 100.0)]
    slower = np.concatenate([np.arange(5) * 22050, 4 * 22050 + np.arange(1, 5) * 29400])  # 120 qpm, then 90
    changing = _clip_list(slower, np.arange(9.0))
    assert [(p.beat, p.bpm) for p in changing.tempo_map()] == [(0.0, 120.0), (4.0, 90.0)]
    np.testing.assert_allclose(changing.to_beats(slower), np.arange(9.0), atol=1e-9)  # a DAW's reading lands every beat
    assert _clip_list(slower, None).tempo_map()[0].bpm == 120.0  # off a beat grid: 120 qpm throughout


def test_fade_curves_keep_power_or_amplitude_and_a_ramp_runs_end_to_end():
    rising, falling = fade_weights(Fade(64, EQUAL_POWER), True), fade_weights(Fade(64, EQUAL_POWER), False)
    np.testing.assert_allclose(rising**2 + falling**2, 1.0, atol=1e-6)
    np.testing.assert_allclose(fade_weights(Fade(64, LINEAR), True) + fade_weights(Fade(64, LINEAR), False), 1.0, atol=1e-6)
    ramp = fade_weights(Fade(5, RAMP), True)
    assert ramp.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and fade_weights(Fade(5, RAMP), False).tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]


def test_a_clip_is_named_by_its_grains_and_its_stretch():
    clip = Clip(start=0, length=10, source="memory", offset=0, gain=1.0, fade_in=Fade(), fade_out=Fade(), segments=(0,), grains=(7,))
    assert clip.name == "grain 7"
    run = Clip(0, 10, "memory", 0, 1.0, Fade(), Fade(), segments=(0, 1, 2), grains=(7, 8, 9), ratio=0.8)
    assert run.name == "grains 7-9 stretched x1.250"
    assert rendered_name(12) == "clip-00012.wav"


def test_no_decision_is_no_answer_to_arrange():
    with pytest.raises(CountertrackError, match="no answer to arrange"):
        build_clip_list([], np.array([0, 10]), None, sample_rate=44100, channels=1, length=10)  # type: ignore[arg-type]


@pytest.mark.parametrize(("bpm", "channels"), [(97.0, 2), (120.0, 1)])
def test_the_clips_mix_back_to_the_rendered_b(tmp_path, bpm, channels):
    arranged = arrange(tmp_path, bpm=bpm, channels=channels)
    clips = arranged.clips
    assert clips.beats is not None and len(clips.clips) > 1
    assert all(0 <= clip.start and clip.start + clip.length <= clips.length for clip in clips.clips)
    segments = [s for clip in clips.clips for s in clip.segments]
    assert segments == sorted(segments) and set(segments) == {d.segment for d in arranged.rendered.decisions}
    np.testing.assert_allclose(mix(as_track(arranged), channels, clips.length), arranged.rendered.samples, atol=2e-6, rtol=0)


@pytest.fixture(scope="module")
def anticipating_bundle_path(tmp_path_factory) -> Path:
    return make_synthetic_bundle(tmp_path_factory.mktemp("anticipating"), lookahead=ANTICIPATE, memory_bpm=120.0)


def test_an_anticipating_answer_needs_its_end_fade_to_be_arranged(anticipating_bundle_path, tmp_path):
    """A clip list told nothing of the end fade would not mix to B: that is a bug, said as one."""
    write_audio(tmp_path / "a.wav", tone_melody(2.3, 100.0, seed=7), RATE, subtype="FLOAT")
    bundle = load_bundle(anticipating_bundle_path)
    a = read_audio(tmp_path / "a.wav")
    rendered = render_audio(bundle, a, seed=1, segmentation=SegmentationConfig("beats", bpm=100.0))
    assert rendered.decisions[-1].stop > a.num_samples and rendered.end_fade  # the case this is about
    with pytest.raises(InternalError, match="end fade"):
        write_session(rendered.decisions, rendered.boundaries, bundle.memory, tmp_path / "a.wav", a.info, tmp_path / "s", "s")

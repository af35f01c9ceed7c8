"""Render MIDI to audio with the FluidSynth command-line synthesiser and a General MIDI SoundFont.

Rendering is offline (``-F``), dry (reverb and chorus off, so segments do not smear into each other)
and deterministic: the same MIDI, SoundFont, rate and gain give the same samples.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from plugin_core.errors import CountertrackError

SOUNDFONT_CANDIDATES = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian's fluid-soundfont-gm (MIT)
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
)


@dataclass(frozen=True)
class SynthSettings:
    """How stems are rendered; recorded in each pair's provenance."""

    soundfont: str
    sample_rate: int = 44100
    gain: float = 1.0
    tail_s: float = 1.0  # time rendered after the score's end so releases ring out


def find_soundfont(explicit: str | None = None) -> Path:
    """The SoundFont to use: ``explicit``, else FluidR3_GM from Debian, else pretty_midi's TimGM6mb."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise CountertrackError("SoundFont not found", path)
        return path
    for candidate in SOUNDFONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    try:
        import pretty_midi
    except ImportError:
        pretty_midi = None
    if pretty_midi is not None:
        bundled = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if bundled.is_file():
            return bundled
    raise CountertrackError("no General MIDI SoundFont found: apt-get install fluid-soundfont-gm, or pass --soundfont")


def fluidsynth_binary() -> str:
    """Path of the fluidsynth executable, or a clear error saying how to install it."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise CountertrackError("the fluidsynth program is not installed: apt-get install fluidsynth")
    return binary


def render_midi(midi: mido.MidiFile, settings: SynthSettings) -> np.ndarray:
    """Render ``midi`` to mono float32 samples shaped (1, samples) at ``settings.sample_rate``."""
    binary = fluidsynth_binary()
    with tempfile.TemporaryDirectory(prefix="countertrack-synth-") as tmp:
        midi_path = Path(tmp) / "part.mid"
        raw_path = Path(tmp) / "part.raw"
        _with_tail(midi, settings.tail_s).save(str(midi_path))
        command = [
            binary, "-n", "-i", "-q",
            "-R", "0", "-C", "0",
            "-g", f"{settings.gain}",
            "-r", str(settings.sample_rate),
            "-T", "raw", "-O", "float", "-E", "little",
            "-F", str(raw_path),
            settings.soundfont, str(midi_path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        if result.returncode != 0 or not raw_path.is_file():
            detail = " ".join((result.stderr or result.stdout).split())[:200]
            raise CountertrackError(f"fluidsynth failed (exit {result.returncode}): {detail}")
        interleaved = np.fromfile(raw_path, dtype="<f4")
    stereo = interleaved[: interleaved.size // 2 * 2].reshape(-1, 2).T
    return np.ascontiguousarray(stereo.mean(axis=0, keepdims=True), dtype=np.float32)


def _with_tail(midi: mido.MidiFile, tail_s: float) -> mido.MidiFile:
    """A copy of ``midi`` whose first track ends ``tail_s`` after the last event of any track."""
    tempo = 500000
    ends = []
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "set_tempo":
                tempo = message.tempo
        ends.append(now)
    out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    out.tracks = [mido.MidiTrack(track) for track in midi.tracks]
    first = out.tracks[0]
    first_end = sum(message.time for message in first)
    end_of_track = first.pop() if first and first[-1].type == "end_of_track" else None
    end_ticks = max(ends) + int(round(mido.second2tick(tail_s, midi.ticks_per_beat, tempo)))
    elapsed = first_end - (end_of_track.time if end_of_track is not None else 0)
    first.append(mido.MetaMessage("end_of_track", time=end_ticks - elapsed))
    return out

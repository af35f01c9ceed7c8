"""Render MIDI to audio with the FluidSynth command-line synthesiser and a General MIDI SoundFont.

Rendering is offline (``-F``), dry (reverb and chorus off, so segments do not smear into each other)
and deterministic: the same MIDI, SoundFont, rate and gain give the same samples. Every run is
bounded by the music's length (time and bytes written) and killed with its process group when it
breaks a bound or when we are stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from plugin_core.errors import CountertrackError
from plugin_core.io.stopping import temporary_folder

# Bounds of one FluidSynth run (see render_bounds): generous, they only stop a render that never ends.
WALL_BASE_S = 30.0
WALL_PER_MUSIC_S = 4.0
SIZE_FACTOR = 1.5
SIZE_MARGIN_S = 10.0  # FluidSynth plays about 2 s past the end of the file
POLL_S = 0.05

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


def render_midi(midi: mido.MidiFile, settings: SynthSettings, *, name: str | None = None) -> np.ndarray:
    """Render ``midi`` to mono float32 samples shaped (1, samples) at ``settings.sample_rate``.

    FluidSynth runs bounded by the music's length (``render_bounds``): past its time or size limit it
    is killed with its process group and the render is one CountertrackError naming ``name`` (the score).
    """
    binary = fluidsynth_binary()
    with temporary_folder("countertrack-synth-") as tmp:  # removed even when a stop lands as it is made
        midi_path = Path(tmp) / "part.mid"
        raw_path = Path(tmp) / "part.raw"
        padded = _with_tail(midi, settings.tail_s)
        padded.save(str(midi_path))
        try:
            bounds = render_bounds(padded.length, settings.sample_rate)
        except ValueError as exc:  # mido cannot time type-2 files
            raise CountertrackError(f"cannot time this MIDI ({exc})", name) from exc
        command = [
            binary,
            "-n",
            "-i",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            f"{settings.gain}",
            "-r",
            str(settings.sample_rate),
            "-T",
            "raw",
            "-O",
            "float",
            "-E",
            "little",
            "-F",
            str(raw_path),
            settings.soundfont,
            str(midi_path),
        ]
        returncode = _run_bounded(command, raw_path, Path(tmp) / "fluidsynth.log", bounds, name)
        if returncode != 0 or not raw_path.is_file():
            detail = " ".join((Path(tmp) / "fluidsynth.log").read_text(errors="replace").split())[:200]
            raise CountertrackError(f"fluidsynth failed (exit {returncode}): {detail}", name)
        interleaved = np.fromfile(raw_path, dtype="<f4")
    stereo = interleaved[: interleaved.size // 2 * 2].reshape(-1, 2).T
    return np.ascontiguousarray(stereo.mean(axis=0, keepdims=True), dtype=np.float32)


@dataclass(frozen=True)
class RenderBounds:
    """How long FluidSynth may run and how much raw audio it may write for one part."""

    music_s: float
    wall_s: float
    max_bytes: int


def render_bounds(music_s: float, sample_rate: int) -> RenderBounds:
    """Bounds for ``music_s`` seconds of music (tail included): ``WALL_BASE_S`` plus ``WALL_PER_MUSIC_S``
    seconds per second of music (FluidSynth renders ~100x faster than real time, so this only trips on
    a hang, even on a loaded machine), and the stereo float32 bytes of ``SIZE_FACTOR`` times the music
    plus ``SIZE_MARGIN_S`` (it stops about 2 s after the end; a runaway writes on without end)."""
    bytes_per_s = sample_rate * 2 * 4
    return RenderBounds(
        music_s=music_s,
        wall_s=WALL_BASE_S + WALL_PER_MUSIC_S * music_s,
        max_bytes=int((SIZE_FACTOR * music_s + SIZE_MARGIN_S) * bytes_per_s),
    )


def _run_bounded(command: list[str], raw_path: Path, log_path: Path, bounds: RenderBounds, name: str | None) -> int:
    """Run ``command`` in its own process group, polling the size of ``raw_path`` and the time; kill
    the group (and raise) on a breach, and in any case before returning or raising (Ctrl-C, SIGTERM)."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LC_ALL": "C"},
            start_new_session=True,
        )
    started = time.monotonic()
    try:
        while True:
            try:
                return process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
            size = raw_path.stat().st_size if raw_path.exists() else 0
            if size > bounds.max_bytes:
                raise CountertrackError(
                    f"fluidsynth wrote {size / 1e6:.1f} MB for {bounds.music_s:.0f} s of music (limit "
                    f"{bounds.max_bytes / 1e6:.1f} MB) and was stopped: it would not end",
                    name,
                )
            if time.monotonic() - started > bounds.wall_s:
                raise CountertrackError(
                    f"fluidsynth ran {bounds.wall_s:.0f} s for {bounds.music_s:.0f} s of music and was stopped: it would not end", name
                )
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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

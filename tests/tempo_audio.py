"""Real audio with known beats for the tempo tests: MIDI parts written with mido, rendered with the
FluidSynth command line and the FluidR3 General MIDI SoundFont, beat times taken from the MIDI.

A plain helper module (not a fixture file): the tests and the accuracy report both import it.
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

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TICKS_PER_BEAT = 480
RENDER_TIMEOUT_S = 120.0

# General MIDI programs, counted from 0 as mido writes them.
FLUTE, OBOE, CLARINET, VIOLIN, PIANO, TRUMPET, ACOUSTIC_BASS, FINGER_BASS = 73, 68, 71, 40, 0, 56, 32, 33
DRUM_CHANNEL = 9  # GM channel 10
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
C_MAJOR = (0, 2, 4, 5, 7, 9, 11)

TEMPI = (60, 72, 80, 90, 97, 108, 120, 135, 150, 165, 180)
# (kind, General MIDI program, bpm): the flute melody and the drums at every tempo, other voices at some
CASES = (
    [("melody", FLUTE, bpm) for bpm in TEMPI]
    + [("drums", 0, bpm) for bpm in TEMPI]
    + [
        ("melody", OBOE, 72),
        ("melody", VIOLIN, 108),
        ("melody", PIANO, 150),
        ("melody", TRUMPET, 165),
        ("melody 3/4", CLARINET, 90),
        ("melody 3/4", FLUTE, 135),
        ("bass", FINGER_BASS, 66),
        ("bass", FINGER_BASS, 120),
        ("bass", ACOUSTIC_BASS, 172),
    ]
)


@dataclass(frozen=True)
class Rendered:
    """A rendered part: stereo float32 samples shaped (2, samples) and the true beat times."""

    samples: np.ndarray
    sample_rate: int
    beat_times_s: np.ndarray  # every quarter-note beat from the first note to the end of the last
    bpm: float


@dataclass(frozen=True)
class Note:
    start_beats: float
    length_beats: float
    pitch: int
    velocity: int


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.is_file()


def render_notes(
    notes: list[Note],
    bpm: float,
    *,
    program: int,
    channel: int = 0,
    lead_in_s: float = 0.0,
    beats_per_bar: int = 4,
    sample_rate: int = 44100,
    tail_s: float = 0.5,
    end_bpm: float | None = None,
) -> Rendered:
    """Write ``notes`` (positions in quarter-note beats) as a MIDI file at ``bpm`` starting
    ``lead_in_s`` into the audio, render it with FluidSynth, and return the audio with its beats.

    With ``end_bpm`` the tempo moves beat by beat in equal steps from ``bpm`` to ``end_bpm``.
    """
    lead_in_beats = lead_in_s * bpm / 60.0
    end_beats = max(note.start_beats + note.length_beats for note in notes)
    beat_count = int(np.floor(end_beats)) + 1
    tempi = np.linspace(bpm, bpm if end_bpm is None else end_bpm, beat_count)
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []  # (tick, order, message)
    for beat, beat_bpm in enumerate(tempi):
        tick = int(round((lead_in_beats + beat) * TICKS_PER_BEAT)) if beat else 0
        events.append((tick, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(float(beat_bpm)))))
    for note in notes:
        on = int(round((lead_in_beats + note.start_beats) * TICKS_PER_BEAT))
        off = int(round((lead_in_beats + note.start_beats + note.length_beats) * TICKS_PER_BEAT))
        events.append((on, 2, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
        events.append((off, 1, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))  # tempo, then note-offs, then note-ons
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=4, time=0))
    if channel != DRUM_CHANNEL:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=int(round(tail_s * tempi[-1] / 60.0 * TICKS_PER_BEAT))))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    samples = render_midi(midi, sample_rate)
    # the lead-in plays at the first tempo; beat k starts after the k beats before it
    beat_times = lead_in_s + np.concatenate([[0.0], np.cumsum(60.0 / tempi[:-1])])
    first = int(np.floor(min(note.start_beats for note in notes)))
    return Rendered(samples=samples, sample_rate=sample_rate, beat_times_s=beat_times[first:], bpm=float(bpm))


def render_midi(midi: mido.MidiFile, sample_rate: int = 44100) -> np.ndarray:
    """Render with reverb and chorus off; FluidSynth writes float32 little-endian stereo interleaved."""
    with tempfile.TemporaryDirectory(prefix="tempo-test-") as tmp:
        midi_path, raw_path = Path(tmp) / "part.mid", Path(tmp) / "part.raw"
        midi.save(str(midi_path))
        command = [
            "fluidsynth",
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "1.0",
            "-r",
            str(sample_rate),
            "-T",
            "raw",
            "-O",
            "float",
            "-E",
            "little",
            "-F",
            str(raw_path),
            str(SOUNDFONT),
            str(midi_path),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=RENDER_TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})
        interleaved = np.fromfile(raw_path, dtype="<f4")
    return np.ascontiguousarray(interleaved[: interleaved.size // 2 * 2].reshape(-1, 2).T)


def _scale_pitch(degree: int, tonic: int) -> int:
    octave, step = divmod(degree, len(C_MAJOR))
    return tonic + 12 * octave + C_MAJOR[step]


# One bar of a chorale-like line, in eighth notes per event; "r" marks a rest. Mostly quarters, some
# eighth-note passing tones, half notes, and a phrase ending (half note and rest, a fermata).
_BAR_RHYTHMS_4 = ((2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (2, 1, 1, 2, 2), (2, 2, 1, 1, 2), (4, 2, 2), (2, 2, 4))
_PHRASE_END_4 = ((4, "r2", 2), (2, 2, 4), (6, "r2"))
_BAR_RHYTHMS_3 = ((2, 2, 2), (2, 2, 2), (2, 1, 1, 2), (4, 2), (2, 2, 1, 1))
_PHRASE_END_3 = ((4, "r2"), (6,))


def chorale_line(
    seed: int, bpm: float, *, seconds: float = 18.0, beats_per_bar: int = 4, tonic: int = 62, pickup: bool = True
) -> list[Note]:
    """A soprano-like line in a major key from ``tonic`` (D4) up a tenth: stepwise motion, phrases of
    four bars ending on a long note, a quarter-note pickup, enough bars to last about ``seconds``."""
    rng = np.random.default_rng(seed)
    rhythms = _BAR_RHYTHMS_4 if beats_per_bar == 4 else _BAR_RHYTHMS_3
    endings = _PHRASE_END_4 if beats_per_bar == 4 else _PHRASE_END_3
    bars = max(2, int(np.ceil(seconds * bpm / 60.0 / beats_per_bar)))
    notes: list[Note] = []
    degree = 4
    position = 0.0
    if pickup:
        notes.append(Note(0.0, 0.95, _scale_pitch(degree - 3, tonic), 88))
        position = 1.0
    for bar in range(bars):
        pattern = endings[int(rng.integers(len(endings)))] if bar % 4 == 3 else rhythms[int(rng.integers(len(rhythms)))]
        for item in pattern:
            if isinstance(item, str):
                position += int(item[1:]) / 2
                continue
            length = item / 2
            step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2])) if length >= 1 else int(rng.choice([-1, 1]))
            degree = degree + step if 0 <= degree + step <= 9 else degree - step  # turn back at the range's ends
            articulation = float(rng.uniform(0.85, 0.98))
            notes.append(Note(position, length * articulation, _scale_pitch(degree, tonic), int(rng.integers(78, 100))))
            position += length
    return notes


def bass_line(seed: int, bpm: float, *, seconds: float = 18.0, tonic: int = 43) -> list[Note]:
    """A bass part: roots and passing notes in quarters, some eighths and half notes, in 4/4."""
    rng = np.random.default_rng(seed)
    bars = max(2, int(np.ceil(seconds * bpm / 60.0 / 4)))
    notes: list[Note] = []
    position = 0.0
    for _bar in range(bars):
        root = tonic + int(rng.choice([0, 5, 7, -3]))
        pattern = ((2, 2, 2, 2), (2, 2, 2, 1, 1), (4, 2, 2), (2, 1, 1, 2, 2))[int(rng.integers(4))]
        for index, item in enumerate(pattern):
            length = item / 2
            pitch = root if index == 0 else root + int(rng.choice([0, 2, 4, 5, 7, -1]))
            notes.append(Note(position, length * 0.9, pitch, int(rng.integers(85, 105))))
            position += length
    return notes


def drum_pattern(seed: int, bpm: float, *, seconds: float = 18.0) -> list[Note]:
    """A rock beat: kick on 1 and 3 (sometimes the and of 3), snare on 2 and 4, closed hi-hat on
    eighths with off-beat hats softer, a sixteenth-note snare fill every fourth bar, a crash on each
    phrase."""
    rng = np.random.default_rng(seed)
    bars = max(2, int(np.ceil(seconds * bpm / 60.0 / 4)))
    notes: list[Note] = []
    for bar in range(bars):
        start = 4.0 * bar
        fill = bar % 4 == 3
        if bar % 4 == 0:
            notes.append(Note(start, 0.5, CRASH, 100))
        for eighth in range(8):
            position = start + eighth / 2
            if fill and eighth >= 6:
                continue
            notes.append(Note(position, 0.25, CLOSED_HAT, 85 if eighth % 2 == 0 else int(rng.integers(55, 70))))
        kicks = [0.0, 2.0] + ([2.5] if rng.random() < 0.4 else [])
        for beat in kicks:
            notes.append(Note(start + beat, 0.25, KICK, 110))
        for beat in (1.0, 3.0):
            notes.append(Note(start + beat, 0.25, SNARE, 105))
        if fill:
            for sixteenth in range(4):
                notes.append(Note(start + 3.0 + sixteenth / 4, 0.2, SNARE, 80 + 6 * sixteenth))
    return notes


def render_case(kind: str, program: int, bpm: float, *, end_bpm: float | None = None, seconds: float = 18.0) -> Rendered:
    """One test case: a ``kind`` of part ("melody", "melody 3/4", "bass" or "drums") on General MIDI
    ``program`` at ``bpm``, about ``seconds`` long, after a lead-in that puts the beats off the frame
    grid; its notes and lead-in follow from ``program`` and ``bpm`` alone, so a case renders the same
    every time."""
    seed = int(bpm) + 1000 * program + (7 if end_bpm else 0)
    lead_in_s = float(np.random.default_rng(seed).uniform(0.1, 0.8))
    if kind == "drums":
        notes = drum_pattern(seed, bpm, seconds=seconds)
        return render_notes(notes, bpm, program=0, channel=DRUM_CHANNEL, lead_in_s=lead_in_s, end_bpm=end_bpm)
    if kind == "bass":
        return render_notes(bass_line(seed, bpm, seconds=seconds), bpm, program=program, lead_in_s=lead_in_s)
    beats_per_bar = 3 if kind.endswith("3/4") else 4
    notes = chorale_line(seed, max(bpm, end_bpm or bpm), seconds=seconds, beats_per_bar=beats_per_bar)
    return render_notes(notes, bpm, program=program, lead_in_s=lead_in_s, beats_per_bar=beats_per_bar, end_bpm=end_bpm)


def beat_offsets_s(true_s: np.ndarray, estimated_s: np.ndarray) -> np.ndarray:
    """Signed offset (estimated − true) of the nearest estimated beat, for each true beat."""
    if estimated_s.size == 0:
        return np.full(true_s.shape, np.inf)
    index = np.clip(np.searchsorted(estimated_s, true_s), 1, max(1, estimated_s.size - 1))
    after, before = estimated_s[np.minimum(index, estimated_s.size - 1)], estimated_s[index - 1]
    return np.where(np.abs(after - true_s) < np.abs(before - true_s), after - true_s, before - true_s)


def beat_hit_rate(true_s: np.ndarray, estimated_s: np.ndarray, tolerance_s: float = 0.035) -> float:
    """Share of true beats with an estimated beat within ``tolerance_s``."""
    return float(np.mean(np.abs(beat_offsets_s(true_s, estimated_s)) <= tolerance_s)) if true_s.size else 1.0


def bach_sopranos(count: int, *, start: int = 300, min_short_share: float = 0.6) -> list[tuple[str, list[Note], int, float]]:
    """The soprano parts of ``count`` Bach chorales from music21's corpus, in corpus order from the
    ``start``-th file: four-part chorales in 4/4 or 3/4 whose soprano moves mainly in quarter notes
    or shorter (at least ``min_short_share`` of its notes), so the notated quarter is the beat a
    listener hears. Each as (file name, notes, beats per bar, phase of the bar line in beats)."""
    from music21 import corpus, meter  # the training side's dependency; only this test needs it

    chosen: list[tuple[str, list[Note], int, float]] = []
    for path in sorted(str(path) for path in corpus.getComposer("bach"))[start:]:
        if len(chosen) == count:
            break
        score = corpus.parse(path)
        signatures = list(score.parts[0].recurse().getElementsByClass(meter.TimeSignature)) if len(score.parts) == 4 else []
        if len(signatures) != 1 or signatures[0].ratioString not in ("4/4", "3/4"):
            continue
        soprano = score.parts[0].stripTies()
        notes = [
            Note(float(n.offset), 0.95 * float(n.duration.quarterLength), int(n.pitch.midi), 90)
            for n in soprano.flatten().notes
            if n.isNote
        ]
        if not notes or np.mean([n.length_beats <= 0.95 for n in notes]) < min_short_share:
            continue
        first_bar = soprano.measure(1)
        phase = float(first_bar.offset) % 1.0 if first_bar is not None else 0.0
        chosen.append((Path(path).name, notes, int(signatures[0].numerator), phase))
    return chosen

"""Multi-part scores as MIDI: load a score, name its parts, and cut one part out for rendering.

Every input (a MIDI file, a MusicXML file, a work of music21's corpus) becomes a ``mido.MidiFile``
whose note-bearing tracks are the parts. Tempo and meter events are kept in every extracted part so
that all stems of a score share one timeline, sample for sample.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import mido

from plugin_core.errors import CountertrackError

MIDI_EXTENSIONS = (".mid", ".midi", ".smf")
SCORE_EXTENSIONS = (".xml", ".musicxml", ".mxl", ".krn", ".abc", ".mei")
DRUM_CHANNEL = 9  # General MIDI channel 10


@dataclass(frozen=True)
class ScorePart:
    """One part of a score: its position among the parts, its name and the MIDI track holding it."""

    index: int
    name: str
    track: int


@dataclass(frozen=True)
class Score:
    """A score as MIDI, with a stable id and where it came from."""

    id: str
    source: str
    midi: mido.MidiFile
    parts: tuple[ScorePart, ...]

    def find_part(self, selector: str) -> ScorePart:
        """Find a part by 0-based index (negative counts from the last: -1 is the lowest part of a
        score written top to bottom) or by case-insensitive name ('soprano', 'Bass')."""
        if selector.strip().lstrip("-").isdigit():
            index = int(selector)
            if not -len(self.parts) <= index < len(self.parts):
                raise CountertrackError(f"has {len(self.parts)} parts, no part index {index}", self.source)
            return self.parts[index]
        wanted = selector.strip().casefold()
        for part in self.parts:
            if part.name.casefold() == wanted:
                return part
        for part in self.parts:
            if part.name.casefold().startswith(wanted):
                return part
        names = ", ".join(p.name or str(p.index) for p in self.parts)
        raise CountertrackError(f"has no part named {selector!r} (parts: {names})", self.source)


def load_score(source: str) -> Score:
    """Load a local MIDI/MusicXML file, or a work of music21's corpus by name ('bach/bwv66.6')."""
    path = Path(source)
    if path.suffix.lower() in MIDI_EXTENSIONS:
        if not path.is_file():
            raise CountertrackError("file not found", path)
        try:
            midi = mido.MidiFile(str(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
            raise CountertrackError(f"not a readable MIDI file ({exc})", path) from exc
    else:
        midi = _music21_to_midi(source)
    if midi.type == 0:
        midi = _split_channels(midi)
    parts = _parts_of(midi)
    if not parts:
        raise CountertrackError("has no notes", source)
    return Score(id=score_id(source), source=source, midi=midi, parts=parts)


def score_id(source: str) -> str:
    """A file-system-safe id for a score: 'bach/bwv66.6' -> 'bach_bwv66.6'."""
    path = Path(source)
    stem = path.stem if path.suffix.lower() in MIDI_EXTENSIONS + SCORE_EXTENSIONS else source
    if path.is_absolute() or path.exists():
        stem = path.stem
    return safe_id(stem)


def safe_id(text: str) -> str:
    """``text`` as a file-system-safe id: runs of other characters become '_', no leading or trailing dot."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "score"


def extract_part(score: Score, part: ScorePart, program: int) -> mido.MidiFile:
    """A MIDI file that plays only ``part``, on channel 0 with GM ``program`` (a drum part stays on
    the GM drum channel), on the score's timeline.

    Meta events (tempo, meter) of every track are kept, so every extracted part has the same length.
    """
    if not 0 <= program <= 127:
        raise CountertrackError(f"GM program {program} is out of range 0..127", score.source)
    out = mido.MidiFile(type=1, ticks_per_beat=score.midi.ticks_per_beat)
    channels = {m.channel for m in score.midi.tracks[part.track] if m.type == "note_on"}
    drums = channels == {DRUM_CHANNEL}  # a General MIDI drum part stays on the drum channel, whatever the program
    for index, track in enumerate(score.midi.tracks):
        keep_notes = index == part.track
        events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
        now = 0
        for message in track:
            now += message.time
            if message.is_meta:
                if message.type != "end_of_track":
                    events.append((now, message))
            elif keep_notes and message.type not in ("program_change",):
                channel = DRUM_CHANNEL if drums else 0
                events.append((now, message.copy(channel=channel) if hasattr(message, "channel") else message))
        new_track = mido.MidiTrack()
        if keep_notes and not drums:
            new_track.append(mido.Message("program_change", channel=0, program=program, time=0))
        last = 0
        for when, message in events:
            new_track.append(message.copy(time=when - last))
            last = when
        new_track.append(mido.MetaMessage("end_of_track", time=max(0, now - last)))
        out.tracks.append(new_track)
    return out


def _music21_to_midi(source: str) -> mido.MidiFile:
    try:
        import music21
    except ImportError as exc:  # pragma: no cover - music21 is in the train extra
        raise CountertrackError("reading scores needs music21: in countertrack's source folder, pip install '.[train]'", source) from exc
    path = Path(source)
    try:
        if path.exists():
            stream = music21.converter.parse(str(path))
        else:
            stream = music21.corpus.parse(source)
        # translating can fail too (badly formed repeats in some of music21's own quartets)
        data = music21.midi.translate.streamToMidiFile(stream).writestr()
    except Exception as exc:  # music21 raises many unrelated types for unreadable input
        raise CountertrackError(f"not a readable score ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})", source) from exc
    return mido.MidiFile(file=io.BytesIO(data))


def _parts_of(midi: mido.MidiFile) -> tuple[ScorePart, ...]:
    parts: list[ScorePart] = []
    for track_index, track in enumerate(midi.tracks):
        if not any(m.type == "note_on" and m.velocity > 0 for m in track):
            continue
        names = [m.name for m in track if m.type == "track_name"]
        name = names[0].strip() if names else ""
        parts.append(ScorePart(index=len(parts), name=name or f"part {len(parts)}", track=track_index))
    return tuple(parts)


def _split_channels(midi: mido.MidiFile) -> mido.MidiFile:
    """Turn a type-0 file (one track, many channels) into type 1 with one track per channel."""
    out = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    absolute: list[tuple[int, mido.Message | mido.MetaMessage]] = []
    now = 0
    for message in midi.tracks[0]:
        now += message.time
        absolute.append((now, message))
    keys = [None] + sorted({m.channel for _, m in absolute if not m.is_meta and hasattr(m, "channel")})
    for key in keys:
        track = mido.MidiTrack()
        if key is not None:
            track.append(mido.MetaMessage("track_name", name=f"channel {key + 1}", time=0))
        last = 0
        for when, message in absolute:
            belongs = message.is_meta if key is None else (not message.is_meta and getattr(message, "channel", None) == key)
            if belongs and message.type != "end_of_track":
                track.append(message.copy(time=when - last))
                last = when
        track.append(mido.MetaMessage("end_of_track", time=max(0, now - last)))
        out.tracks.append(track)
    return out


def at_constant_tempo(score: Score, qpm: float) -> Score:
    """``score`` played at one steady tempo: every tempo event dropped, one at the start set to ``qpm``.
    Beats stay where the score puts them (tick positions do not move), so its MIDI is still its tempo map."""
    if not 20.0 <= qpm <= 400.0:
        raise CountertrackError(f"tempo {qpm} qpm is out of range 20..400", score.source)
    out = mido.MidiFile(type=score.midi.type, ticks_per_beat=score.midi.ticks_per_beat)
    for index, track in enumerate(score.midi.tracks):
        new_track, carried = mido.MidiTrack(), 0
        if index == 0:
            new_track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
        for message in track:
            if message.type == "set_tempo":
                carried += message.time
                continue
            new_track.append(message.copy(time=message.time + carried))
            carried = 0
        out.tracks.append(new_track)
    return Score(id=score.id, source=score.source, midi=out, parts=score.parts)

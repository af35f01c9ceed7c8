"""MIDI in and out with mido: CC automation of parameters, and decisions written as MIDI notes.

Automation: ``--cc 1=temperature:0.3:2.0`` maps controller 1 (0..127) linearly onto temperature
between 0.3 and 2.0. Decisions: one note per output segment at its time on A's grid; the note
number is the B label (labels past 127 wrap, the exact label is in a marker), velocity 100 for a
grain continuing the memory and 70 for a jump, and a marker 'label L grain G' per note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mido

from plugin_core.atomic import atomic_path
from plugin_core.errors import CountertrackError

AUTOMATABLE = {"temperature": "sampling", "top_p": "sampling", "top_k": "sampling", "continuity": "engine", "crossfade_s": "engine",
               "follow_loudness": "engine", "loudness_match": "engine", "max_run": "engine"}
INTEGER_PARAMETERS = {"top_k", "max_run"}


@dataclass(frozen=True)
class CCMapping:
    controller: int
    parameter: str
    low: float
    high: float

    def value(self, cc_value: int) -> float | int:
        value = self.low + (self.high - self.low) * cc_value / 127.0
        return int(round(value)) if self.parameter in INTEGER_PARAMETERS else value


def parse_cc_mapping(text: str) -> CCMapping:
    """'74=top_p:0.5:1.0' -> CCMapping; errors name the problem."""
    try:
        controller_text, rest = text.split("=", 1)
        parameter, low, high = rest.split(":")
        mapping = CCMapping(int(controller_text), parameter.strip(), float(low), float(high))
    except ValueError:
        raise CountertrackError(f"CC mapping {text!r} must read CC=PARAMETER:LOW:HIGH, e.g. 1=temperature:0.3:2.0") from None
    if not 0 <= mapping.controller <= 127:
        raise CountertrackError(f"CC number {mapping.controller} is out of range 0..127")
    if mapping.parameter not in AUTOMATABLE:
        raise CountertrackError(f"cannot automate {mapping.parameter!r}; automatable: {', '.join(sorted(AUTOMATABLE))}")
    return mapping


def read_automation(path: str | os.PathLike[str], mappings: list[CCMapping], sample_rate: int) -> list[tuple[int, dict, dict]]:
    """(position in samples, sampling changes, engine changes) for every mapped CC event of the file."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise CountertrackError(f"not a readable MIDI file ({exc})", path) from exc
    by_controller = {m.controller: m for m in mappings}
    events, seconds = [], 0.0
    for message in midi:  # merged tracks, times in seconds (tempo map applied)
        seconds += message.time
        if message.type == "control_change" and message.control in by_controller:
            mapping = by_controller[message.control]
            change = {mapping.parameter: mapping.value(message.value)}
            group = AUTOMATABLE[mapping.parameter]
            events.append((int(round(seconds * sample_rate)), change if group == "sampling" else {}, change if group == "engine" else {}))
    return events


def write_decisions_midi(decisions: list[dict], sample_rate: int, path: str | os.PathLike[str], bpm: float = 120.0) -> None:
    """The decisions as a type-1 MIDI file (notes on A's grid), written atomically."""
    ticks_per_beat = 480
    tempo = mido.bpm2tempo(bpm)
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="countertrack decisions", time=0)])
    events = []
    for decision in decisions:
        on = int(round(mido.second2tick(decision["start"] / sample_rate, ticks_per_beat, tempo)))
        off = max(on + 1, int(round(mido.second2tick(decision["stop"] / sample_rate, ticks_per_beat, tempo))))
        note = int(decision["b_token"]) % 128
        events.append((on, 0, mido.MetaMessage("marker", text=f"label {decision['b_token']} grain {decision['grain']}")))
        events.append((on, 1, mido.Message("note_on", note=note, velocity=100 if decision["continued"] else 70)))
        events.append((off, -1, mido.Message("note_off", note=note, velocity=0)))
    now = 0
    for when, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=when - now))
        now = when
    midi.tracks.extend([conductor, track])
    with atomic_path(Path(path)) as tmp:
        midi.save(str(tmp))

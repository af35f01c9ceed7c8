"""MIDI in and out with mido: CC automation of parameters, and the answer written as MIDI notes.

Automation: ``--cc 1=temperature:0.3:2.0`` maps controller 1 (0..127) linearly onto temperature
between 0.3 and 2.0. The answer: the played grains as notes at their real pitch on A's tempo map
(``write_answer_midi``), with the decisions as markers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import numpy as np

from plugin_core.decision.sampling import SamplingConfig
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.midi_read import read_midi
from plugin_core.stream.parameters import AutomationEvent, Parameters
from plugin_core.stream.sidechain import Decision

TICKS_PER_BEAT = 480

AUTOMATABLE = ("temperature", "top_p", "top_k", "continuity", "crossfade_s", "follow_loudness", "loudness_match", "max_run", "harmony")
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
        raise ConfigurationError(f"CC mapping {text!r} must read CC=PARAMETER:LOW:HIGH, e.g. 1=temperature:0.3:2.0") from None
    if not 0 <= mapping.controller <= 127:
        raise ConfigurationError(f"CC number {mapping.controller} is out of range 0..127")
    if mapping.parameter not in AUTOMATABLE:
        raise ConfigurationError(f"cannot automate {mapping.parameter!r}; automatable: {', '.join(sorted(AUTOMATABLE))}")
    for bound in (mapping.low, mapping.high):
        _check_bound(text, mapping, bound)
    return mapping


def _check_bound(text: str, mapping: CCMapping, bound: float) -> None:
    """``bound`` is a value ``mapping.parameter`` may take, by the configs' own checks (one source of truth)."""
    if not math.isfinite(bound):
        raise ConfigurationError(f"CC mapping {text!r}: {mapping.parameter} bounds must be finite numbers, not {bound:g}")
    value = int(round(bound)) if mapping.parameter in INTEGER_PARAMETERS else bound
    try:
        Parameters(sampling=SamplingConfig(), engine=EngineConfig()).changed(**{mapping.parameter: value})
    except CountertrackError as exc:
        raise ConfigurationError(f"CC mapping {text!r}: {exc.problem}") from None


def read_automation(path: str | os.PathLike[str], mappings: list[CCMapping], sample_rate: int) -> list[AutomationEvent]:
    """One event (position in samples, the parameter set) for every mapped CC event of the file."""
    midi = read_midi(path)  # checked: time division, file type, tempos in range
    by_controller = {m.controller: m for m in mappings}
    events, seconds = [], 0.0
    for message in midi:  # merged tracks, times in seconds (tempo map applied)
        seconds += message.time
        if message.type == "control_change" and message.control in by_controller:
            mapping = by_controller[message.control]
            events.append(AutomationEvent(int(round(seconds * sample_rate)), {mapping.parameter: mapping.value(message.value)}))
    return events


def write_answer_midi(
    decisions: list[Decision],
    boundaries: np.ndarray,
    sample_rate: int,
    path: str | os.PathLike[str],
    *,
    segments_per_beat: int | None = None,
    overwrite: bool = True,
) -> None:
    """The answer as a type-1 MIDI file a DAW can use, written atomically.

    Track 1 holds one note per played grain at its real pitch (from the memory's analysis; grains
    continuing the previous one extend its note, unpitched grains are left out), velocity from the
    grain's level; a marker names each decision (B label, grain). On a beat grid
    (``segments_per_beat``), a tempo map puts every segment on its beat, so the notes sit on the
    DAW's bar grid at A's tempo; otherwise the tempo is 120 qpm and times are A's seconds.
    """
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack([mido.MetaMessage("track_name", name="tempo (A)", time=0)])
    ticks = _segment_ticks(np.asarray(boundaries, dtype=np.int64), sample_rate, segments_per_beat, conductor)
    track = mido.MidiTrack(
        [mido.MetaMessage("track_name", name="countertrack answer", time=0), mido.Message("program_change", program=32, time=0)]
    )
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
    held: tuple[int, int, int] | None = None  # (note, on tick, velocity) of the note sounding now
    segments = len(boundaries) - 1  # an anticipating answer may have laid a slot where A ended: it sounds nothing
    for decision in _one_per_segment([d for d in decisions if d.segment < segments]):
        on, off = int(ticks[decision.segment]), int(ticks[decision.segment + 1])
        events.append((on, 0, mido.MetaMessage("marker", text=f"B label {decision.b_token} grain {decision.grain}")))
        note = int(round(decision.pitch_midi)) if decision.pitch_midi >= 0 else None
        if held is not None and (note != held[0] or not decision.continued):
            events.append((on, -1, mido.Message("note_off", note=held[0], velocity=0)))
            held = None
        if note is not None and held is None and 0 <= note <= 127:
            level = decision.level_db + 20.0 * np.log10(max(decision.gain, 1e-6))
            velocity = int(np.clip(round(127 + 3.0 * (level + 6.0)), 20, 127))  # -6 dBFS -> 127, 3 velocity steps per dB
            events.append((on, 1, mido.Message("note_on", note=note, velocity=velocity)))
            held = (note, on, velocity)
        end = off
    if held is not None and decisions:
        events.append((end, -1, mido.Message("note_off", note=held[0], velocity=0)))
    now = 0
    for when, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=when - now))
        now = when
    midi.tracks.extend([conductor, track])
    with atomic_path(Path(path), overwrite=overwrite) as tmp:
        midi.save(str(tmp))


def _one_per_segment(decisions: list[Decision]) -> list[Decision]:
    """A segment a late look split is one note: the grain that sounds for most of it (the one looked
    again at, from the beat), continuing the previous note only if both of its slots continued."""
    merged: dict[int, Decision] = {}
    for decision in decisions:
        laid = merged.get(decision.segment)
        if laid is None:
            merged[decision.segment] = decision
        else:
            merged[decision.segment] = replace(decision, start=laid.start, continued=laid.continued and decision.continued)
    return [merged[segment] for segment in sorted(merged)]


def _segment_ticks(boundaries: np.ndarray, sample_rate: int, segments_per_beat: int | None, conductor: mido.MidiTrack) -> np.ndarray:
    """The tick of every boundary; on a beat grid, tempo events into ``conductor`` so that each
    segment lasts 1 / segments_per_beat of a beat (the first and last segments, a pickup or a remainder,
    their share of their neighbour's)."""
    seconds = boundaries / sample_rate
    if segments_per_beat is None or boundaries.size < 3:
        conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120.0), time=0))
        return np.round(seconds * 2 * TICKS_PER_BEAT).astype(np.int64)
    per_segment = TICKS_PER_BEAT // segments_per_beat
    lengths = np.diff(seconds)
    ticks = np.zeros(boundaries.size, dtype=np.int64)
    last_tick, last_tempo = 0, None
    for i, length in enumerate(lengths):
        reference = length
        if lengths.size == 2:  # a pickup and one segment, or one and a remainder: the longer is whole
            reference = float(lengths.max())
        elif lengths.size > 2 and i in (0, lengths.size - 1):  # a pickup, or a last segment cut short or merged: part of a beat
            reference = lengths[1] if i == 0 else lengths[-2]
        tempo = int(np.clip(round(reference * segments_per_beat * 1e6), 1, 16_777_215))  # microseconds per beat
        span = max(1, int(round(per_segment * length / reference)))
        if tempo != last_tempo:
            conductor.append(mido.MetaMessage("set_tempo", tempo=tempo, time=int(ticks[i] - last_tick)))
            last_tick, last_tempo = int(ticks[i]), tempo
        ticks[i + 1] = ticks[i] + span
    return ticks

"""MIDI out: the answer's notes on A's tempo map, whatever the grid's ends look like."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from plugin_core.arrangement.clips import beat_positions
from plugin_core.io.midi_io import TICKS_PER_BEAT, write_answer_midi
from plugin_core.stream.sidechain import Decision

RATE, BPM = 44100, 100.0


@pytest.mark.parametrize("past_the_beat", [1, 500])
def test_an_a_ending_just_past_its_first_beat_keeps_the_tempo_in_midi_and_the_session(past_the_beat, tmp_path):
    """A grid of one beat and a sliver (an anticipating grid never merges its tail): the beat is the
    whole one, so MIDI and the session's tempo map stay at A's tempo and the sliver is its share."""
    beat = int(round(60.0 / BPM * RATE))
    boundaries = np.array([0, beat, beat + past_the_beat])
    assert beat_positions(boundaries, RATE, 1)[1] == 1.0
    decisions = [
        Decision(
            segment=i,
            start=int(boundaries[i]),
            stop=int(boundaries[i + 1]),
            a_token=-1,
            b_token=0,
            played_label=0,
            grain=0,
            continued=False,
            gain=1.0,
            ratio=1.0,
            pitch_midi=40.0 + i,
            level_db=-20.0,
        )
        for i in range(2)
    ]
    write_answer_midi(decisions, boundaries, RATE, tmp_path / "b.mid", segments_per_beat=1)
    midi = mido.MidiFile(str(tmp_path / "b.mid"))
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert abs(mido.tempo2bpm(tempos[0]) - BPM) < 0.01
    now, ons = 0, []
    for message in midi.tracks[1]:
        now += message.time
        if message.type == "note_on":
            ons.append(now)
    assert ons == [0, TICKS_PER_BEAT]

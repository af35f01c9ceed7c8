"""Reading MIDI files of tempo or automation: checked for size, chunks, time division, type and tempo
before anything is laid out, and their tempo changes in order."""

from __future__ import annotations

import mido
import pytest

from plugin_core.errors import ConfigurationError
from plugin_core.io.midi_read import DEFAULT_TEMPO_US, read_midi, tempo_changes


def _midi(path, *, tempos=((0, 600_000),), ticks_per_beat=480, kind=1):
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    for delta, tempo in tempos:
        track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=delta))
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(track)
    if kind == 1:
        notes = mido.MidiTrack([mido.Message("note_on", note=60, time=0), mido.Message("note_off", note=60, time=480)])
        midi.tracks.append(notes)
    midi.save(str(path))
    return path


def test_a_file_is_read_and_its_tempo_changes_come_in_order_from_tick_0(tmp_path):
    midi = read_midi(_midi(tmp_path / "t.mid", tempos=((960, 400_000), (480, 300_000))))
    assert midi.ticks_per_beat == 480 and len(midi.tracks) == 2
    assert tempo_changes(midi) == [(0, DEFAULT_TEMPO_US), (960, 400_000), (1440, 300_000)]  # 120 BPM until the first
    assert tempo_changes(read_midi(_midi(tmp_path / "u.mid", tempos=((0, 600_000),)))) == [(0, 600_000)]


def test_a_tempo_outside_what_a_set_tempo_event_plays_is_one_line(tmp_path):
    with pytest.raises(ConfigurationError, match="holds a tempo of 1000 microseconds per beat") as caught:
        read_midi(_midi(tmp_path / "fast.mid", tempos=((0, 1000),)))
    assert "fast.mid" in str(caught.value) and "\n" not in str(caught.value)


def test_a_chunk_claiming_more_bytes_than_follow_is_refused_before_mido_allocates_them(tmp_path):
    data = bytearray(_midi(tmp_path / "t.mid").read_bytes())
    track = data.index(b"MTrk")
    data[track + 4 : track + 8] = (0x7FFFFFFF).to_bytes(4, "big")
    (tmp_path / "huge.mid").write_bytes(bytes(data))
    with pytest.raises(ConfigurationError, match="its MTrk chunk claims 2147483647 bytes"):
        read_midi(tmp_path / "huge.mid")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b"RIFF....WAVEfmt "), "does not start with MThd"),
        (lambda p: _midi(p, ticks_per_beat=0), "time division"),
        (lambda p: _midi(p, kind=2), "is a type 2 MIDI file"),
        (lambda p: p.mkdir(), "is not a regular file"),
    ],
    ids=["not-midi", "smpte-or-zero-division", "type-2", "a-folder"],
)
def test_what_is_not_a_usable_midi_file_is_one_line(tmp_path, write, message):
    path = tmp_path / "x.mid"
    write(path)
    with pytest.raises(ConfigurationError, match=message):
        read_midi(path)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read this MIDI file"):
        read_midi(tmp_path / "missing.mid")

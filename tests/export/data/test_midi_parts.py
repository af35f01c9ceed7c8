"""Scores as MIDI parts: parts found by index or name, one part cut out on the score's timeline with
its program, type-0 files split by channel, and a score played at one steady tempo."""

from __future__ import annotations

import mido
import pytest

from export.data.midi_parts import DRUM_CHANNEL, at_constant_tempo, extract_part, load_score, safe_id, score_id
from plugin_core.errors import CountertrackError


def _notes(pitches, channel=0):
    messages = []
    for pitch in pitches:
        messages.append(mido.Message("note_on", note=pitch, velocity=90, channel=channel, time=0))
        messages.append(mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=480))
    return messages


def _two_parts(path):
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0), mido.MetaMessage("set_tempo", tempo=400000, time=960)])
    )
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Soprano", time=0), *_notes([72, 74, 76, 77])]))
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Bass", time=0), *_notes([36, 38], channel=DRUM_CHANNEL)]))
    midi.save(str(path))
    return str(path)


def test_parts_are_found_by_index_from_either_end_or_by_name(tmp_path):
    score = load_score(_two_parts(tmp_path / "Tune 1.mid"))
    assert score.id == "Tune_1" and [(p.index, p.name, p.track) for p in score.parts] == [(0, "Soprano", 1), (1, "Bass", 2)]
    assert score.find_part("0").name == "Soprano" and score.find_part("-1").name == "Bass"
    assert score.find_part("soprano").track == 1 and score.find_part("BA").name == "Bass"  # a prefix will do
    with pytest.raises(CountertrackError, match="has 2 parts, no part index 2"):
        score.find_part("2")
    with pytest.raises(CountertrackError, match="has no part named 'alto' \\(parts: Soprano, Bass\\)"):
        score.find_part("alto")


def test_a_part_is_cut_out_with_its_program_and_the_scores_tempo_events(tmp_path):
    score = load_score(_two_parts(tmp_path / "tune.mid"))
    soprano = extract_part(score, score.find_part("soprano"), program=73)
    assert len(soprano.tracks) == 3 and soprano.length == score.midi.length  # every track kept: one timeline
    notes = [m for t in soprano.tracks for m in t if m.type == "note_on"]
    assert [m.note for m in notes] == [72, 74, 76, 77] and {m.channel for m in notes} == {0}
    assert [m.program for t in soprano.tracks for m in t if m.type == "program_change"] == [73]
    assert [m.tempo for t in soprano.tracks for m in t if m.type == "set_tempo"] == [500000, 400000]
    drums = extract_part(score, score.find_part("bass"), program=0)
    assert {m.channel for t in drums.tracks for m in t if m.type == "note_on"} == {DRUM_CHANNEL}  # a drum part stays drums
    assert not [m for t in drums.tracks for m in t if m.type == "program_change"]
    with pytest.raises(CountertrackError, match="GM program 128 is out of range"):
        extract_part(score, score.parts[0], program=128)


def test_a_type_0_file_is_split_into_one_part_per_channel(tmp_path):
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    for pitch in (60, 62):
        track.append(mido.Message("note_on", note=pitch, velocity=80, channel=0, time=0))
        track.append(mido.Message("note_on", note=pitch - 24, velocity=80, channel=3, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, channel=0, time=480))
        track.append(mido.Message("note_off", note=pitch - 24, velocity=0, channel=3, time=0))
    midi.tracks.append(track)
    midi.save(str(tmp_path / "flat.mid"))
    score = load_score(str(tmp_path / "flat.mid"))
    assert [p.name for p in score.parts] == ["channel 1", "channel 4"]
    assert [m.note for m in score.midi.tracks[score.parts[1].track] if m.type == "note_on"] == [36, 38]


def test_a_steady_tempo_keeps_the_beats_where_they_are(tmp_path):
    score = load_score(_two_parts(tmp_path / "tune.mid"))
    steady = at_constant_tempo(score, 90.0)
    assert [m.tempo for t in steady.midi.tracks for m in t if m.type == "set_tempo"] == [mido.bpm2tempo(90.0)]
    ticks = [sum(m.time for m in t) for t in steady.midi.tracks]
    assert ticks == [sum(m.time for m in t) for t in score.midi.tracks]  # no event moved
    assert steady.midi.length == pytest.approx(4 * 60.0 / 90.0)
    with pytest.raises(CountertrackError, match="tempo 500.0 qpm is out of range"):
        at_constant_tempo(score, 500.0)


def test_a_missing_or_broken_file_and_odd_names(tmp_path):
    with pytest.raises(CountertrackError, match="file not found"):
        load_score(str(tmp_path / "missing.mid"))
    (tmp_path / "broken.mid").write_bytes(b"MThd\x00\x00garbage")
    with pytest.raises(CountertrackError, match="not a readable MIDI file"):
        load_score(str(tmp_path / "broken.mid"))
    assert score_id("bach/bwv66.6") == "bach_bwv66.6" and safe_id("..a b/c..") == "a_b_c" and safe_id("...") == "score"

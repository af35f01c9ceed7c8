"""corpus from-scores: chorales and MIDI files rendered to separated, sample-aligned, reproducible stems."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.io.audio import probe_audio, read_audio
from plugin_core.io.corpus import load_corpus


def test_chorales_give_aligned_pairs(chorale_corpus):
    corpus = load_corpus(chorale_corpus)
    assert len(corpus.pairs) == 5
    for pair in corpus.pairs:
        guide, response = probe_audio(corpus.path_of(pair.guide)), probe_audio(corpus.path_of(pair.response))
        assert guide.num_samples == response.num_samples == pair.num_samples
        assert guide.sample_rate == response.sample_rate == 44100
        assert pair.provenance["guide_parts"] == ["Soprano"] and pair.provenance["response_parts"] == ["Bass"]


def test_bass_stem_sounds_lower_than_the_soprano_stem(chorale_corpus):
    corpus = load_corpus(chorale_corpus)
    pair = corpus.pairs[0]

    def centroid(path: Path) -> float:
        x = read_audio(path).samples[0, : 44100 * 8]
        spectrum = np.abs(np.fft.rfft(x))
        freqs = np.fft.rfftfreq(x.size, 1 / 44100)
        return float((spectrum * freqs).sum() / spectrum.sum())

    assert centroid(corpus.path_of(pair.response)) < 0.7 * centroid(corpus.path_of(pair.guide))


def test_rendering_twice_in_parallel_gives_identical_files(chorale_corpus, tmp_path):
    """The fixture rendered one score at a time; this renders two at a time, with an unreadable
    score first, so the limit needs a second wave: same pairs, same order, same bytes."""
    missing = str(tmp_path / "missing.mid")
    assert (
        main(
            [
                "corpus",
                "from-scores",
                missing,
                "--composer",
                "bach",
                "--limit",
                "3",
                "--jobs",
                "2",
                "--guide",
                "soprano",
                "--response",
                "bass",
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    first = load_corpus(chorale_corpus)
    again = load_corpus(tmp_path)
    assert [p.id for p in again.pairs] == [p.id for p in first.pairs[:3]]
    assert len(again.problems) == 1 and "missing.mid" in again.problems[0]
    for pair in first.pairs[:3]:
        for role in (pair.guide, pair.response):
            assert (tmp_path / role).read_bytes() == first.path_of(role).read_bytes()


def _two_part_midi(path: Path) -> Path:
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    midi.tracks.append(conductor)
    for name, pitches in (("Melody", [72, 74, 76, 77]), ("Bass", [36, 38, 40, 41])):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        for pitch in pitches:
            track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
        midi.tracks.append(track)
    midi.save(str(path))
    return path


@pytest.mark.slow
def test_local_midi_parts_by_index_and_missing_part_reported(tmp_path, capsys):
    good = _two_part_midi(tmp_path / "tune.mid")
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"MThd\x00\x00garbage")
    out = tmp_path / "c"
    code = main(["corpus", "from-scores", str(good), str(garbage), "--guide", "0", "--response", "1", "-o", str(out)])
    assert code == 0
    assert "garbage.mid" in capsys.readouterr().err
    corpus = load_corpus(out)
    assert [p.id for p in corpus.pairs] == ["tune"]
    assert 3.0 <= corpus.pairs[0].duration_s <= 6.0  # four beats at 120 bpm, the 1 s tail, synth release

    code = main(["corpus", "from-scores", str(good), "--guide", "soprano", "--response", "bass", "-o", str(tmp_path / "d")])
    assert code == 1
    assert "no part named 'soprano'" in capsys.readouterr().err


@pytest.mark.slow
def test_from_scores_writes_its_corpus_whole_or_not_at_all(tmp_path, capsys):
    """As from-stems does: a corpus is replaced only with --force, a run that gives no pair leaves
    nothing, and nothing half-written is ever seen in the target folder."""
    good = _two_part_midi(tmp_path / "tune.mid")
    out = tmp_path / "c"
    args = ["corpus", "from-scores", str(good), "--guide", "0", "--response", "1", "-o", str(out)]
    assert main(args) == 0
    before = (out / "corpus.json").read_bytes()
    capsys.readouterr()
    assert main(args) == 1  # exists: not replaced without --force
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "c" in err and (out / "corpus.json").read_bytes() == before
    assert main([*args, "--force"]) == 0 and load_corpus(out).pairs[0].id == "tune"
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"MThd\x00\x00garbage")
    failed = tmp_path / "failed"
    assert main(["corpus", "from-scores", str(garbage), "--guide", "0", "--response", "1", "-o", str(failed)]) == 1
    assert not failed.exists()
    kept = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["corpus", "from-scores", str(garbage), "--guide", "0", "--response", "1", "-o", str(out), "--force"]) == 1
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == kept  # a failed replacement keeps the corpus
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "garbage.mid", "tune.mid"]  # no staging folder left


@pytest.mark.slow
def test_a_score_music21_cannot_translate_is_reported_and_the_rest_go_on(tmp_path, capsys):
    """Haydn's op. 74 no. 1, third movement, in music21's own corpus has repeats music21 cannot expand
    when it writes MIDI: that score is one line on stderr, and the corpus is made of the others."""
    good = _two_part_midi(tmp_path / "tune.mid")
    bad = "opus74no1/movement3.mxl"
    out = tmp_path / "c"
    assert main(["corpus", "from-scores", bad, str(good), "--guide", "0", "--response", "-1", "-o", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "opus74no1/movement3" in err[0] and "not a readable score" in err[0]
    assert [p.id for p in load_corpus(out).pairs] == ["tune"]


def test_a_corpus_may_go_into_folders_not_made_yet(tmp_path):
    good = _two_part_midi(tmp_path / "tune.mid")
    out = tmp_path / "new" / "deeper" / "c"
    assert main(["corpus", "from-scores", str(good), "--guide", "0", "--response", "1", "-o", str(out)]) == 0
    assert [p.id for p in load_corpus(out).pairs] == ["tune"]


@pytest.mark.slow
def test_scores_that_share_a_name_each_get_their_own_pair(tmp_path):
    """songs/a/tune.mid and songs/b/tune.mid (or x.mxl beside x.xml, as in music21's trecento) once
    wrote into one pair folder and left a corpus that would not load: each now has its own id, the
    same on every run, and a source given twice is one pair."""
    for folder in ("a", "b"):
        (tmp_path / "songs" / folder).mkdir(parents=True)
    first = _two_part_midi(tmp_path / "songs" / "a" / "tune.mid")
    second = tmp_path / "songs" / "b" / "tune.midi"
    midi = mido.MidiFile(str(first))
    midi.tracks[2][1].note = midi.tracks[2][2].note = 31  # the second song's bass is not the first's
    midi.save(str(second))
    other = _two_part_midi(tmp_path / "solo.mid")
    out = tmp_path / "c"
    sources = [str(first), str(second), str(other), str(first)]
    assert main(["corpus", "from-scores", *sources, "--guide", "0", "--response", "1", "-o", str(out)]) == 0
    corpus = load_corpus(out)
    ids = [p.id for p in corpus.pairs]
    assert len(ids) == 3 and len(set(ids)) == 3 and "solo" in ids
    responses = {p.provenance["source"]: corpus.path_of(p.response).read_bytes() for p in corpus.pairs}
    assert responses[str(first)] != responses[str(second)]  # neither pair was written over by the other

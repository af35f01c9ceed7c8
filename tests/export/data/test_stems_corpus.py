"""corpus from-stems: aligned songs become pairs, misaligned ones are reported by name, never padded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.data.stems_corpus import build_from_stems
from host_scripts.cli import main
from plugin_core.io.audio import read_audio
from plugin_core.io.corpus import load_corpus, load_pair_audio
from tests.conftest import write_tone
from tests.dataset_layouts import musdb_song, write


def _song(root: Path, name: str, stems: dict[str, tuple[float, float]], sample_rate: int = 44100) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for stem, (freq, seconds) in stems.items():
        write_tone(folder / stem, freq, seconds, sample_rate)
    return folder


def test_good_song_pairs_and_misaligned_song_is_reported(tmp_path, capsys):
    stems = tmp_path / "stems"
    _song(stems, "good", {"drums.wav": (200, 2.0), "bass.wav": (55, 2.0)})
    _song(stems, "bad", {"drums.wav": (200, 2.0), "bass.wav": (55, 1.9)})
    code = main(["corpus", "from-stems", str(stems), "--guide", "drums*", "--response", "bass*", "-o", str(tmp_path / "c")])
    assert code == 0
    err = capsys.readouterr().err
    assert "bad" in err and "differ in length" in err
    corpus = load_corpus(tmp_path / "c")
    assert [p.id for p in corpus.pairs] == ["good"]
    assert corpus.pairs[0].num_samples == 88200
    assert any("bad" in problem for problem in corpus.problems)


def test_no_usable_song_fails_with_exit_code_1(tmp_path, capsys):
    stems = tmp_path / "stems"
    _song(stems, "bad", {"drums.wav": (200, 2.0), "bass.wav": (55, 1.0)})
    code = main(["corpus", "from-stems", str(stems), "--guide", "drums.wav", "--response", "bass.wav", "-o", str(tmp_path / "c")])
    assert code == 1
    assert "no usable song" in capsys.readouterr().err
    assert not (tmp_path / "c" / "corpus.json").exists()


def test_lengths_within_tolerance_pair_at_the_shorter_length(tmp_path):
    stems = tmp_path / "stems"
    folder = _song(stems, "song", {"drums.wav": (200, 1.0)})
    write_tone(folder / "bass.wav", 55, 1.0 - 20 / 44100)  # 20 samples = 0.45 ms short
    corpus, problems = __import__("export.data.stems_corpus", fromlist=["x"]).build_from_stems(
        stems, ("drums.wav",), ("bass.wav",), tmp_path / "c"
    )
    assert problems == []
    guide, response = load_pair_audio(corpus, corpus.pairs[0])
    assert guide.num_samples == response.num_samples == 44100 - 20


def test_sample_rate_mismatch_is_reported(tmp_path):
    from export.data.stems_corpus import build_from_stems

    stems = tmp_path / "stems"
    folder = _song(stems, "good", {"drums.wav": (200, 1.0), "bass.wav": (55, 1.0)})
    other = _song(stems, "mixed-rates", {"drums.wav": (200, 1.0)})
    write_tone(other / "bass.wav", 55, 1.0, sample_rate=48000)
    corpus, problems = build_from_stems(stems, ("drums.wav",), ("bass.wav",), tmp_path / "c")
    assert len(corpus.pairs) == 1 and len(problems) == 1
    assert "mixed-rates" in problems[0] and "sample rate" in problems[0]
    assert folder.exists()


def test_others_mixes_every_stem_but_the_response(tmp_path):
    from export.data.stems_corpus import build_from_stems

    stems = tmp_path / "stems"
    _song(stems, "song", {"bass.wav": (55, 1.0), "drums.wav": (200, 1.0), "keys.wav": (440, 1.0)})
    corpus, _ = build_from_stems(stems, ("others",), ("bass.wav",), tmp_path / "c")
    pair = corpus.pairs[0]
    assert pair.provenance["guide_stems"] == ["drums.wav", "keys.wav"]
    mix = read_audio(corpus.path_of(pair.guide)).samples
    drums = read_audio(stems / "song" / "drums.wav").samples
    keys = read_audio(stems / "song" / "keys.wav").samples
    np.testing.assert_allclose(mix, drums + keys, atol=1e-6)
    # a single response stem is referenced in place, not copied
    assert not Path(pair.response).is_absolute()  # relative to the corpus: a corpus moved with its stems still trains
    assert corpus.path_of(pair.response).resolve() == (stems / "song" / "bass.wav").resolve()


def test_corpus_info_lists_pairs_and_finds_changed_files(tmp_path, capsys):
    stems = tmp_path / "stems"
    folder = _song(stems, "song", {"drums.wav": (200, 1.0), "bass.wav": (55, 1.0)})
    assert main(["corpus", "from-stems", str(stems), "--guide", "drums.wav", "--response", "bass.wav", "-o", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["corpus", "info", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "1 pairs" in out and "0 problem(s)" in out
    (folder / "bass.wav").write_bytes(b"not audio any more")
    assert main(["corpus", "info", str(tmp_path / "c")]) == 1  # a script can tell
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "1 problem(s)" in out


def test_corrupt_manifest_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "corpus.json").write_text("{ not json")
    assert main(["corpus", "info", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "corpus.json" in err and "not valid JSON" in err


def test_newer_manifest_schema_is_refused(tmp_path, capsys):
    (tmp_path / "corpus.json").write_text(json.dumps({"kind": "countertrack-corpus", "schema_version": 99, "pairs": []}))
    assert main(["corpus", "info", str(tmp_path)]) == 1
    assert "newer" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["corpus"],
        ["corpus", "from-stems", "x"],
        ["nope"],
        ["corpus", "from-scores", "--guide", "s", "--response", "b", "-o", "x", "--limit", "0"],
    ],
)
def test_usage_errors_exit_with_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error: " in err and "--help" in err, err  # one line, saying where help is


def test_a_corpus_moved_with_its_stems_still_reads_every_pair(tmp_path):
    from export.data.stems_corpus import build_from_stems
    from plugin_core.io.corpus import load_corpus, load_pair_audio

    before = tmp_path / "before"
    _song(before / "stems", "song", {"drums.wav": (200, 1.0), "bass.wav": (55, 1.0)})
    _song(before / "stems", "other", {"drums.wav": (300, 1.0), "bass.wav": (65, 1.0), "keys.wav": (440, 1.0)})
    build_from_stems(before / "stems", ("others",), ("bass.wav",), before / "c")
    assert str(before) not in (before / "c" / "corpus.json").read_text()  # no path of this machine
    after = tmp_path / "after"
    before.rename(after)
    corpus = load_corpus(after / "c")
    for pair in corpus.pairs:
        a, b = load_pair_audio(corpus, pair)
        assert a.num_samples == b.num_samples == pair.num_samples


def test_an_existing_corpus_is_replaced_only_with_force_and_a_failed_run_changes_nothing(tmp_path, capsys):
    root = tmp_path / "musdb18hq"
    musdb_song(root, "train", "Song")
    out = tmp_path / "c"
    argv = ["corpus", "from-stems", str(root), "--guide", "drums", "--response", "bass", "-o", str(out)]
    assert main(argv) == 0
    before = (out / "corpus.json").read_bytes()
    capsys.readouterr()
    assert main(argv) == 1
    assert "already exists (use --force" in capsys.readouterr().err
    assert main([*argv[:-2], "--response", "nothing-here", "-o", str(out), "--force"]) == 1
    assert "no usable song" in capsys.readouterr().err
    assert (out / "corpus.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "musdb18hq"]  # no staged folder left behind
    assert main([*argv, "--force"]) == 0
    assert load_corpus(out).pairs[0].id == "Song"


def test_a_folder_that_is_not_a_corpus_is_never_replaced(tmp_path, capsys):
    root = tmp_path / "musdb18hq"
    musdb_song(root, "train", "Song")
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "todo.txt").write_text("mine")
    assert main(["corpus", "from-stems", str(root), "--guide", "drums", "--response", "bass", "-o", str(keep), "--force"]) == 1
    assert "not a corpus to replace" in capsys.readouterr().err
    assert (keep / "todo.txt").read_text() == "mine"


def test_a_corpus_written_inside_the_data_set_is_not_read_as_a_song(tmp_path):
    root = tmp_path / "songs"
    for name in ("one", "two"):
        write(root / name / "drums.wav", 200.0)
        write(root / name / "bass.wav", 55.0)
    corpus, problems = build_from_stems(root, ("others",), ("bass.wav",), root / "corpus")
    assert problems == [] and [p.id for p in corpus.pairs] == ["one", "two"]
    corpus, problems = build_from_stems(root, ("others",), ("bass.wav",), root / "corpus", force=True)
    assert problems == [] and len(corpus.pairs) == 2

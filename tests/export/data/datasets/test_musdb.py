"""MUSDB18-HQ (train/ and test/ of WAV stems): every song of both subsets, never the mixture; compressed stems refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.data.stems_corpus import build_from_stems
from host_scripts.cli import main
from plugin_core.io.audio import read_audio, to_mono
from plugin_core.io.corpus import load_corpus, load_pair_audio
from tests.dataset_layouts import musdb_song, write


def _summed(paths: list[Path]) -> np.ndarray:
    return to_mono(sum(read_audio(path).samples for path in paths))


def test_musdb_pairs_every_song_of_both_subsets_without_the_mixture(tmp_path):
    root = tmp_path / "musdb18hq"
    first = musdb_song(root, "train", "A Band - A Song")
    musdb_song(root, "test", "Another Band - Another Song")
    corpus, problems = build_from_stems(root, ("others",), ("bass",), tmp_path / "c")
    assert problems == [] and corpus.provenance["layout"] == "musdb"
    assert [(p.id, p.provenance["split"]) for p in corpus.pairs] == [("A Band - A Song", "train"), ("Another Band - Another Song", "test")]
    pair = corpus.pairs[0]
    assert [stem["name"] for stem in pair.provenance["guide_stems"]] == ["drums.wav", "other.wav", "vocals.wav"]
    guide, response = load_pair_audio(corpus, pair)
    np.testing.assert_allclose(guide.samples, _summed([first / f"{s}.wav" for s in ("drums", "other", "vocals")]), atol=1e-6)
    assert corpus.path_of(pair.response).resolve() == (first / "bass.wav").resolve()


def test_a_musdb_subset_folder_given_alone_never_puts_the_mixture_in_a(tmp_path):
    root = tmp_path / "musdb18hq"
    song = musdb_song(root, "train", "A Band - A Song")
    corpus, _ = build_from_stems(root / "train", ("others",), ("bass",), tmp_path / "c")
    assert corpus.provenance["layout"] == "musdb"
    assert [stem["name"] for stem in corpus.pairs[0].provenance["guide_stems"]] == ["drums.wav", "other.wav", "vocals.wav"]
    assert corpus.path_of(corpus.pairs[0].provenance["song"]).resolve() == song.resolve()


def test_musdb_a_silent_response_is_reported_and_skipped(tmp_path, capsys):
    root = tmp_path / "musdb18hq"
    musdb_song(root, "train", "Loud")
    quiet = musdb_song(root, "train", "Instrumental")
    write(quiet / "vocals.wav", 440.0, channels=2, amplitude=0.0)
    assert main(["corpus", "from-stems", str(root), "--guide", "others", "--response", "vocals", "-o", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Instrumental" in err and "response is silent" in err
    assert [p.id for p in load_corpus(tmp_path / "c").pairs] == ["Loud"]


def test_musdb_compressed_stems_are_refused_with_how_to_convert(tmp_path, capsys):
    (tmp_path / "musdb18" / "train").mkdir(parents=True)
    (tmp_path / "musdb18" / "train" / "A Band - A Song.stem.mp4").write_bytes(b"\0" * 64)
    assert (
        main(["corpus", "from-stems", str(tmp_path / "musdb18"), "--guide", "drums", "--response", "bass", "-o", str(tmp_path / "c")]) == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "musdbconvert" in err and "MUSDB18-HQ" in err

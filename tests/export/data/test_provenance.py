"""Every bundle records where its data came from and under which licence, and NOTICE does the same for
every data file the package ships."""

from __future__ import annotations

import fnmatch
import json
from importlib import resources
from pathlib import Path

import pytest

from export.data.provenance import MUSIC21_LICENCE, USER_ORIGIN, data_licences, in_music21_corpus, score_origins
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.io.corpus import Corpus, Pair, save_corpus
from tests.bundles import make_synthetic_bundle
from tests.paths import ROOT


def _by_use(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        grouped.setdefault((record["used_for"], record["kind"]), []).append(record)
    return grouped


@pytest.mark.slow
def test_a_bundle_of_the_users_own_audio_records_it_as_supplied_by_the_user_licence_unknown(tmp_path):
    bundle = make_synthetic_bundle(tmp_path)
    records = json.loads((bundle / "manifest.json").read_text())["provenance"]["data_licences"]
    grouped = _by_use(records)
    (memory,) = grouped["memory", "recordings"]
    (golden,) = grouped["golden vector input", "recordings"]
    assert memory["files"] == ["memory_tones.wav"] and golden["files"] == ["guide_tones.wav"]
    assert {(r["origin"], r["licence"]) for r in (memory, golden)} == {(USER_ORIGIN, "unknown")}
    assert str(tmp_path) not in json.dumps(records)  # names only, no path of this machine


def test_a_bundle_of_rendered_chorales_records_music21s_corpus_and_the_soundfont(tiny_bundle, chorale_corpus):
    records = load_bundle(tiny_bundle).manifest["provenance"]["data_licences"]
    grouped = _by_use(records)
    corpus = json.loads((chorale_corpus / "corpus.json").read_text())
    sources = [pair["provenance"]["source"] for pair in corpus["pairs"]]
    (scores,) = grouped["training", "scores"]
    assert scores["files"] == sources and scores["licence"] == MUSIC21_LICENCE and scores["origin"].startswith("music21's corpus")
    (memory_scores,) = grouped["memory", "scores"]
    split = load_bundle(tiny_bundle).manifest["provenance"]["split"]
    assert memory_scores["files"] == [p["provenance"]["source"] for p in corpus["pairs"] if p["id"] in split["train"]]
    for used_for in ("training", "memory"):
        (soundfont,) = grouped[used_for, "soundfont"]
        assert soundfont["files"] == [corpus["provenance"]["soundfont"]]
        if soundfont["files"] == ["FluidR3_GM.sf2"]:
            assert soundfont["licence"] == "MIT"


def test_scores_from_music21s_corpus_are_told_apart_from_the_users_files(tmp_path):
    mine = tmp_path / "my_song.mid"
    mine.write_bytes(b"MThd")
    bundled, users = score_origins(["bach/bwv66.6.mxl", str(mine)], "training")
    assert bundled.files == ("bach/bwv66.6.mxl",) and bundled.licence == MUSIC21_LICENCE
    assert users.files == ("my_song.mid",) and (users.origin, users.licence) == (USER_ORIGIN, "unknown")
    assert not in_music21_corpus("bach/no-such-chorale.mxl")


def test_memory_from_a_stems_corpus_names_each_pairs_file_not_its_path(tmp_path):
    corpus = Corpus(
        root=tmp_path / "songs",
        guide="drums",
        response="bass",
        provenance={"builder": "from-stems"},
        pairs=(
            Pair(
                id="song1",
                guide=str(tmp_path / "stems/song1/drums.wav"),
                response=str(tmp_path / "stems/song1/bass.wav"),
                sample_rate=44100,
                num_samples=44100,
            ),
        ),
    )
    corpus.root.mkdir()
    save_corpus(corpus)
    records = data_licences(None, [str(corpus.root), str(tmp_path / "take.wav")])
    assert [(r["used_for"], r["files"], r["origin"], r["licence"]) for r in records] == [
        ("memory", ["song1/bass.wav"], USER_ORIGIN, "unknown"),
        ("memory", ["take.wav"], USER_ORIGIN, "unknown"),
    ]


def test_notice_covers_every_shipped_data_file_and_the_shipped_bundles_sources():
    notice = (ROOT / "NOTICE").read_text()
    patterns = [p for line in notice.splitlines() if line.startswith("Files:") for p in line.split()[1:]]
    package = Path(str(resources.files("presets")))
    shipped = [
        f"presets/{p.relative_to(package).as_posix()}"
        for p in sorted(package.rglob("*"))
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert shipped and [f for f in shipped if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []
    provenance = load_bundle(default_bundle_path()).manifest["provenance"]
    assert provenance["example"]["source"] in notice
    assert all(in_music21_corpus(pair["source"]) for pair in provenance["corpus"])
    assert "GPL-3.0-or-later" in notice and "MIT" in notice


def test_an_exported_manifest_records_no_path_of_the_machine_that_built_it(tiny_bundle, tiny_run, chorale_corpus):
    text = (tiny_bundle / "manifest.json").read_text()
    for folder in (tiny_run.folder, chorale_corpus, tiny_bundle.parent):
        assert str(Path(folder).resolve()) not in text and str(folder) not in text, folder
    provenance = json.loads(text)["provenance"]
    assert provenance["run"] == tiny_run.folder.name and provenance["train"]["corpus"] == Path(chorale_corpus).name

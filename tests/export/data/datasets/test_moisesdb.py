"""MoisesDB (data.json song folders): A and B by stem type, each the sum of its sources; bad metadata reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.data.stems_corpus import build_from_stems
from host_scripts.cli import main
from plugin_core.io.audio import read_audio, to_mono
from plugin_core.io.corpus import load_corpus, load_pair_audio
from tests.dataset_layouts import moisesdb_song, write


def _sources(folder: Path, stem_name: str) -> list[Path]:
    """A MoisesDB stem's source files, in data.json's order."""
    stems = json.loads((folder / "data.json").read_text())["stems"]
    return [folder / stem_name / f"{t['id']}.{t['extension']}" for s in stems if s["stemName"] == stem_name for t in s["tracks"]]


def _summed(paths: list[Path]) -> np.ndarray:
    return to_mono(sum(read_audio(path).samples for path in paths))


def test_moisesdb_sums_a_stem_types_sources_and_reports_a_song_lacking_the_response(tmp_path, capsys):
    root = tmp_path / "moisesdb"
    song = moisesdb_song(
        root,
        {
            "drums": [("kick_drum", 60.0), ("snare_drum", 180.0)],
            "bass": [("bass_guitar", 55.0)],
            "guitar": [("clean_electric_guitar", 330.0)],
        },
        song="Full",
    )
    lacking = moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "vocals": [("lead_female_singer", 440.0)]})
    code = main(["corpus", "from-stems", str(root), "--guide", "drums", "--response", "bass", "-o", str(tmp_path / "c")])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and lacking.name in err and "no stem matches the response 'bass'" in err
    assert "drums, vocals" in err  # what the song does have
    corpus = load_corpus(tmp_path / "c")
    assert corpus.provenance["layout"] == "moisesdb"
    [pair] = corpus.pairs
    assert pair.id == song.name and corpus.path_of(pair.provenance["song"]).resolve() == song.resolve()
    assert (
        pair.provenance["artist"] == "An Artist" and pair.provenance["title"] == "Full" and pair.provenance["provider"] == "moisesdb_v0.1"
    )
    assert pair.provenance["guide_stems"][0]["track_types"] == ["kick_drum", "snare_drum"]
    guide, response = load_pair_audio(corpus, pair)
    np.testing.assert_allclose(guide.samples, _summed(_sources(song, "drums")), atol=1e-6)  # kick + snare
    np.testing.assert_allclose(response.samples, _summed(_sources(song, "bass")), atol=1e-4)
    assert corpus.path_of(pair.response).resolve() == next(song.glob("bass/*.wav")).resolve()  # one source: referenced in place
    assert corpus.problems and lacking.name in corpus.problems[0]


def test_moisesdb_others_is_every_stem_type_but_the_response(tmp_path):
    root = tmp_path / "moisesdb"
    song = moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "bass": [("bass_guitar", 55.0)], "piano": [("grand_piano", 262.0)]})
    corpus, problems = build_from_stems(root, ("others",), ("bass",), tmp_path / "c")
    assert problems == []
    pair = corpus.pairs[0]
    assert [stem["name"] for stem in pair.provenance["guide_stems"]] == ["drums", "piano"]
    guide, _ = load_pair_audio(corpus, pair)
    np.testing.assert_allclose(guide.samples, _summed(_sources(song, "drums") + _sources(song, "piano")), atol=1e-6)


@pytest.mark.parametrize("problem", ["rate", "channels"])
def test_moisesdb_a_source_that_cannot_be_summed_is_named_in_one_line(tmp_path, problem):
    root = tmp_path / "moisesdb"
    moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "bass": [("bass_guitar", 55.0)]})
    bad = moisesdb_song(root, {"drums": [("kick_drum", 60.0), ("snare_drum", 180.0)], "bass": [("bass_guitar", 55.0)]})
    odd = _sources(bad, "drums")[1]
    write(odd, 180.0, channels=2, rate=48000) if problem == "rate" else write(odd, 180.0, channels=1)
    corpus, problems = build_from_stems(root, ("drums",), ("bass",), tmp_path / "c")
    assert len(corpus.pairs) == 1 and len(problems) == 1
    assert problems[0].startswith(f"{odd}: ") and "\n" not in problems[0]
    assert ("48000 Hz" in problems[0]) if problem == "rate" else ("1 channel(s)" in problems[0])


def test_moisesdb_metadata_that_leads_outside_the_song_or_is_not_json_is_reported(tmp_path):
    root = tmp_path / "moisesdb"
    good = moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "bass": [("bass_guitar", 55.0)]})
    escaping = moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "bass": [("bass_guitar", 55.0)]})
    data = json.loads((escaping / "data.json").read_text())
    data["stems"][0]["stemName"] = "../" + good.name + "/drums"
    (escaping / "data.json").write_text(json.dumps(data))
    broken = moisesdb_song(root, {"drums": [("kick_drum", 60.0)], "bass": [("bass_guitar", 55.0)]})
    (broken / "data.json").write_text("{ not json")
    corpus, problems = build_from_stems(root, ("drums",), ("bass",), tmp_path / "c")
    assert [pair.id for pair in corpus.pairs] == [good.name]
    assert any(escaping.name in p and "stemName" in p for p in problems)
    assert any(p.startswith(str(broken / "data.json")) and "JSON" in p for p in problems)

"""Slakh2100 (metadata.yaml and stems/): A and B by instrument class, metadata read safely, its licence recorded."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from export.data.stems_corpus import build_from_stems
from host_scripts.cli import main
from host_scripts.extras import INSTALL_TRAIN
from plugin_core.io.audio import read_audio, to_mono
from plugin_core.io.corpus import load_pair_audio
from tests.dataset_layouts import RATE, SLAKH_BAND, slakh_track


def _summed(paths: list[Path]) -> np.ndarray:
    return to_mono(sum(read_audio(path).samples for path in paths))


def test_slakh_chooses_by_instrument_class_and_sums_a_class_with_several_stems(tmp_path):
    root = tmp_path / "slakh2100"
    track = slakh_track(root / "train", "Track00001", SLAKH_BAND)
    no_bass = slakh_track(root / "train", "Track00002", {"S00": SLAKH_BAND["S00"]})
    silent_bass = slakh_track(root / "validation", "Track01501", SLAKH_BAND, amplitudes={"S01": 0.0})
    corpus, problems = build_from_stems(root, ("piano",), ("class:Bass",), tmp_path / "c")
    assert corpus.provenance["layout"] == "slakh"
    [pair] = corpus.pairs
    assert pair.id == "Track00001" and pair.provenance["split"] == "train"
    assert [(s["name"], s["program_num"]) for s in pair.provenance["guide_stems"]] == [("S00", 0), ("S02", 4)]
    assert corpus.path_of(pair.provenance["midi"]).resolve() == (track / "all_src.mid").resolve()  # the tempo map
    guide, response = load_pair_audio(corpus, pair)
    np.testing.assert_allclose(guide.samples, _summed([track / "stems" / "S00.flac", track / "stems" / "S02.flac"]), atol=1e-6)
    assert response.sample_rate == RATE
    assert len(problems) == 2
    assert any(no_bass.name in p and "no stem matches the response" in p and "(stems here: Piano)" in p for p in problems)
    assert any(silent_bass.name in p and "response is silent" in p and "S01.flac" in p for p in problems)


def test_slakh_others_leaves_out_the_sources_slakh_did_not_render(tmp_path):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    corpus, problems = build_from_stems(root, ("others",), ("Bass",), tmp_path / "c")
    assert problems == []
    assert [s["name"] for s in corpus.pairs[0].provenance["guide_stems"]] == ["S00", "S02"]


def test_slakh_metadata_is_read_safely(tmp_path):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    unsafe = slakh_track(root, "Track00002", SLAKH_BAND)
    (unsafe / "metadata.yaml").write_text("stems: !!python/object/apply:os.system ['echo owned > owned.txt']\n")
    dated = slakh_track(root, "Track00004", {**SLAKH_BAND, "S00": {**SLAKH_BAND["S00"], "midi_program_name": "2019-01-01"}})
    escaping = slakh_track(root, "Track00003", SLAKH_BAND)
    text = (escaping / "metadata.yaml").read_text().replace("audio_dir: stems", "audio_dir: ../Track00001/stems")
    (escaping / "metadata.yaml").write_text(text)
    corpus, problems = build_from_stems(root, ("Piano",), ("Bass",), tmp_path / "c")
    assert [p.id for p in corpus.pairs] == ["Track00001", dated.name]  # a YAML date is left out of the JSON
    assert any(p.startswith(str(unsafe / "metadata.yaml")) and "not readable YAML" in p and "\n" not in p for p in problems)
    assert any(escaping.name in p and "audio_dir" in p for p in problems)
    assert not list(tmp_path.rglob("owned.txt"))


def test_slakh_without_pyyaml_says_how_to_install_the_extra_in_one_line(tmp_path, capsys, monkeypatch):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    monkeypatch.setitem(sys.modules, "yaml", None)  # PyYAML not installed
    assert main(["corpus", "from-stems", str(root), "--guide", "Piano", "--response", "Bass", "-o", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the train extra (yaml not installed)" in err and INSTALL_TRAIN in err
    assert not (tmp_path / "c").exists()


def test_a_bundle_made_from_a_data_set_records_the_data_sets_terms(tmp_path):
    from export.data.provenance import data_licences

    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    build_from_stems(root, ("Piano",), ("Bass",), tmp_path / "c")
    [record] = data_licences(None, [str(tmp_path / "c")])
    assert record["files"] == ["Track00001/S01.flac"] and record["licence"] == "CC BY 4.0"
    assert record["origin"].startswith("Slakh2100")

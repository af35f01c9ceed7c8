"""corpus from-stems on the paper's data sets: MoisesDB, MUSDB18-HQ and Slakh2100, each in a small copy of
its own layout (tests/dataset_layouts.py); A and B chosen by stem type or instrument class."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from export.data.datasets import LAYOUTS
from export.data.stems_corpus import build_from_stems
from host_scripts.cli import main
from host_scripts.corpus_cmd import LAYOUT_NAMES
from host_scripts.extras import INSTALL_TRAIN
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import read_audio, to_mono
from plugin_core.io.corpus import load_corpus, load_pair_audio
from tests.dataset_layouts import RATE, moisesdb_song, musdb_song, slakh_track, write


def _sources(folder: Path, stem_name: str) -> list[Path]:
    """A MoisesDB stem's source files, in data.json's order."""
    stems = json.loads((folder / "data.json").read_text())["stems"]
    return [folder / stem_name / f"{t['id']}.{t['extension']}" for s in stems if s["stemName"] == stem_name for t in s["tracks"]]


def _summed(paths: list[Path]) -> np.ndarray:
    return to_mono(sum(read_audio(path).samples for path in paths))


# --- MoisesDB -------------------------------------------------------------------------------------


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


# --- MUSDB18-HQ -----------------------------------------------------------------------------------


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


# --- Slakh2100 ------------------------------------------------------------------------------------

SLAKH_BAND = {
    "S00": {"inst_class": "Piano", "program_num": 0, "midi_program_name": "Acoustic Grand Piano"},
    "S01": {"inst_class": "Bass", "program_num": 33, "midi_program_name": "Electric Bass (finger)"},
    "S02": {"inst_class": "Piano", "program_num": 4, "midi_program_name": "Electric Piano 1"},
    "S03": {"inst_class": "Sound Effects", "program_num": 120, "audio_rendered": False, "midi_program_name": "Guitar Fret Noise"},
}


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


def test_a_named_layout_that_does_not_fit_is_one_line(tmp_path, capsys):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    assert (
        main(["corpus", "from-stems", str(root), "--layout", "musdb", "--guide", "piano", "--response", "bass", "-o", str(tmp_path / "c")])
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not laid out as MUSDB18" in err


def test_slakh_without_pyyaml_says_how_to_install_the_extra_in_one_line(tmp_path, capsys, monkeypatch):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    monkeypatch.setitem(sys.modules, "yaml", None)  # PyYAML not installed
    assert main(["corpus", "from-stems", str(root), "--guide", "Piano", "--response", "Bass", "-o", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the train extra (yaml not installed)" in err and INSTALL_TRAIN in err
    assert not (tmp_path / "c").exists()


# --- the corpus folder is one output transaction --------------------------------------------------


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


def test_the_command_line_offers_every_layout():
    assert set(LAYOUT_NAMES) == set(LAYOUTS)


def test_a_class_selector_chooses_nothing_in_moisesdb_and_says_what_does(tmp_path):
    root = tmp_path / "moisesdb"
    moisesdb_song(root, {"piano": [("grand_piano", 262.0)], "bass": [("bass_guitar", 55.0)]})
    with pytest.raises(CountertrackError, match="--guide 'class:Piano' chooses no stem of MoisesDB, whose stems are chosen by stem types"):
        build_from_stems(root, ("class:Piano",), ("bass",), tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_a_bundle_made_from_a_data_set_records_the_data_sets_terms(tmp_path):
    from export.data.provenance import data_licences

    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    build_from_stems(root, ("Piano",), ("Bass",), tmp_path / "c")
    [record] = data_licences(None, [str(tmp_path / "c")])
    assert record["files"] == ["Track00001/S01.flac"] and record["licence"] == "CC BY 4.0"
    assert record["origin"].startswith("Slakh2100")

"""Which data-set layout a folder holds (export/data/datasets/__init__.py): a layout named on the command
line that does not fit is one line. Each layout's own tests are in tests/export/data/datasets/, each in a
small copy of its layout (tests/dataset_layouts.py)."""

from __future__ import annotations

import pytest

from export.data.datasets import layout_of
from host_scripts.cli import main
from plugin_core.errors import CountertrackError
from tests.dataset_layouts import SLAKH_BAND, moisesdb_song, musdb_song, slakh_track, write


def test_a_named_layout_that_does_not_fit_is_one_line(tmp_path, capsys):
    root = tmp_path / "slakh2100"
    slakh_track(root, "Track00001", SLAKH_BAND)
    assert (
        main(["corpus", "from-stems", str(root), "--layout", "musdb", "--guide", "piano", "--response", "bass", "-o", str(tmp_path / "c")])
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not laid out as MUSDB18" in err


def test_each_layout_is_detected_and_anything_else_is_plain_song_folders(tmp_path):
    moisesdb_song(tmp_path / "moisesdb", {"bass": [("bass_guitar", 55.0)]})
    musdb_song(tmp_path / "musdb18hq", "train", "Song")
    slakh_track(tmp_path / "slakh2100", "Track00001", SLAKH_BAND)
    write(tmp_path / "mine" / "one" / "bass.wav", 55.0)
    detected = {name: layout_of(tmp_path / name).name for name in ("moisesdb", "musdb18hq", "slakh2100", "mine")}
    assert detected == {"moisesdb": "moisesdb", "musdb18hq": "musdb", "slakh2100": "slakh", "mine": "folders"}
    assert layout_of(tmp_path / "mine", "folders").name == "folders"
    with pytest.raises(CountertrackError, match="unknown layout 'medleydb'; choose one of moisesdb, musdb, slakh, folders"):
        layout_of(tmp_path / "mine", "medleydb")
    with pytest.raises(CountertrackError, match="not a folder of songs"):
        layout_of(tmp_path / "missing")

"""Choosing A's and B's stems: a selector a layout does not use is one line saying what it does use."""

from __future__ import annotations

import pytest

from export.data.stems_corpus import build_from_stems
from plugin_core.errors import CountertrackError
from tests.dataset_layouts import moisesdb_song


def test_a_class_selector_chooses_nothing_in_moisesdb_and_says_what_does(tmp_path):
    root = tmp_path / "moisesdb"
    moisesdb_song(root, {"piano": [("grand_piano", 262.0)], "bass": [("bass_guitar", 55.0)]})
    with pytest.raises(CountertrackError, match="--guide 'class:Piano' chooses no stem of MoisesDB, whose stems are chosen by stem types"):
        build_from_stems(root, ("class:Piano",), ("bass",), tmp_path / "c")
    assert not (tmp_path / "c").exists()

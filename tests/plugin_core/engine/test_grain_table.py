"""The grain table's columns: whole-number positions, tracks and labels, finite descriptors in range,
columns of one length, and labels and tracks the bundle has; each problem one line naming the column."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from plugin_core.engine.grain_table import check_against, check_grain_columns
from plugin_core.errors import BundleError

BINS = 4
TABLE = {
    "track": [0, 0, 1],
    "start": [0, 100, 0],
    "end": [100, 250, 80],
    "label": [3, 1, 0],
    "loudness_db": [-20.0, -18.5, -40.0],
    "pitch_midi": [60.0, -1.0, 43.5],
    "pitch_classes": [[1.0] + [0.0] * 11] * 3,
    "onsets": [[1.0, 0.0, 0.0, 0.0]] * 3,
}


def test_a_good_table_passes_and_so_does_one_of_the_bundle_after_json(synthetic_bundle):
    assert check_grain_columns(copy.deepcopy(TABLE), BINS, "grains.json") == TABLE
    shipped = json.loads((synthetic_bundle / "memory" / "grains.json").read_text())
    check_grain_columns(shipped, len(shipped["onsets"][0]), synthetic_bundle / "memory" / "grains.json")


def _with(column: str, value) -> dict:
    table = copy.deepcopy(TABLE)
    table[column] = value
    return table


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([1, 2], "not a JSON object of columns"),
        ({k: v for k, v in TABLE.items() if k != "label"}, "has no 'label' column"),
        (_with("start", []) | {"track": [], "end": [], "label": [], "loudness_db": []}, "holds no grain"),
        (_with("label", [3, 1]), "column 'label' has 2 entries, 'start' has 3"),
        (_with("label", [3, 2.5, 0]), "label\\[1\\] is 2.5, not a whole number"),
        (_with("label", [3, True, 0]), "label\\[1\\] is True, not a whole number"),
        (_with("start", [0, 1 << 60, 0]), "start\\[1\\] is 1152921504606846976, not a whole number within 0..2\\^48"),
        (_with("end", [100, 100, 80]), "grain 1 ends at 100, not after its start 100"),
        (_with("loudness_db", [-20.0, float("nan"), -40.0]), "loudness_db"),
        (_with("pitch_midi", [60.0, 200.0, 40.0]), "pitch_midi"),
        (_with("onsets", [[1.0, 0.0]] * 3), "onsets"),
    ],
)
def test_a_bad_column_is_one_line_naming_it(table, message):
    with pytest.raises(BundleError, match=message) as caught:
        check_grain_columns(table, BINS, "memory/grains.json")
    assert "memory/grains.json" in str(caught.value) and "\n" not in str(caught.value)


def test_labels_must_be_tokens_and_tracks_those_of_the_manifest():
    label, track = np.array(TABLE["label"]), np.array(TABLE["track"])
    check_against(label, track, vocab_size=4, tracks=2, path="grains.json")
    with pytest.raises(BundleError):
        check_against(label, track, vocab_size=3, tracks=2, path="grains.json")
    with pytest.raises(BundleError):
        check_against(label, track, vocab_size=4, tracks=1, path="grains.json")

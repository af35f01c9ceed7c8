"""The learnt compatibility at run time: scoring prefers what was learned, and a bad table is refused
(learning it is tested in tests/export/model/test_compatibility_fit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.engine.compatibility import Compatibility
from plugin_core.errors import CountertrackError
from plugin_core.perception.descriptors import RHYTHM_BINS, SegmentDescriptor


def one_hot(classes: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((classes.size, size), np.float32)
    out[np.arange(classes.size), classes] = 1.0
    return out


def test_score_prefers_the_learned_interval():
    intervals = np.full(12, -1.0, np.float32)
    intervals[7] = 2.0
    table = Compatibility(intervals, np.zeros((RHYTHM_BINS, RHYTHM_BINS), np.float32))
    a = SegmentDescriptor(
        pitch_classes=one_hot(np.array([2]), 12)[0], onsets=np.zeros(RHYTHM_BINS, np.float32), pitch_midi=62.0, level_db=-20
    )
    grains = one_hot(np.arange(12), 12)
    scores = table.score(a, grains, np.zeros((12, RHYTHM_BINS), np.float32))
    assert int(np.argmax(scores)) == 9  # D + 7 semitones = A


@pytest.mark.parametrize("intervals", [np.full(12, np.nan), np.full(12, 1e6), np.zeros(11)])
def test_a_bad_table_is_refused(intervals):
    with pytest.raises(CountertrackError):
        Compatibility(np.asarray(intervals, np.float32), np.zeros((RHYTHM_BINS, RHYTHM_BINS), np.float32))

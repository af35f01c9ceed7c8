"""Learn the A/B compatibility (``plugin_core.engine.compatibility``) from the training pairs' descriptors.

Counts, over every aligned segment of the training songs, how A's pitch classes meet B's (by
interval) and how their onsets meet, against the same counts with B taken from other moments of the
same song (circular shifts of at least ``MIN_SHIFT`` segments). Add-``PSEUDO_COUNT`` smoothing keeps
an interval or onset pairing that was rarely seen near zero instead of at an extreme.
"""

from __future__ import annotations

import numpy as np

from export.data.features import PairFeatures
from plugin_core.engine.compatibility import Compatibility
from plugin_core.perception.descriptors import RHYTHM_BINS

SHIFTS_PER_SONG = 8
MIN_SHIFT = 3
PSEUDO_COUNT = 2.0  # in segments' worth of mass


def interval_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(12,): mass of B's class lying d semitones above A's, summed over aligned rows of (n, 12) profiles."""
    joint = a.T.astype(np.float64) @ b.astype(np.float64)  # [i, j]
    index = (np.arange(12)[None, :] + np.arange(12)[:, None]) % 12  # j = i + d
    return np.array([joint[np.arange(12), index[:, d]].sum() for d in range(12)])


def log_odds(aligned: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """log(p_aligned / p_shifted) per cell, each distribution smoothed with PSEUDO_COUNT over its cells."""
    p = (aligned + PSEUDO_COUNT / aligned.size) / (aligned.sum() + PSEUDO_COUNT)
    q = (shifted + PSEUDO_COUNT / shifted.size) / (shifted.sum() + PSEUDO_COUNT)
    return np.log(p / q).astype(np.float32)


def fit_compatibility(features: list[PairFeatures], seed: int, late: int = 0) -> Compatibility:
    """The compatibility tables of the given (training) pairs; seeded choice of the shifts. ``late``
    pairs B at segment t with A at t - late (training uses 0: the grain engine scores a grain against
    A's segment heard with it, an anticipating bundle's late look included)."""
    rng = np.random.default_rng(seed)
    intervals = np.zeros((2, 12))  # aligned, shifted
    onsets = np.zeros((2, RHYTHM_BINS, RHYTHM_BINS))
    for pair in features:
        n = pair.guide_pitch_classes.shape[0] - late
        a_pitch, a_onsets = pair.guide_pitch_classes[:n], pair.guide_onsets[:n]
        b_pitch_aligned, b_onsets_aligned = pair.response_pitch_classes[late:], pair.response_onsets[late:]
        intervals[0] += interval_counts(a_pitch, b_pitch_aligned)
        onsets[0] += a_onsets.T.astype(np.float64) @ b_onsets_aligned
        if n < 2 * MIN_SHIFT + 1:
            continue
        shifts = rng.integers(MIN_SHIFT, n - MIN_SHIFT + 1, SHIFTS_PER_SONG)
        for shift in shifts:
            b_pitch = np.roll(b_pitch_aligned, int(shift), axis=0)
            b_onsets = np.roll(b_onsets_aligned, int(shift), axis=0)
            intervals[1] += interval_counts(a_pitch, b_pitch) / SHIFTS_PER_SONG
            onsets[1] += a_onsets.T.astype(np.float64) @ b_onsets / SHIFTS_PER_SONG
    return Compatibility(intervals=log_odds(intervals[0], intervals[1]), onsets=log_odds(onsets[0], onsets[1]))

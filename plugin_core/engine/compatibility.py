"""What the training pairs teach about which B sounds with which A, as two small tables of log odds.

For every aligned pair of segments (A's and B's, at the same moment of a training song), countertrack
counts how A's pitch classes meet B's (by the interval between them, so the table holds in every
key) and how A's onsets inside the segment meet B's; it counts the same for B taken from another
moment of the same song (same key and style, wrong time). The log of the ratio says how much more
often an interval or an onset pairing occurs when the two really sound together: positive for what
the pair does (consonances for a bass under a melody; kick and bass together for drums and bass),
negative for what it avoids. A melody-to-bass corpus thus learns harmony, a drums-to-bass corpus
rhythm, and nothing is written by hand.

Stored in a bundle as ``compatibility.npz`` (plain float arrays, read without pickle). The grain
engine scores each candidate grain against A's segment with ``score``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.validation import read_npz
from plugin_core.perception.descriptors import RHYTHM_BINS, SegmentDescriptor


@dataclass(frozen=True)
class Compatibility:
    """``intervals[d]``: log odds of B's pitch class lying d semitones above A's; ``onsets[k, l]``:
    log odds of an A onset in part k of the segment meeting a B onset in part l."""

    intervals: np.ndarray  # float32 (12,)
    onsets: np.ndarray  # float32 (RHYTHM_BINS, RHYTHM_BINS)

    def __post_init__(self) -> None:
        if self.intervals.shape != (12,) or self.onsets.shape != (RHYTHM_BINS, RHYTHM_BINS):
            raise BundleError(
                f"compatibility tables have shapes {self.intervals.shape} and {self.onsets.shape}, "
                f"expected (12,) and ({RHYTHM_BINS}, {RHYTHM_BINS})"
            )
        if not (np.isfinite(self.intervals).all() and np.isfinite(self.onsets).all()):
            raise BundleError("compatibility tables hold a value that is not a finite number")
        if np.abs(self.intervals).max(initial=0.0) > 50 or np.abs(self.onsets).max(initial=0.0) > 50:
            raise BundleError("compatibility tables hold log odds beyond +-50")

    @classmethod
    def neutral(cls) -> Compatibility:
        return cls(np.zeros(12, np.float32), np.zeros((RHYTHM_BINS, RHYTHM_BINS), np.float32))

    def interval_matrix(self) -> np.ndarray:
        """(12, 12): entry [i, j] is the weight of A's class i meeting B's class j."""
        index = (np.arange(12)[None, :] - np.arange(12)[:, None]) % 12
        return self.intervals[index]

    def score(self, a: SegmentDescriptor, b_pitch_classes: np.ndarray, b_onsets: np.ndarray) -> np.ndarray:
        """Log odds (n,) that each of n B grains (profiles (n, 12) and (n, RHYTHM_BINS)) sounds with A's segment."""
        pitch = b_pitch_classes @ (a.pitch_classes @ self.interval_matrix())
        rhythm = b_onsets @ (a.onsets @ self.onsets)
        return (pitch + rhythm).astype(np.float64)

    def save(self, path: str | os.PathLike[str]) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, intervals=self.intervals.astype(np.float32), onsets=self.onsets.astype(np.float32))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Compatibility:
        path = Path(path)
        arrays = read_npz(path, ("intervals", "onsets"), "a readable compatibility table", BundleError)
        try:
            return cls(arrays["intervals"], arrays["onsets"])
        except CountertrackError as exc:
            raise BundleError(exc.problem, path) from exc

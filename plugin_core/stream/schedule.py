"""When the sidechain can label each segment and decide each slot, and the latency that follows.

Segment j of A can be labelled once its end is known for good and its analysis window is in:
``stop_j`` (plus, in a stream, a margin after which no later audio can move that boundary) and
``start_j + window``. Slot i can be decided once segments up to ``i + lead`` are labelled, and its
earliest output sample is a crossfade before its start (seams end where slots start). The latency is the largest distance,
over the grid, between a slot's start and the moment it is decided, plus that crossfade: the
output asked for is then always decided. Offline the grid is known (its last slots are decided when
A ends); in a stream it is the strategy's own grid (uniform, or beats at a BPM) over a horizon.

An anticipating decision (lead -1) needs segments up to ``i - 1`` only: slot i is decided when A
reaches its start, before anything of segment i is heard (a track that ends there still gets the
slot's lead-in, faded out with B's end: the answer was committed to, as a player's would be), so
the latency is the seam alone. Its stream lays the grid ahead of A with no end-of-track merge, so
no boundary needs a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugin_core.errors import ConfigurationError
from plugin_core.perception.segmentation import SegmentationConfig, make_grid

ANTICIPATING_LEAD = -1  # slot i is decided from segments up to i - 1
HORIZON_SEGMENTS = 8  # slots over which a stream's steady latency is measured, beyond the window and lead


@dataclass(frozen=True)
class Schedule:
    """The numbers the sidechain runs by, all in samples at the stream's rate."""

    latency_samples: int
    longest_segment: int  # the longest segment of the grid (one more of it is the worker thread's delay)
    margin: int  # a stream's boundary is final once this many samples follow it (0 offline)

    @classmethod
    def plan(
        cls,
        boundaries: np.ndarray | None,
        segmentation: SegmentationConfig,
        sample_rate: int,
        *,
        lead: int,
        window_samples: int | None,
        crossfade_samples: int,
    ) -> Schedule:
        """The schedule for a known grid (offline) or for the strategy's grid in a stream."""
        if lead < 1 and lead != ANTICIPATING_LEAD:
            raise ConfigurationError(f"decision lead {lead} must be at least 1 segment, or {ANTICIPATING_LEAD} (anticipating)")
        seam = crossfade_samples  # the seam before a slot's start
        if boundaries is not None:
            grid = np.asarray(boundaries, dtype=np.int64)
            longest = int(np.diff(grid).max())
            ready = _decision_times(grid, lead, window_samples, margin=0, end=int(grid[-1]))
            return cls(latency_samples=int(np.max(ready - grid[:-1])) + seam, longest_segment=longest, margin=0)
        if segmentation.strategy == "uniform":
            period = max(1, int(round(segmentation.hop_s * sample_rate)))
        elif segmentation.strategy == "beats" and segmentation.bpm is not None and not segmentation.tempo_map:
            period = max(1, int(round(60.0 / segmentation.bpm / segmentation.subdivision * sample_rate)))
        else:
            raise ConfigurationError(f"a stream needs a grid known ahead (uniform, or beats at a given bpm), not {segmentation.strategy}")
        window_segments = 0 if window_samples is None else -(-window_samples // period)
        count = lead + window_segments + HORIZON_SEGMENTS
        before_first_beat = int(round(max(0.0, segmentation.offset_s or 0.0) * sample_rate))  # a segment of its own, maybe the longest
        horizon = make_grid(before_first_beat + (count + 2) * period, sample_rate, segmentation)[: count + 1]
        longest = int(np.diff(horizon).max())
        # the end-of-track merge never moves a boundary this far from the end; an anticipating stream has no merge
        margin = 0 if lead == ANTICIPATING_LEAD else longest // 2 + 1
        steady = len(horizon) - 1 - lead - window_segments  # slots whose whole schedule lies inside the horizon
        ready = _decision_times(horizon, lead, window_samples, margin=margin, end=None)[: max(1, steady)]
        return cls(latency_samples=int(np.max(ready - horizon[: ready.size])) + seam, longest_segment=longest, margin=margin)


def _decision_times(grid: np.ndarray, lead: int, window_samples: int | None, *, margin: int, end: int | None) -> np.ndarray:
    """The received count at which each slot of ``grid`` is decided. With a known ``end``, a slot
    that needs A past it is decided when A ends, one sample after the last one received."""
    starts, stops = grid[:-1], grid[1:]
    labelled = stops + margin
    if window_samples is not None:
        labelled = np.maximum(labelled, starts + window_samples)
    if end is not None:
        labelled = np.where(labelled > end, end + 1, labelled)
    labelled = np.maximum.accumulate(labelled)  # segments are labelled in order
    count = starts.size
    needed = np.minimum(np.arange(count) + lead, count - 1)
    ready = np.where(needed >= 0, labelled[np.maximum(needed, 0)], 0)  # an anticipated first slot needs no A
    if lead == ANTICIPATING_LEAD:  # ... but waits for A to reach the slot's start
        ready = np.maximum(ready, starts)
    if end is not None:
        ready = np.where(np.arange(count) + lead >= count, end + 1, ready)
    return ready

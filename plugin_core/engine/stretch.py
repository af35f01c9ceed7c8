"""Time-stretching a grain to a longer slot without changing its pitch: WSOLA (waveform-similarity
overlap-add), stated exactly enough that a native port lays the same samples (docs/bundle-format.md,
"Stretching").

Output frames of ``2 * hop`` samples (a smoothstep window: no sine or cosine, so every
implementation computes the same weights) are centred every ``hop`` output samples;
frame k reads the source around ``round(k * hop * ratio)``, moved by up to ``tolerance`` samples to
where it best continues the previous frame's waveform. The search scores offsets by correlation on
a 16-bit copy of the mono guide, in integers (exact in float64 whatever the summation order), so
every implementation picks the same offsets; the window and the two-term overlap-add are then
plain float64 arithmetic. A monophonic bass, which is what a memory mostly holds, keeps its pitch and
its waveform, with none of a phase vocoder's smear.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HOP_S = 0.02  # output samples between frame centres (frames are twice this)
TOLERANCE_S = 0.0125  # how far a frame may move to match: half the period of a 40 Hz note
GUIDE_SCALE = 32767.0  # the guide's 16-bit integers: exact correlations in float64


@dataclass(frozen=True)
class StretchGrid:
    """The sizes at one sample rate: the search step, the hop and the tolerance (multiples of the step)."""

    step: int
    hop: int
    tolerance: int

    @classmethod
    def at(cls, sample_rate: int) -> StretchGrid:
        step = max(1, sample_rate // 11025)
        return cls(step, step * max(1, round(HOP_S * sample_rate / step)), step * round(TOLERANCE_S * sample_rate / step))


def frame_count(length: int, hop: int) -> int:
    """Frames centred at 0, hop, ..., K * hop: enough that every output sample sits under two."""
    return math.ceil(length / hop) + 1


def stretch(read: Callable[[int, int], np.ndarray], start: int, ratio: float, length: int, sample_rate: int) -> np.ndarray:
    """``length`` output samples of the source from ``start`` played ``1 / ratio`` times slower (ratio
    = source samples per output sample, < 1 to lengthen). ``read(a, b)`` gives source samples
    ``a`` .. ``b`` as (channels, b - a) float32, silence outside the source."""
    grid = StretchGrid.at(sample_rate)
    hop, tolerance = grid.hop, grid.tolerance
    frames = frame_count(length, hop)
    nominal = [int(round(k * hop * ratio)) for k in range(frames)]
    lo = -hop - tolerance - grid.step
    hi = nominal[-1] + hop + tolerance + 2 * hop + grid.step
    source = read(start + lo, start + hi).astype(np.float64)  # source position p is column p - lo
    guide = np.rint(np.clip(source.mean(axis=0), -1.0, 1.0) * GUIDE_SCALE)
    centres = [nominal[0]]
    for k in range(1, frames):
        centres.append(nominal[k] + _best_offset(guide, centres[-1] - lo, nominal[k] - lo, grid))
    rising, falling = crossfade_weights(hop)
    out = np.empty((source.shape[0], frames * hop), dtype=np.float64)
    for k in range(frames - 1):  # output k*hop .. (k+1)*hop: the falling half of frame k, then the rising half of k+1
        here, following = centres[k] - lo, centres[k + 1] - lo
        out[:, k * hop : (k + 1) * hop] = falling * source[:, here : here + hop] + rising * source[:, following - hop : following]
    return out[:, :length].astype(np.float32)


def crossfade_weights(hop: int) -> tuple[np.ndarray, np.ndarray]:
    """The window's halves: rising ``r * r * (3 - 2 r)`` at ``r = (i + 0.5) / hop``, falling ``1 -`` that,
    so the two frames under any output sample weigh 1 between them."""
    r = (np.arange(hop, dtype=np.float64) + 0.5) / hop
    rising = r * r * (3.0 - 2.0 * r)
    return rising, 1.0 - rising


def _best_offset(guide: np.ndarray, previous: int, nominal: int, grid: StretchGrid) -> int:
    """The offset from ``nominal`` (a column of ``guide``) whose frame best continues the frame centred
    at ``previous``: on a coarse grid of ``step``, then every sample around the coarse best; the first
    (most negative) offset among equals."""
    hop, tolerance, step = grid.hop, grid.tolerance, grid.step
    wanted = guide[previous : previous + 2 * hop]  # the previous frame's natural continuation
    first = nominal - tolerance - hop  # frame start at offset -tolerance
    coarse = np.correlate(guide[first : first + 2 * tolerance + 2 * hop : step], wanted[::step])
    best = -tolerance + step * int(np.argmax(coarse))
    lo, hi = max(-tolerance, best - step + 1), min(tolerance, best + step - 1)
    fine = np.correlate(guide[nominal + lo - hop : nominal + hi + hop], wanted)
    return lo + int(np.argmax(fine))

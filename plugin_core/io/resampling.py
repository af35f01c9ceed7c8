"""Sample-rate conversion that a native port can reproduce bit for bit (docs/bundle-format.md,
"Resampling"): a windowed-sinc filter on the exact rational grid of the two rates, summed in a
stated order, with no latency and no state but the input itself.

Output sample k sits at input time ``k * down / up`` (``up / down`` = the rates' ratio in lowest
terms) and is the float64 sum, taps in ascending order, of the input samples around it (zeros
outside the input) weighted by one of ``up`` phases of the kernel. Because every output sample
depends only on the input, any range of outputs can be computed on its own: a whole file, a
segment, or a long memory in chunks give identical samples.

A kernel's phases are computed once, as one table, when it is small (the usual rates: 44.1 -> 16
kHz has 160 phases of 72 taps). Rates whose ratio has a large ``up`` (44100 -> 44101 Hz: 44101
phases) would make the table tens of megabytes: each stretch of outputs then computes the phases
it uses, the same weights column by column, and the last few stretches are kept for the next call
(segments resampled one by one use the same phases).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from plugin_core.errors import ConfigurationError

ZERO_CROSSINGS = 12  # of the sinc on each side of the output sample, at the lower of the two rates
ROLL_OFF = 0.92  # the passband's edge as a share of the lower rate's Nyquist frequency
CHUNK = 1 << 15  # output samples computed at once, to bound the temporary arrays
TABLE_WEIGHTS = 1 << 17  # a kernel of at most this many weights (2 * reach * up: 1 MB) is computed whole, once
WEIGHTS_AT_ONCE = 1 << 17  # larger ones: the phases of this many weights' worth of outputs at a time


@dataclass(frozen=True)
class Kernel:
    """The filter for one pair of rates: ``table[j, phase]`` weights input ``floor(t) - reach + 1 + j``
    for an output at input time t whose fractional part is ``phase / up``."""

    up: int
    down: int
    reach: int
    cutoff: float  # cycles per input sample, times two
    table: np.ndarray | None  # (2 * reach, up) float64, each phase's column summing to 1; None above TABLE_WEIGHTS


def checked_rates(from_hz: int, to_hz: int) -> tuple[int, int]:
    """The two rates as ints, or a ConfigurationError when either is not a positive whole number."""
    whole = all(isinstance(rate, numbers.Integral) and not isinstance(rate, bool) and rate > 0 for rate in (from_hz, to_hz))
    if not whole:
        raise ConfigurationError(f"cannot resample from {from_hz} Hz to {to_hz} Hz: rates are positive whole numbers")
    return int(from_hz), int(to_hz)


def kernel(from_hz: int, to_hz: int) -> Kernel:
    """The Blackman-windowed sinc for ``from_hz`` -> ``to_hz``, one column per phase, normalised to unit DC gain."""
    return _kernel(*checked_rates(from_hz, to_hz))


@lru_cache(maxsize=32)
def _kernel(from_hz: int, to_hz: int) -> Kernel:
    common = math.gcd(from_hz, to_hz)
    up, down = to_hz // common, from_hz // common
    cutoff, reach = _shape(up, down)
    table = phase_weights(up, reach, cutoff, np.arange(up)) if 2 * reach * up <= TABLE_WEIGHTS else None
    return Kernel(up, down, reach, cutoff, table)


def _shape(up: int, down: int) -> tuple[float, int]:
    """The filter's cutoff (cycles per input sample, times two) and reach (taps each side)."""
    cutoff = ROLL_OFF * min(1.0, up / down)
    return cutoff, math.ceil(ZERO_CROSSINGS / cutoff)


def phase_weights(up: int, reach: int, cutoff: float, phases: np.ndarray) -> np.ndarray:
    """The kernel's columns for ``phases`` (ints in 0 .. up - 1): (2 * reach, len(phases)) float64, read-only.
    Each column depends on its phase alone: any set of phases gives the table's columns to the bit."""
    offsets = np.arange(-reach + 1, reach + 1, dtype=np.float64)[:, None] - np.asarray(phases, dtype=np.float64)[None, :] / up
    u = offsets / (reach)  # -1..1 over the window's span
    window = 0.42 + 0.5 * np.cos(np.pi * u) + 0.08 * np.cos(2 * np.pi * u)
    table = cutoff * np.sinc(cutoff * offsets) * window
    total = np.zeros(table.shape[1])
    for row in table:  # in tap order, as the document states (numpy's sum would pair them up)
        total += row
    table /= total
    table.flags.writeable = False
    return table


@lru_cache(maxsize=16)  # at most 16 x WEIGHTS_AT_ONCE weights (16 MB)
def _weights_of_outputs(up: int, down: int, first: int, count: int) -> np.ndarray:
    """The weights of outputs ``first`` .. ``first + count - 1`` (``first`` below ``up``, ``count`` at most
    ``up``: distinct phases), one column per output, for a kernel without a table."""
    cutoff, reach = _shape(up, down)
    k = np.arange(first, first + count, dtype=np.int64)
    return phase_weights(up, reach, cutoff, k * down % up)


def output_length(frames: int, from_hz: int, to_hz: int) -> int:
    """How many samples ``frames`` input samples become: rounded to nearest, ties to even."""
    return int(round(frames * to_hz / from_hz))


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """(channels, n) float32 at ``from_hz`` as (channels, output_length(n)) float32 at ``to_hz``, time-aligned."""
    from_hz, to_hz = checked_rates(from_hz, to_hz)
    if from_hz == to_hz:
        return samples
    channels, frames = samples.shape
    pieces = list(resampled_chunks(lambda start, stop: _window(samples, start, stop), frames, from_hz, to_hz, channels))
    return np.concatenate(pieces, axis=1) if pieces else np.zeros((channels, 0), dtype=np.float32)


def resampled_chunks(
    read: Callable[[int, int], np.ndarray], frames: int, from_hz: int, to_hz: int, channels: int, chunk: int = CHUNK
) -> Iterator[np.ndarray]:
    """The resampled signal in (channels, <= chunk) pieces, reading the input through ``read(start,
    stop)`` ((channels, stop - start), zeros outside 0..frames): a long memory never held whole twice."""
    spec = kernel(from_hz, to_hz)
    total = output_length(frames, from_hz, to_hz)
    for first in range(0, total, chunk):
        last = min(total, first + chunk)
        lo = (first * spec.down) // spec.up - spec.reach + 1
        hi = ((last - 1) * spec.down) // spec.up + spec.reach + 1
        source = read(lo, hi).astype(np.float64)
        yield _outputs(source, lo, spec, first, last, channels)


def _outputs(source: np.ndarray, origin: int, spec: Kernel, first: int, last: int, channels: int) -> np.ndarray:
    """Outputs ``first`` .. ``last`` from ``source`` (input samples from ``origin`` on)."""
    k = np.arange(first, last, dtype=np.int64)
    scaled = k * spec.down
    floor = scaled // spec.up
    phase = scaled - floor * spec.up
    start = floor - spec.reach + 1 - origin  # column of tap 0 in source
    total = np.zeros((channels, k.size), dtype=np.float64)
    taps = 2 * spec.reach
    if spec.table is None:  # the weights of each stretch of outputs, in output order (no gather by phase)
        step = max(1, min(spec.up, WEIGHTS_AT_ONCE // taps))
        for at in range(0, k.size, step):
            weights = _weights_of_outputs(spec.up, spec.down, (first + at) % spec.up, min(step, k.size - at))
            part, starts = total[:, at : at + step], start[at : at + step]
            for j in range(taps):
                part += weights[j] * source[:, j:][:, starts]
    elif spec.up == 1:  # one phase, and tap j of successive outputs is every down-th input: a strided view
        product = np.empty_like(total)
        first_tap, span = int(start[0]), spec.down * (k.size - 1) + 1
        for j, weight in enumerate(spec.table[:, 0]):
            np.multiply(source[:, first_tap + j : first_tap + j + span : spec.down], weight, out=product)
            total += product
    else:
        for j in range(taps):
            total += spec.table[j][phase] * source[:, j:][:, start]
    return total.astype(np.float32)


def _window(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """samples[:, start:stop] with zeros where that runs outside the array."""
    out = np.zeros((samples.shape[0], stop - start), dtype=samples.dtype)
    lo, hi = max(start, 0), min(stop, samples.shape[1])
    if hi > lo:
        out[:, lo - start : hi - start] = samples[:, lo:hi]
    return out

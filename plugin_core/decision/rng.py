"""A small portable random generator (SplitMix64), so a native host reproduces every draw.

NumPy's PCG64 with SeedSequence seeding would have to be re-implemented bit for bit by a C++ port;
SplitMix64 is ten lines in any language (Steele, Lea & Flood 2014; the seeder of xoshiro): a 64-bit
state that starts at the seed and advances by 0x9E3779B97F4A7C15 per draw, mixed into the output.
``uniform()`` takes the top 53 bits of an output as a float in [0, 1). All arithmetic is modulo 2^64.
"""

from __future__ import annotations

import numpy as np

MASK = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


class PortableRandom:
    """Seeded SplitMix64; the only randomness of a render (grain and token draws)."""

    def __init__(self, seed: int):
        self.state = int(seed) & MASK
        self.last = 0.0  # the latest uniform (``pick`` draws one inside: its caller may record it)

    def next_u64(self) -> int:
        self.state = (self.state + GOLDEN_GAMMA) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1): the output's top 53 bits times 2^-53."""
        self.last = (self.next_u64() >> 11) * (1.0 / (1 << 53))
        return self.last

    def pick(self, weights: np.ndarray) -> int:
        """Index ``i`` with probability ``weights[i] / sum(weights)``: one ``uniform()`` u, then the
        first index whose cumulative weight (float64, in order) exceeds u times the total."""
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        target = self.uniform() * cumulative[-1]
        return min(int(np.searchsorted(cumulative, target, side="right")), cumulative.size - 1)

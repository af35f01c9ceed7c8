"""A fixed delay line for block processing: the chain's dry path, A delayed by the chain's latency.

A ring buffer, so each block costs work in proportion to the block, not to the delay: a live audio
callback must not copy (or allocate) seconds of audio for every few milliseconds it plays.
"""

from __future__ import annotations

import numpy as np


class DelayLine:
    """``process(block)`` returns the input delayed by ``delay`` samples (silence before the first input)."""

    def __init__(self, channels: int, delay: int):
        if delay < 0:
            raise ValueError("a delay cannot be negative")
        self.channels, self.delay = channels, int(delay)
        self._ring = np.zeros((channels, self.delay), dtype=np.float32)
        self._position = 0  # the oldest sample of the ring: the next one out

    def reset(self) -> None:
        """Silence again, as when made."""
        self._ring.fill(0.0)
        self._position = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """A (channels, n) float32 block in, the (channels, n) block from ``delay`` samples earlier out."""
        n, delay = block.shape[1], self.delay
        out = np.empty((self.channels, n), dtype=np.float32)
        if delay == 0:
            out[:] = block
            return out
        if n >= delay:  # the whole ring comes out, then the head of this block; its tail stays
            first = delay - self._position
            out[:, :first] = self._ring[:, self._position :]
            out[:, first:delay] = self._ring[:, : self._position]
            out[:, delay:] = block[:, : n - delay]
            self._ring[:] = block[:, n - delay :]
            self._position = 0
            return out
        first = min(n, delay - self._position)  # up to the end of the ring, then around
        end = self._position + first
        out[:, :first] = self._ring[:, self._position : end]
        self._ring[:, self._position : end] = block[:, :first]
        rest = n - first
        if rest:
            out[:, first:] = self._ring[:, :rest]
            self._ring[:, :rest] = block[:, first:]
        self._position = (self._position + n) % delay
        return out

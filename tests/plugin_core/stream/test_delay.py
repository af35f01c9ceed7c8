"""The chain's dry delay line: a ring buffer that equals plain concatenation for any block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.stream.delay import DelayLine


@pytest.mark.parametrize("delay", [0, 1, 7, 256, 1000])
def test_delay_line_equals_shifting_the_whole_signal_whatever_the_blocks(delay):
    rng = np.random.default_rng(delay)
    signal = rng.standard_normal((2, 5000)).astype(np.float32)
    line = DelayLine(2, delay)
    cuts = np.sort(rng.choice(np.arange(1, signal.shape[1]), size=40, replace=False))
    out = np.concatenate([line.process(piece) for piece in np.split(signal, cuts, axis=1)], axis=1)
    expected = np.concatenate([np.zeros((2, delay), dtype=np.float32), signal], axis=1)[:, : signal.shape[1]]
    assert np.array_equal(out, expected)
    line.reset()
    assert np.array_equal(line.process(signal[:, : delay + 3]), expected[:, : delay + 3])


def test_delay_line_refuses_a_negative_delay():
    with pytest.raises(ValueError):
        DelayLine(1, -1)

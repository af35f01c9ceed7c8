"""The learning-rate schedule scales with the steps a run has: a small corpus is not all warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from export.train.config import TrainConfig
from export.train.run import _lr_factor, warmup_steps


@pytest.mark.parametrize("total", [3, 10, 30, 120, 999])
def test_on_a_small_run_the_warm_up_is_at_most_a_tenth_of_the_steps(total):
    warmup = warmup_steps(TrainConfig(corpus="c").warmup_steps, total)  # the default asks for 100 steps
    assert 1 <= warmup <= max(1, total // 10)
    factors = np.array([_lr_factor(step, warmup, total) for step in range(total)])
    assert factors.argmax() == warmup - 1 and factors.max() == 1.0  # the full rate is reached after the warm-up
    assert factors[warmup - 1 :].min() >= 0.05 and np.all(np.diff(factors[warmup - 1 :]) <= 1e-12)  # then it only falls


def test_a_long_run_warms_up_for_the_steps_asked():
    assert warmup_steps(100, 5000) == 100

"""The chain's mix: wet * B + dry * A (A delayed by the latency, so aligned in the offline call)."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.presets import MixLevels, mix_levels, parse_preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("chain")))


def test_half_wet_with_dry_a_is_half_the_answer_plus_a(bundle):
    a = tone_melody(4.0, 120.0, seed=3).astype(np.float32)
    b_alone = AnswerChain(bundle, RATE, 1, seed=5)
    b_alone.set_parameters(wet=1.0, dry=0.0)
    b = b_alone(a, RATE)
    chain = AnswerChain(bundle, RATE, 1, seed=5)
    chain.set_parameters(wet=0.5, dry=1)
    mixed = chain(a, RATE)
    assert np.abs(b).max() > 0.01
    np.testing.assert_allclose(mixed, 0.5 * b + a, atol=1e-6)


def test_parameters_win_over_the_preset_over_the_defaults():
    preset = parse_preset({"name": "p", "wet": 0.7, "dry": 0.2})
    assert mix_levels() == MixLevels(1.0, 0.0)
    assert mix_levels(preset) == MixLevels(0.7, 0.2)
    assert mix_levels(preset, {"wet": 0.5, "temperature": 2.0}) == MixLevels(0.5, 0.2)

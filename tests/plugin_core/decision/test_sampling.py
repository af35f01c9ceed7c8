"""Sampling: top-k, top-p, temperature and greedy choose only among the allowed tokens; bad settings are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin_core.bundle.load import load_bundle
from plugin_core.decision.rng import PortableRandom
from plugin_core.decision.sampling import SamplingConfig, allowed_mask, choose
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.stream.chain import AnswerChain
from tests.bundles import RATE, make_synthetic_bundle


@settings(max_examples=200, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=16, max_size=16),
    allowed=st.sets(st.integers(0, 15), min_size=1, max_size=16),
    top_p=st.floats(0.05, 1.0),
    top_k=st.integers(0, 16),
    temperature=st.floats(0.05, 5.0),
    greedy=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_constrained_choice_never_leaves_the_allowed_set(logits, allowed, top_p, top_k, temperature, greedy, seed):
    config = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    token = choose(np.array(logits), config, PortableRandom(seed), allowed_mask(16, sorted(allowed)))
    assert token in allowed


def test_top_k_and_top_p_restrict_the_candidates():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = PortableRandom(0)
    assert {choose(logits, SamplingConfig(top_k=2, top_p=1.0), rng) for _ in range(300)} == {0, 1}
    assert {choose(logits, SamplingConfig(top_p=0.7), rng) for _ in range(300)} == {0, 1}
    assert {choose(logits, SamplingConfig(top_p=0.5), rng) for _ in range(50)} == {0}
    assert choose(logits, SamplingConfig(greedy=True), rng) == 0


def test_bad_sampling_settings_are_refused():
    for bad in (dict(temperature=0), dict(top_p=0), dict(top_p=1.5), dict(top_k=-1)):
        with pytest.raises(CountertrackError):
            SamplingConfig(**bad)


@pytest.mark.parametrize(
    "changes",
    [{"temperature": 50}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": -1}, {"greedy": "yes"}, {"greedy": 1}, {"temperature": "hot"}],
)
def test_a_bad_setting_is_a_configuration_error(changes):
    with pytest.raises(ConfigurationError):
        SamplingConfig(**changes)


def test_set_parameters_refuses_a_bad_setting_and_keeps_the_old(tmp_path):
    chain = AnswerChain(load_bundle(make_synthetic_bundle(tmp_path)), RATE, 1)
    with pytest.raises(ConfigurationError, match="temperature 50"):
        chain.set_parameters(temperature=50)
    with pytest.raises(ConfigurationError, match="greedy"):
        chain.set_parameters(greedy="yes")
    chain.set_parameters(greedy=True, temperature=2.0)

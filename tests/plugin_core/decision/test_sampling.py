"""Sampling settings: out of range or of the wrong type is a ConfigurationError, wherever it is set."""

from __future__ import annotations

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.errors import ConfigurationError
from plugin_core.stream.chain import AnswerChain
from tests.bundles import RATE, make_synthetic_bundle


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

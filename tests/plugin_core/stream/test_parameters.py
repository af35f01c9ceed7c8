"""Stream parameters: one flat name table for the decision's sampling and the grain engine's settings."""

from __future__ import annotations

import pytest

from plugin_core.decision.sampling import SamplingConfig
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import ConfigurationError
from plugin_core.stream.parameters import ENGINE_NAMES, MIX_NAMES, SAMPLING_NAMES, Parameters


def test_flat_names_reach_the_sampling_or_the_engine_and_leave_the_rest_as_it_was():
    before = Parameters(sampling=SamplingConfig(top_p=0.8), engine=EngineConfig(max_run=4))
    after = before.changed(temperature=1.4, harmony=3.0)
    assert after.sampling == SamplingConfig(top_p=0.8, temperature=1.4)
    assert after.engine == EngineConfig(max_run=4, harmony=3.0)
    assert before.sampling.temperature == SamplingConfig().temperature  # a copy: the original is unchanged


def test_a_whole_config_is_taken_as_it_is_and_flat_names_apply_on_top():
    before = Parameters(sampling=SamplingConfig(), engine=EngineConfig())
    after = before.changed(sampling=SamplingConfig(greedy=True), top_k=3)
    assert after.sampling == SamplingConfig(greedy=True, top_k=3)
    assert after.engine == before.engine


def test_an_unknown_name_is_one_line_listing_the_known_ones():
    with pytest.raises(ConfigurationError, match="unknown parameter\\(s\\) loudness, wet") as caught:
        Parameters(sampling=SamplingConfig(), engine=EngineConfig()).changed(wet=0.5, loudness=1.0)
    assert "\n" not in str(caught.value) and "temperature" in str(caught.value) and "harmony" in str(caught.value)


def test_a_value_out_of_range_is_refused_by_the_config_it_belongs_to():
    with pytest.raises(ConfigurationError):
        Parameters(sampling=SamplingConfig(), engine=EngineConfig()).changed(harmony=500.0)


def test_the_name_tables_do_not_overlap():
    assert not set(SAMPLING_NAMES) & set(ENGINE_NAMES)
    assert not set(MIX_NAMES) & (set(SAMPLING_NAMES) | set(ENGINE_NAMES))
    assert {"temperature", "top_p", "top_k", "greedy"} <= set(SAMPLING_NAMES) and "crossfade_s" in ENGINE_NAMES

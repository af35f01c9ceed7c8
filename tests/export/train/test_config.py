"""Training settings: strict reading, and runs recorded before a setting existed read it as off."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from export.train.config import TrainConfig
from plugin_core.errors import CountertrackError


def test_a_run_recorded_before_scheduled_sampling_reads_it_as_off():
    recorded = TrainConfig(corpus="c").__dict__ | {}
    del recorded["scheduled_sampling"]
    assert TrainConfig.from_dict(recorded, 2, "run/config.json").scheduled_sampling == 0.0


@pytest.mark.parametrize("value", [-0.1, 1.5, "sometimes", float("nan")])
def test_history_dropout_is_a_share_or_auto(value):
    with pytest.raises(CountertrackError):
        TrainConfig(corpus="c", history_dropout=value)


def test_a_run_recorded_before_the_choice_reads_as_sounds_tokens():
    recorded = {k: v for k, v in asdict(TrainConfig(corpus="c")).items() if k != "response_features"}
    assert TrainConfig.from_dict(recorded, 2, "config.json").response_features == "sound"
    assert TrainConfig.from_dict({**recorded, "response_features": "auto"}, 2, "config.json").response_features == "auto"

"""The decision model's one description: strict reading, the manifest's older form, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plugin_core.decision.config import ANTICIPATE, DecisionConfig
from plugin_core.errors import BundleError, ConfigurationError, CountertrackError
from tests.paths import ROOT


def test_a_description_reads_back_as_written():
    config = DecisionConfig(vocab_size=64, d_model=96, heads=3, layers=2, ffn=128, dropout=0.0, context=16, lookahead=ANTICIPATE)
    written = config.to_dict()
    assert written["head_dim"] == 32
    assert DecisionConfig.from_dict(written) == config


def test_a_manifest_of_the_older_form_gives_d_model_from_head_dim():
    older = {"vocab_size": 16, "layers": 3, "heads": 4, "head_dim": 32, "context": 32, "lookahead": 2}
    config = DecisionConfig.from_dict(older, "manifest.json", BundleError)
    assert (config.d_model, config.head_dim, config.heads) == (128, 32, 4)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"window": 64}, "unknown setting(s) window"),
        ({"context": None}, "missing context"),
        ({"head_dim": 16}, "head_dim 16 is not d_model 128 / 4 heads"),
        ({"layers": True}, "layers must be a number"),
        ({"layers": "3"}, "layers must be a number"),
        ({"dropout": "0.1"}, "dropout must be a number"),
        ({"lookahead": 40}, "lookahead 40 must be in -1..31"),
        ({"heads": 5}, "not divisible by 5 heads"),
    ],
)
def test_a_wrong_description_is_one_error_naming_the_file(change, problem):
    data = {**DecisionConfig().to_dict(), **change}
    data = {key: value for key, value in data.items() if value is not None}
    with pytest.raises(BundleError) as caught:
        DecisionConfig.from_dict(data, "bundle/manifest.json", BundleError)
    assert str(caught.value).startswith("bundle/manifest.json: ")
    assert problem in str(caught.value)


def test_not_an_object_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not an object"):
        DecisionConfig.from_dict([16, 128])


def test_the_descriptions_the_command_line_reads_need_no_torch():
    code = "import sys, plugin_core.decision.config, export.train.config, host_scripts.train_cmd; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0


def test_lookahead_must_fit_the_context():
    with pytest.raises(CountertrackError, match="lookahead"):
        DecisionConfig(vocab_size=16, context=4, lookahead=4)

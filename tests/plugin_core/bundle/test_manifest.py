"""A bundle manifest's sampling and engine defaults are read strictly: one line naming the problem."""

from __future__ import annotations

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.manifest import engine_config_from_dict
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.errors import BundleError, ConfigurationError
from tests.bundles import make_synthetic_bundle
from tests.crafted import edit_manifest


def test_an_unknown_sampling_default_is_one_line_naming_it(tmp_path):
    bundle = make_synthetic_bundle(tmp_path)
    edit_manifest(bundle, lambda m: m["sampling_defaults"].update(temprature=1.2))
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle)
    message = str(caught.value)
    assert "temprature" in message and "\n" not in message and "manifest.json" in message


def test_the_strict_readers_refuse_unknown_and_missing_settings():
    with pytest.raises(ConfigurationError, match="unknown setting.s. temprature"):
        SamplingConfig.from_dict({**SamplingConfig().to_dict(), "temprature": 1.2})
    with pytest.raises(BundleError, match="missing greedy"):
        SamplingConfig.from_dict({"temperature": 1.0, "top_k": 0, "top_p": 0.8}, "m.json", BundleError)
    with pytest.raises(BundleError, match="unknown setting.s. grain_size"):
        engine_config_from_dict(
            {
                "crossfade_s": 0.04,
                "continuity": 1.0,
                "max_run": 16,
                "avoid_recent": 8,
                "loudness_match": 1.0,
                "follow_loudness": 0.0,
                "grain_size": 3,
            }
        )
    assert (
        engine_config_from_dict(
            {"crossfade_s": 0.04, "continuity": 1.0, "max_run": 16, "avoid_recent": 8, "loudness_match": 1.0, "follow_loudness": 0.0}
        ).harmony
        == 8.0
    )
    assert SamplingConfig.from_dict(SamplingConfig(greedy=True).to_dict()) == SamplingConfig(greedy=True)

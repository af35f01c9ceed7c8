"""The bundle manifest: its published schema and its version."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.manifest import check_manifest, engine_config_from_dict, read_manifest, referenced_files, validate_manifest
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.errors import BundleError, ConfigurationError, CountertrackError
from tests.bundles import make_synthetic_bundle
from tests.crafted import edit_manifest


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    copy = tmp_path / "copy.ctbundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def test_a_newer_schema_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CountertrackError, match="newer than this countertrack reads"):
        load_bundle(bundle_copy)


def test_manifest_follows_the_published_schema(tiny_bundle):
    from plugin_core.bundle.load import validate_manifest

    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    validate_manifest(manifest, tiny_bundle)
    del manifest["decision"]["cache_layout"]
    with pytest.raises(CountertrackError, match="decision"):
        validate_manifest(manifest, tiny_bundle)


@pytest.fixture(scope="module")
def synthetic_manifest(synthetic_bundle):
    return read_manifest(synthetic_bundle)


def test_a_synthetic_bundles_manifest_is_read_checked_and_names_its_files(synthetic_bundle, synthetic_manifest):
    validate_manifest(synthetic_manifest, synthetic_bundle)
    check_manifest(synthetic_manifest, synthetic_bundle)
    named = referenced_files(synthetic_manifest, synthetic_bundle)
    assert {"perception graph", "decision graph", "guide codebook", "response codebook", "memory audio", "memory grain table"} <= set(named)
    assert set(named.values()) <= set(synthetic_manifest["files"])


def test_a_folder_without_a_manifest_or_with_another_format_is_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else", "schema_version": 1}))
    with pytest.raises(BundleError, match="not a countertrack bundle manifest"):
        read_manifest(tmp_path)


def test_memory_files_outside_the_memory_folder_or_one_file_for_two_parts_are_refused(synthetic_bundle, synthetic_manifest):
    moved = copy.deepcopy(synthetic_manifest)
    moved["memory"]["grains"] = "grains.json"
    with pytest.raises(BundleError, match="is not in the memory folder"):
        referenced_files(moved, synthetic_bundle)
    twice = copy.deepcopy(synthetic_manifest)
    twice["codebooks"]["response"] = twice["codebooks"]["guide"]
    with pytest.raises(BundleError, match="one file for two parts"):
        referenced_files(twice, synthetic_bundle)


def test_a_number_out_of_range_is_named(synthetic_bundle, synthetic_manifest):
    wrong = copy.deepcopy(synthetic_manifest)
    wrong["decision"]["spec"]["vocab_size"] = 1
    with pytest.raises(BundleError, match="decision.spec.vocab_size"):
        check_manifest(wrong, synthetic_bundle)


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

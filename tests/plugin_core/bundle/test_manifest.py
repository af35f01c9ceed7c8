"""The bundle manifest: its published schema and its version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import CountertrackError


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

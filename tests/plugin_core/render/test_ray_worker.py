"""The Ray worker's bundle payload: a missing or incomplete bundle is a BundleError."""

from __future__ import annotations

import json

import pytest

from plugin_core.errors import BundleError
from plugin_core.render.ray_worker import bundle_payload


def test_a_missing_or_incomplete_bundle_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        bundle_payload(tmp_path / "nowhere.ctbundle")
    folder = tmp_path / "partial.ctbundle"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"files": {"decision.onnx": "0" * 64}}))
    with pytest.raises(BundleError, match="not a complete bundle"):
        bundle_payload(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot read"):
        bundle_payload(folder)

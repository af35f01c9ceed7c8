"""Bundle files: every listed file is there, regular, inside the bundle and matches its sha256."""

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


def test_a_changed_byte_is_refused(bundle_copy):
    path = bundle_copy / "decision.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CountertrackError, match="decision.onnx does not match its sha256"):
        load_bundle(bundle_copy)


def test_a_missing_file_is_refused(bundle_copy):
    (bundle_copy / "memory" / "grains.json").unlink()
    with pytest.raises(CountertrackError, match="is missing memory/grains.json"):
        load_bundle(bundle_copy)


def test_a_manifest_pointing_outside_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"]["../escape.onnx"] = "0" * 64
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CountertrackError, match="points outside the bundle"):
        load_bundle(bundle_copy)

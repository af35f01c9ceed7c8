"""Bundle files: every listed file is there, regular, inside the bundle and matches its sha256."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from plugin_core.bundle.files import check_unchanged, sha256_of, verify_files
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.manifest import read_manifest, referenced_files
from plugin_core.errors import BundleError, CountertrackError


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


@pytest.fixture
def synthetic_copy(synthetic_bundle, tmp_path) -> Path:
    copy = tmp_path / "copy.ctbundle"
    shutil.copytree(synthetic_bundle, copy)
    return copy


def test_every_listed_file_is_verified_and_stamped(synthetic_copy):
    manifest = read_manifest(synthetic_copy)
    stamps = verify_files(synthetic_copy, manifest, referenced_files(manifest, synthetic_copy))
    assert set(stamps) == set(manifest["files"])
    assert all(sha256_of(synthetic_copy / name) == manifest["files"][name] for name in stamps)
    check_unchanged(synthetic_copy, stamps)
    graph = synthetic_copy / manifest["decision"]["graph"]
    graph.write_bytes(graph.read_bytes())  # the same bytes written again: another file as far as a stamp knows
    os.utime(graph, ns=(1, 1))
    with pytest.raises(BundleError, match="changed after it was verified"):
        check_unchanged(synthetic_copy, stamps)


def test_a_named_file_that_is_not_listed_or_a_file_type_bundles_may_not_hold_is_refused(synthetic_copy):
    manifest = read_manifest(synthetic_copy)
    with pytest.raises(BundleError, match="does not list it with its sha256"):
        verify_files(synthetic_copy, manifest, {"extra graph": "extra.onnx"})
    (synthetic_copy / "run.py").write_text("print('hello')")
    listed = {**manifest, "files": {**manifest["files"], "run.py": sha256_of(synthetic_copy / "run.py")}}
    with pytest.raises(BundleError, match="a file type bundles may not contain"):
        verify_files(synthetic_copy, listed)


def test_a_link_leading_out_of_the_bundle_is_refused(synthetic_copy, tmp_path):
    manifest = read_manifest(synthetic_copy)
    name = manifest["codebooks"]["guide"]
    (tmp_path / "elsewhere.npz").write_bytes((synthetic_copy / name).read_bytes())
    (synthetic_copy / name).unlink()
    (synthetic_copy / name).symlink_to(tmp_path / "elsewhere.npz")
    with pytest.raises(BundleError):
        verify_files(synthetic_copy, manifest)

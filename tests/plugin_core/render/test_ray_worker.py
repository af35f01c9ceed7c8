"""The Ray worker's bundle handling, without a cluster: a bundle read into bytes (the manifest and the
files it lists, or the zip), written once per node and loaded from there as the original."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.render.ray_worker import bundle_payload, node_copy


def test_a_folder_travels_as_its_listed_files_and_loads_on_the_node(synthetic_bundle, tmp_path):
    bundle = tmp_path / "mine.ctbundle"
    shutil.copytree(synthetic_bundle, bundle)
    (bundle / "notes.txt").write_text("not listed: never sent")
    payload = bundle_payload(bundle)
    manifest = (bundle / "manifest.json").read_bytes()
    assert not payload.zipped and payload.name == "mine.ctbundle" and "notes.txt" not in payload.files
    assert payload.key == hashlib.sha256(manifest).hexdigest() and payload.files["manifest.json"] == manifest
    assert all((bundle / name).read_bytes() == data for name, data in payload.files.items())
    copy = node_copy(payload, tmp_path / "node")
    assert copy == tmp_path / "node" / payload.key / "mine.ctbundle" and not (copy / "notes.txt").exists()
    assert load_bundle(copy).manifest == load_bundle(synthetic_bundle).manifest  # hashes verified on the node
    stamp = (copy / "manifest.json").stat().st_mtime_ns
    assert node_copy(payload, tmp_path / "node") == copy and (copy / "manifest.json").stat().st_mtime_ns == stamp  # reused
    assert [p.name for p in (tmp_path / "node").iterdir()] == [payload.key]  # no private building folder left


def test_a_zip_travels_whole(synthetic_bundle, tmp_path):
    zipped = Path(shutil.make_archive(str(tmp_path / "b.ctbundle"), "zip", synthetic_bundle))
    payload = bundle_payload(zipped)
    assert payload.zipped and list(payload.files) == ["b.ctbundle.zip"]
    assert payload.key == hashlib.sha256(zipped.read_bytes()).hexdigest()
    copy = node_copy(payload, tmp_path / "node")
    assert copy.read_bytes() == zipped.read_bytes()


def test_a_missing_or_incomplete_bundle_is_one_line(synthetic_bundle, tmp_path):
    with pytest.raises(CountertrackError, match="bundle not found"):
        bundle_payload(tmp_path / "missing.ctbundle")
    broken = tmp_path / "broken.ctbundle"
    shutil.copytree(synthetic_bundle, broken)
    (broken / "decision.onnx").unlink()
    with pytest.raises(CountertrackError, match="is not a complete bundle"):
        bundle_payload(broken)


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

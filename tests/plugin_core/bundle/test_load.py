"""Bundles: self-contained, verified before use, never writing outside themselves; exported graphs
run without torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.bundle.load import load_bundle, perception_threads, sha256_of
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import resample
from tests.paths import ROOT


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    copy = tmp_path / "copy.ctbundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def test_bundle_holds_everything_listed_with_hashes(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    files = set(manifest["files"])
    assert {
        "encoder.onnx",
        "decision.onnx",
        "codebook_guide.npz",
        "codebook_response.npz",
        "memory/memory.wav",
        "memory/grains.json",
    } <= files
    assert manifest["decision"]["spec"]["lookahead"] == 1
    assert [i["name"] for i in manifest["decision"]["inputs"]] == [
        "a_new",
        "a_aligned",
        "b_previous",
        "self_k",
        "self_v",
        "cross_k",
        "cross_v",
    ]
    assert manifest["memory"]["sample_rate"] == 44100
    assert not [p for p in tiny_bundle.rglob("*") if p.suffix in (".pkl", ".pt", ".py", ".pickle")]
    bundle = load_bundle(tiny_bundle)
    assert len(bundle.memory.grains) >= 70  # 40 s of memory at 0.5 s grains


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


def test_a_newer_schema_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CountertrackError, match="newer than this countertrack reads"):
        load_bundle(bundle_copy)


def test_a_manifest_pointing_outside_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"]["../escape.onnx"] = "0" * 64
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CountertrackError, match="points outside the bundle"):
        load_bundle(bundle_copy)


def test_zip_bundle_loads_and_a_traversing_entry_is_refused(tiny_bundle, tmp_path):
    zipped = tiny_bundle.parent / f"{tiny_bundle.name}.zip"
    assert zipped.is_file()
    bundle = load_bundle(zipped, extract_to=tmp_path / "unzipped")
    assert bundle.folder.is_relative_to(tmp_path / "unzipped")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("bundle/manifest.json", "{}")
        archive.writestr("../../outside.txt", "gotcha")
    with pytest.raises(CountertrackError, match="points outside the bundle"):
        load_bundle(evil, extract_to=tmp_path / "evil-target")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside.txt").exists()
    assert not any(p.name.startswith((".evil-target", "evil-target")) for p in tmp_path.iterdir())  # nothing half-extracted


def test_a_zip_bundle_is_extracted_once_and_a_damaged_extraction_replaced(tiny_bundle, tmp_path):
    zipped = tiny_bundle.parent / f"{tiny_bundle.name}.zip"
    first = load_bundle(zipped, extract_to=tmp_path / "x").folder
    onnx = first / "decision.onnx"
    stamp = onnx.stat().st_mtime_ns
    assert load_bundle(zipped, extract_to=tmp_path / "x").folder == first and onnx.stat().st_mtime_ns == stamp  # reused
    onnx.write_bytes(b"damaged")
    assert load_bundle(zipped, extract_to=tmp_path / "x").folder == first
    assert sha256_of(onnx) == json.loads((first / "manifest.json").read_text())["files"]["decision.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["x"]  # no staging folder left behind


def test_render_runs_with_torch_and_transformers_unimportable(tiny_bundle, tmp_path):
    from plugin_core.io.audio import write_audio
    from tests.conftest import tone

    write_audio(tmp_path / "a.wav", tone(330, 2.0), 44100)
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from host_scripts.cli import main\n"
        f"code = main(['render', {str(tmp_path / 'a.wav')!r}, '--bundle', {str(tiny_bundle)!r}, '-o', {str(tmp_path / 'b.wav')!r}])\n"
        "assert not [m for m in ('torch', 'transformers') if sys.modules.get(m) is not None]\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b.wav").is_file()


def test_export_refuses_to_write_into_a_folder_that_is_not_a_bundle(tiny_run, tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    assert main(["export", str(tiny_run.folder), "-o", str(tmp_path / "precious")]) == 1
    assert "not a bundle" in capsys.readouterr().err
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_memory_is_read_by_position_not_loaded(tiny_bundle):
    import soundfile

    memory = load_bundle(tiny_bundle).memory
    whole, _ = soundfile.read(memory.path, dtype="float32", always_2d=True)
    held = [value for owner in (memory, memory._pcm) for value in vars(owner).values() if isinstance(value, np.ndarray)]
    assert all(value.size < whole.size // 10 for value in held)  # only the grain lookups, never the audio
    assert np.array_equal(memory.read(1000, 5000), whole[1000:5000].T)
    audio = memory.read(-10, 100)
    assert audio.shape == (1, 110) and not audio[:, :10].any() and np.array_equal(audio[:, 10:], whole[:100].T)


def test_memory_at_another_rate_is_resampled_once_into_the_cache_and_mapped(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("plugin_core.engine.memory.RESAMPLE_CHUNK", 10_007)  # many pieces, none aligned
    memory = load_bundle(tiny_bundle).memory
    one_pass = resample(memory.read(0, memory.frames), memory.sample_rate, 48000)
    assert np.array_equal(memory.read(0, one_pass.shape[1], 48000), one_pass)
    cached = list((tmp_path / "cache" / "memory").glob("*.48000.f32"))
    assert len(cached) == 1
    cached[0].write_bytes(cached[0].read_bytes()[:-8])  # a cut-short cache file (a crash elsewhere) is rebuilt
    again = load_bundle(tiny_bundle).memory
    assert np.array_equal(again.read(0, one_pass.shape[1], 48000), one_pass)


def test_memory_at_another_rate_without_a_writable_cache_is_held_in_ram(tiny_bundle, tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "not-a-folder"))
    memory = load_bundle(tiny_bundle).memory
    one_pass = resample(memory.read(0, memory.frames), memory.sample_rate, 22050)
    assert np.array_equal(memory.read(0, one_pass.shape[1], 22050), one_pass)


def test_golden_vector_is_reproduced_with_onnxruntime_alone(tiny_bundle):
    expected = json.loads((tiny_bundle / "golden" / "expected.json").read_text())
    script = (
        "import sys, json; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from plugin_core.bundle.load import load_bundle\nfrom plugin_core.io.audio import read_audio\nfrom plugin_core.render.offline import render_audio\n"
        f"bundle = load_bundle({str(tiny_bundle)!r})\n"
        "r = render_audio(bundle, read_audio(bundle.folder / 'golden' / 'input.wav'), seed=0)\n"
        "print(json.dumps({'b': [d.b_token for d in r.decisions], 'g': [d.grain for d in r.decisions], 'a': [d.a_token for d in r.decisions]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    got = json.loads(result.stdout)
    assert got["a"] == expected["a_tokens"] and got["b"] == expected["b_tokens"] and got["g"] == expected["grains"]
    assert len(expected["b_tokens"]) == len(expected["boundaries"]) - 1 >= 10


def test_manifest_follows_the_published_schema(tiny_bundle):
    from plugin_core.bundle.load import validate_manifest

    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    validate_manifest(manifest, tiny_bundle)
    del manifest["decision"]["cache_layout"]
    with pytest.raises(CountertrackError, match="decision"):
        validate_manifest(manifest, tiny_bundle)


def test_perception_threads_follow_the_encoder_and_the_cores_given():
    assert perception_threads({"backend": "spectral"}, cores=16) == 1  # a second thread only slows it
    assert perception_threads({"backend": "wav2vec2"}, cores=2) == 2
    assert perception_threads({"backend": "wav2vec2"}, cores=1) == 1  # a batch worker's share
    assert perception_threads({"backend": "wav2vec2"}, cores=64) == 8

"""Bundles: self-contained, verified before use, never writing outside themselves; exported graphs
run without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from plugin_core.bundle.load import load_bundle, perception_threads, sha256_of
from plugin_core.errors import CountertrackError
from tests.paths import ROOT


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


def test_perception_threads_follow_the_encoder_and_the_cores_given():
    assert perception_threads({"backend": "spectral"}, cores=16) == 1  # a second thread only slows it
    assert perception_threads({"backend": "wav2vec2"}, cores=2) == 2
    assert perception_threads({"backend": "wav2vec2"}, cores=1) == 1  # a batch worker's share
    assert perception_threads({"backend": "wav2vec2"}, cores=64) == 8

"""The package as a user gets it: the wheel holds the card's packages and the shipped data, nothing
else, and installed (not editable) into a fresh virtual environment it renders from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from plugin_core.io.audio import probe_audio, write_audio
from tests.bundles import tone_melody
from tests.paths import ROOT
from tests.test_readme_example import readme_python_blocks

PACKAGES = {"plugin_core", "export", "host_scripts", "presets"}
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE", "NOTICE")
NOT_SOURCE = ("__pycache__", "*.pyc", "*.egg-info")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clean copy of what it is built from (setuptools reuses a stale build/
    folder): the build files and the card's packages, never the checkout's caches or virtualenv."""
    source = tmp_path_factory.mktemp("source") / "countertrack"
    source.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = list(out.glob("countertrack-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_the_wheel_holds_the_cards_packages_and_the_shipped_data_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert {n.split("/")[0] for n in names} == PACKAGES | {dist_info}  # no benchmarks, no tests
    shipped = sorted(
        f"presets/{p.relative_to(ROOT / 'presets').as_posix()}"
        for p in (ROOT / "presets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert [n for n in shipped if n not in names] == []
    for name in (
        "presets/default.ctbundle/manifest.json",
        "presets/default.ctbundle/golden/expected.json",
        "presets/default.ctbundle/memory/grains.json",
        "presets/ambient.json",
        "presets/example_a.flac",
    ):
        assert name in names
    assert sorted(n for n in names if n.startswith("presets/") and n.endswith(".json") and n.count("/") == 1) == [
        "presets/ambient.json",
        "presets/faithful.json",
        "presets/loose.json",
    ]
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: GPL-3.0-or-later" in metadata
    assert {f"{dist_info}/licenses/LICENSE", f"{dist_info}/licenses/NOTICE"} <= set(names)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its runtime dependencies from the index."""
    venv = tmp_path_factory.mktemp("venv") / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


def _clean_env() -> dict[str, str]:
    """The environment without anything that would put the checkout on the import path."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def test_the_installed_package_renders_with_shipped_data_from_any_folder(installed, tmp_path):
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_clean_env())

    python, countertrack = str(installed / "bin" / "python"), str(installed / "bin" / "countertrack")
    probe = run(
        python,
        "-c",
        "import importlib.util as u, json; print(json.dumps([u.find_spec(m) is None for m in "
        "('torch', 'transformers', 'benchmarks', 'tests')]))",
    )
    assert json.loads(probe.stdout) == [True, True, True, True], probe.stderr
    melody = tone_melody(6.0, 100.0, seed=5)
    write_audio(tmp_path / "a.wav", np.concatenate([melody, melody]), 44100)
    (tmp_path / "ambient").write_text(json.dumps({"name": "ambient", "wet": "not a number"}))  # a trap: must not be read

    for extra in ([], ["--preset", "ambient"]):
        result = run(countertrack, "render", "a.wav", "-o", "b.wav", "--force", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        assert probe_audio(tmp_path / "b.wav").num_samples == probe_audio(tmp_path / "a.wav").num_samples

    train = run(countertrack, "train", "corpus", "-o", "run")
    assert train.returncode == 1 and train.stderr.count("\n") == 1 and "pip install torch==2.13.0 '.[train]'" in train.stderr

    readme = run(python, "-c", readme_python_blocks()[0])
    assert readme.returncode == 0, readme.stderr[-2000:]
    assert probe_audio(tmp_path / "b.wav").num_samples == probe_audio(tmp_path / "a.wav").num_samples

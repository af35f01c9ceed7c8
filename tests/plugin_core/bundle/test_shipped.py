"""Shipped data is package data: found through importlib.resources from any working folder, and a
bare preset name always means the shipped preset, never a file that happens to be in the folder."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from plugin_core.bundle.shipped import default_bundle_path, example_a_path, is_preset_name, shipped_preset_names, shipped_preset_path
from plugin_core.errors import CountertrackError
from plugin_core.stream.presets import load_preset
from tests.paths import ROOT


def test_shipped_data_is_found_from_another_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    package = Path(str(resources.files("presets")))
    assert default_bundle_path() == package / "default.ctbundle"
    assert (default_bundle_path() / "manifest.json").is_file()
    assert example_a_path().is_file() and example_a_path().parent == package
    assert shipped_preset_names() == sorted(p.stem for p in package.glob("*.json"))
    assert {"ambient", "faithful", "loose"} <= set(shipped_preset_names())


def test_a_file_named_like_a_shipped_preset_does_not_replace_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trap = {"name": "trap", "sampling": {"temperature": 0.1}}
    for name in ("ambient", "ambient.json"):
        (tmp_path / name).write_text(json.dumps(trap))
    shipped = load_preset("ambient")
    assert shipped.name == "ambient" and Path(shipped.source) == shipped_preset_path("ambient")
    assert load_preset("./ambient").name == "trap"
    assert load_preset("ambient.json").name == "trap"
    assert load_preset(tmp_path / "ambient").name == "trap"


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("ambient", True),
        ("my-preset", True),
        ("./ambient", False),
        ("dir/ambient", False),
        ("ambient.json", False),
        ("/abs/ambient", False),
    ],
)
def test_a_bare_name_is_a_preset_name_and_anything_like_a_path_is_a_file(text, bare):
    assert is_preset_name(text) is bare
    assert not is_preset_name(Path(text))


def test_an_unknown_preset_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").write_text(json.dumps({"name": "mine"}))
    with pytest.raises(
        CountertrackError, match=r"mine: no shipped preset of this name \(shipped presets: ambient, faithful, loose.*\./mine\.json"
    ):
        load_preset("mine")
    with pytest.raises(CountertrackError, match="preset file not found"):
        load_preset("./absent.json")


def test_runtime_and_commands_do_not_find_shipped_data_beside_the_source_tree():
    """parents[1] works only in a checkout; an installed package must go through importlib.resources."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("plugin_core", "host_scripts")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"parents\[\d\]|\"presets\"\s*/", line)
    ]
    assert offenders == []

"""The default bundle's recipe writes where the runtime finds the shipped data, from any working folder."""

from __future__ import annotations

from pathlib import Path

from export.default_bundle import build_parser
from plugin_core.bundle.shipped import default_bundle_path, example_a_path
from tests.paths import ROOT


def test_outputs_default_to_the_shipped_data_of_this_source_tree_and_work_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository root: the outputs still go where the runtime looks
    args = build_parser().parse_args([])
    assert args.output.resolve() == default_bundle_path().resolve() == (ROOT / "presets" / "default.ctbundle").resolve()
    assert args.example.resolve() == example_a_path().resolve() == (ROOT / "presets" / "example_a.flac").resolve()
    assert args.work == Path("out", "default-build") and args.work.resolve() == tmp_path.resolve() / "out" / "default-build"

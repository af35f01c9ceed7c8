"""Atomic outputs: a temporary file beside the target, moved onto it whole or removed; JSON written and read in one line."""

from __future__ import annotations

import os

import pytest

from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.atomic import atomic_path, make_temp, read_json, temp_affixes, write_json_atomic


def test_atomic_path_removes_temporary_on_exception(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_atomic_path_moves_the_finished_file_onto_the_target(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing changes until the block ends
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["x.json"]


def test_without_overwrite_an_existing_target_is_refused_and_kept(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")
    with pytest.raises(CountertrackError, match="already exists"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_text("new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.json"]
    with pytest.raises(CountertrackError, match="output folder does not exist"):
        with atomic_path(tmp_path / "missing" / "x.json"):
            pass


def test_a_temporary_name_beside_a_long_target_fits_a_file_name(tmp_path):
    target = tmp_path / ("y" * 250 + ".flac")
    prefix, suffix = temp_affixes(target)
    assert prefix.startswith(".y") and suffix == ".part.flac"
    tmp = make_temp(target)
    assert tmp.parent == tmp_path and tmp.name.endswith(".part.flac") and len(tmp.name.encode()) <= 255


def test_json_is_written_sorted_and_read_back(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"b": 1, "a": "é"})
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == '{\n  "a": "é",\n  "b": 1\n}\n'
    assert read_json(tmp_path / "r.json") == {"a": "é", "b": 1}


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"{not json", "Expecting property name"), (b"\xff\xfe", "utf-8"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply")],
)
def test_unreadable_json_is_one_error_of_the_kind_asked_naming_the_file(tmp_path, data, reason):
    (tmp_path / "r.json").write_bytes(data)
    with pytest.raises(BundleError, match=reason) as caught:
        read_json(tmp_path / "r.json", "not a manifest", error=BundleError)
    assert "not a manifest" in str(caught.value) and "r.json" in str(caught.value) and "\n" not in str(caught.value)


def test_json_larger_than_allowed_is_refused_before_parsing(tmp_path):
    (tmp_path / "r.json").write_text('{"a": "' + "x" * 100 + '"}')
    with pytest.raises(CountertrackError, match="larger than 50 bytes"):
        read_json(tmp_path / "r.json", max_bytes=50)
    assert read_json(tmp_path / "r.json", max_bytes=200)["a"] == "x" * 100

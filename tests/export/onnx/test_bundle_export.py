"""Bundle export: a run becomes a verified bundle, and export never writes into a folder that is not one."""

from __future__ import annotations

from host_scripts.cli import main


def test_export_refuses_to_write_into_a_folder_that_is_not_a_bundle(tiny_run, tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    assert main(["export", str(tiny_run.folder), "-o", str(tmp_path / "precious")]) == 1
    assert "not a bundle" in capsys.readouterr().err
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"

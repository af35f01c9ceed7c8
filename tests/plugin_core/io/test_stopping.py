"""A stopped command cleans up after itself, also when the stop lands in the middle of making a
temporary folder (the gap where ``tempfile.TemporaryDirectory`` leaks one)."""

from __future__ import annotations

import os
import signal
import tempfile

import pytest

from plugin_core.io.stopping import Terminated, sigterm_raises, temporary_folder


def test_a_sigterm_while_the_folder_is_made_stops_after_it_is_ours_and_removes_it(monkeypatch, tmp_path):
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp_then_stopped(*args, **kwargs):
        folder = real_mkdtemp(*args, dir=tmp_path, **{k: v for k, v in kwargs.items() if k != "dir"})
        made.append(folder)
        os.kill(os.getpid(), signal.SIGTERM)  # the stop arrives right after the folder exists
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp_then_stopped)
    body_ran = False
    with sigterm_raises(), pytest.raises(Terminated):
        with temporary_folder("countertrack-test-"):
            body_ran = True
    assert made and not os.path.exists(made[0]) and not list(tmp_path.iterdir())
    assert not body_ran  # the stop takes effect before the work, once the folder can be removed


def test_the_folder_is_removed_after_the_block(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with temporary_folder("countertrack-test-") as folder:
        (folder / "x").write_text("x")
    assert not list(tmp_path.iterdir())


def test_a_second_sigterm_while_the_folder_is_removed_does_not_leave_it_half_removed(monkeypatch, tmp_path):
    import shutil

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real_rmtree = shutil.rmtree

    def stopped_while_removing(path, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # a pool stopping its worker again, mid-cleanup
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", stopped_while_removing)
    with sigterm_raises(), pytest.raises(Terminated):
        with temporary_folder("countertrack-test-") as folder:
            for name in ("a", "b", "c"):
                (folder / name).write_text(name)
    assert not list(tmp_path.iterdir())

"""A command's outputs as one transaction (plugin_core.io.outputs): checked before the work, committed
all or none, never over a file that appeared meanwhile unless forced; stale temporary files swept."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time

import pytest

from plugin_core.errors import CountertrackError
from plugin_core.io import atomic, outputs
from plugin_core.io.outputs import Output, plan_outputs
from tests.disk import entries, snapshot


def _write_all(outputs, targets, text="new"):
    for target in targets:
        outputs.staged(target).write_text(f"{text} {target.name}")


def test_outputs_are_staged_beside_their_targets_and_committed_together(tmp_path):
    targets = [tmp_path / "b.wav", tmp_path / "m.wav", tmp_path / "b.mid"]
    with plan_outputs(targets) as outputs:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(outputs.staged(t).name for t in targets)
        _write_all(outputs, targets)
        outputs.commit()
    assert snapshot(tmp_path) == {t.name: f"new {t.name}".encode() for t in targets}


def test_a_failed_commit_undoes_the_outputs_already_moved(tmp_path):
    """The last of three outputs cannot be placed (a file appeared there): the first two are taken back."""
    targets = [tmp_path / "b.wav", tmp_path / "m.wav", tmp_path / "b.mid"]
    with pytest.raises(CountertrackError, match="b.mid: appeared while we worked"):
        with plan_outputs(targets) as outputs:
            _write_all(outputs, targets)
            (tmp_path / "b.mid").write_text("someone else's")
            outputs.commit()
    assert snapshot(tmp_path) == {"b.mid": b"someone else's"}
    assert entries(tmp_path) == ["b.mid"]


def test_a_failed_forced_commit_puts_the_old_files_back(tmp_path):
    """With --force the first output replaced an old file; the third fails (a folder appeared at its
    path): the old file is back byte for byte, the second output is taken back, nothing stray."""
    targets = [tmp_path / "b.wav", tmp_path / "m.wav", tmp_path / "b.mid"]
    (tmp_path / "b.wav").write_text("old b")
    with pytest.raises(CountertrackError, match="b.mid"):
        with plan_outputs(targets, force=True) as outputs:
            _write_all(outputs, targets)
            (tmp_path / "b.mid").mkdir()  # os.replace cannot put a file over a folder
            outputs.commit()
    assert snapshot(tmp_path) == {"b.wav": b"old b"}
    assert entries(tmp_path) == ["b.mid", "b.wav"]


def test_a_file_that_appears_during_the_run_is_kept(tmp_path):
    target = tmp_path / "b.wav"
    with pytest.raises(CountertrackError, match="appeared while we worked"):
        with plan_outputs([target]) as outputs:
            outputs.staged(target).write_text("ours")
            target.write_text("theirs")
            outputs.commit()
    assert target.read_text() == "theirs"
    assert entries(tmp_path) == ["b.wav"]


def test_without_hard_links_the_commit_still_never_replaces(tmp_path, monkeypatch):
    """File systems without hard links (EPERM from link): an exclusive reservation takes its place."""

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    fresh, taken = tmp_path / "fresh.wav", tmp_path / "taken.wav"
    with plan_outputs([fresh]) as outputs:
        outputs.staged(fresh).write_text("ours")
        outputs.commit()
    assert fresh.read_text() == "ours"
    with pytest.raises(CountertrackError, match="appeared while we worked"):
        with plan_outputs([taken]) as outputs:
            outputs.staged(taken).write_text("ours")
            taken.write_text("theirs")
            outputs.commit()
    assert taken.read_text() == "theirs"
    assert entries(tmp_path) == ["fresh.wav", "taken.wav"]


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_output_is_swapped_in_whole(tmp_path, force):
    target = tmp_path / "my.ctbundle"
    if force:
        target.mkdir()
        (target / "manifest.json").write_text("old")
    with plan_outputs([Output(target, folder=True)], force=force) as outputs:
        (outputs.staged(target) / "manifest.json").write_text("new")
        outputs.commit()
    assert snapshot(tmp_path) == {"my.ctbundle/manifest.json": b"new"}
    assert entries(tmp_path) == ["my.ctbundle", "my.ctbundle/manifest.json"]


def test_a_folder_filled_during_the_run_is_kept(tmp_path):
    target = tmp_path / "my.ctbundle"
    with pytest.raises(CountertrackError, match="appeared while we worked"):
        with plan_outputs([Output(target, folder=True)]) as outputs:
            (outputs.staged(target) / "manifest.json").write_text("ours")
            target.mkdir()
            (target / "theirs.txt").write_text("theirs")
            outputs.commit()
    assert snapshot(tmp_path) == {"my.ctbundle/theirs.txt": b"theirs"}


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("same-output-twice", "named as two outputs"),
        ("output-is-input", "is also an input"),
        ("output-is-a-hard-link-of-the-input", "is also an input"),
        ("output-is-a-symlink-to-the-input", "is also an input"),
        ("folder-output-holds-an-input", "holds the input"),
        ("existing-without-force", "already exists"),
        ("missing-folder", "output folder does not exist"),
        ("output-is-a-folder", "is a directory"),
        ("not-ours-to-replace", "is not a bundle"),
    ],
)
def test_plans_that_could_lose_data_are_refused_before_any_work(tmp_path, case, fragment):
    a = tmp_path / "a.wav"
    a.write_text("the input")
    outputs, inputs, force = [tmp_path / "b.wav"], [a], True
    if case == "same-output-twice":
        (tmp_path / "sub").mkdir()
        outputs = [tmp_path / "b.wav", tmp_path / "sub" / ".." / "b.wav"]
    elif case == "output-is-input":
        outputs = [tmp_path / "b.wav", a]
    elif case == "output-is-a-hard-link-of-the-input":
        os.link(a, tmp_path / "hard.wav")
        outputs = [tmp_path / "hard.wav"]
    elif case == "output-is-a-symlink-to-the-input":
        (tmp_path / "soft.wav").symlink_to(a)
        outputs = [tmp_path / "soft.wav"]
    elif case == "folder-output-holds-an-input":
        outputs = [Output(tmp_path, folder=True)]
    elif case == "existing-without-force":
        (tmp_path / "b.wav").write_text("old")
        force = False
    elif case == "missing-folder":
        outputs = [tmp_path / "nowhere" / "b.wav"]
    elif case == "output-is-a-folder":
        (tmp_path / "b.wav").mkdir()
    elif case == "not-ours-to-replace":
        (tmp_path / "music").mkdir()
        (tmp_path / "music" / "song.wav").write_text("a user's song")
        outputs = [
            Output(
                tmp_path / "music",
                folder=True,
                replaceable=lambda p: (p / "manifest.json").is_file(),
                not_replaceable="exists and is not a bundle; refusing to replace it",
            )
        ]
    before = entries(tmp_path), snapshot(tmp_path)
    with pytest.raises(CountertrackError, match=fragment):
        plan_outputs(outputs, inputs, force=force)
    assert (entries(tmp_path), snapshot(tmp_path)) == before


def test_a_long_output_name_gets_a_temporary_name_that_fits(tmp_path):
    target = tmp_path / ("x" * 250 + ".wav")
    with plan_outputs([target]) as outputs:
        assert len(outputs.staged(target).name.encode()) <= 255
        outputs.staged(target).write_text("ours")
        outputs.commit()
    assert target.read_text() == "ours"


def _dead_pid() -> int:
    """The id of a process that has run and is gone."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_our_stale_temporary_files_are_swept(tmp_path, monkeypatch):
    """Swept: our temporary name, a dead process, older than us. Kept: a live process's, a newer one,
    a user's file of a similar name, our backups of replaced files."""
    dead = _dead_pid()
    names = {
        f".b.ct{dead}-abcdefgh.part.wav": False,
        f".bundle.ct{dead}-abcd_123.part.ctbundle": False,
        f".b.ct{os.getppid()}-abcdefgh.part.wav": True,
        f".b.ct{dead}-abcdefgh.old.wav": True,
        ".b.abcdefgh.part.wav": True,
        "b.ct1-abcdefgh.part.wav": True,
    }
    for name in names:
        (tmp_path / name).mkdir() if "ctbundle" in name else (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (time.time() - 3600, time.time() - 3600))
    (tmp_path / f".c.ct{dead}-abcdefgh.part.wav").write_text("newer than this process")
    monkeypatch.setattr(atomic, "_started", time.time() - 60)
    monkeypatch.setattr(atomic, "_swept", set())
    with plan_outputs([tmp_path / "out.wav"]):
        pass
    assert entries(tmp_path) == sorted([name for name, kept in names.items() if kept] + [f".c.ct{dead}-abcdefgh.part.wav"])


def _commit(tmp_path, name: str) -> None:
    with plan_outputs([tmp_path / name], force=True) as planned:
        planned.staged(tmp_path / name).write_text(name)
        planned.commit()


def _kept_by_the_module() -> int:
    """How many items the module's own containers hold (the record of committed outputs among them)."""
    return sum(len(value) for name, value in vars(outputs).items() if not name.startswith("__") and isinstance(value, (list, dict, set)))


def test_outputs_committed_outside_a_command_are_not_kept(tmp_path):
    """A long-lived host (a plugin, a server) commits OutputSets without end: the module keeps none of
    their paths, so its memory stays the same however many it commits."""
    _commit(tmp_path, "first.wav")
    before = _kept_by_the_module()
    for index in range(200):
        _commit(tmp_path, f"out{index % 4}.wav")
    assert _kept_by_the_module() == before


def test_a_command_records_its_own_outputs_and_only_the_last_commands_are_kept(tmp_path):
    with outputs.command_outputs() as first:
        _commit(tmp_path, "a.wav")
        _commit(tmp_path, "b.wav")
        assert outputs.written_outputs() == [tmp_path / "a.wav", tmp_path / "b.wav"]
    _commit(tmp_path, "outside.wav")
    assert first == outputs.written_outputs() == [tmp_path / "a.wav", tmp_path / "b.wav"]
    with outputs.command_outputs() as second:
        assert outputs.written_outputs() == []
        with outputs.command_outputs() as inner:  # a command run inside another: both see its outputs
            _commit(tmp_path, "c.wav")
        _commit(tmp_path, "d.wav")
    assert inner == [tmp_path / "c.wav"]
    assert second == outputs.written_outputs() == [tmp_path / "c.wav", tmp_path / "d.wav"]
    assert outputs._open == {}


def test_outputs_committed_from_other_threads_during_a_command_are_recorded(tmp_path):
    with outputs.command_outputs() as written:
        threads = [threading.Thread(target=_commit, args=(tmp_path, f"t{index}.wav")) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(written) == sorted(tmp_path / f"t{index}.wav" for index in range(8))

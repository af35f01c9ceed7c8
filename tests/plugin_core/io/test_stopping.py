"""A stopped command cleans up after itself, also when the stop lands in the middle of making a
temporary folder (the gap where ``tempfile.TemporaryDirectory`` leaks one); a stopped pool of
workers has wound down, and printed nothing, when the command reports the stop."""

from __future__ import annotations

import concurrent.futures.process
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from plugin_core.io.stopping import Terminated, run_task, sigterm_raises, temporary_folder, worker_pool
from tests.paths import ROOT


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


def test_a_stopped_pool_has_wound_down_when_the_stop_goes_on(monkeypatch):
    """Python 3.11's exit wakes a pool's manager thread without the pool's lock; if the thread is still
    closing its pipe then, the wake-up writes to a closed descriptor and a batch stopped by SIGTERM
    printed "OSError: [Errno 9] Bad file descriptor" after its one line. The stop passes on only once
    the manager thread has ended, here made slow to wind down."""
    real = concurrent.futures.process._ExecutorManagerThread.join_executor_internals

    def slowly(self):
        time.sleep(0.5)
        real(self)

    monkeypatch.setattr(concurrent.futures.process._ExecutorManagerThread, "join_executor_internals", slowly)
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        futures = [pool.submit(run_task, time.sleep, 30) for _ in range(4)]
        deadline = time.monotonic() + 30
        while not any(f.running() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt  # the stop, as the command's main thread gets it
    assert not [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert all(wakeup._closed for wakeup in list(concurrent.futures.process._threads_wakeups.values()))


STOPPED_IN_A_FINALIZER = textwrap.dedent(
    """
    import os, signal, sys, time
    from concurrent.futures.process import BrokenProcessPool
    from pathlib import Path
    from plugin_core.io.stopping import run_task, worker_pool

    class StopsWhileCollected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the stop lands while the garbage collector runs this
            for _ in range(1000):  # ... and is raised here, where Python can only print it
                pass

    def task(marker):
        try:
            StopsWhileCollected()
            time.sleep(30)  # the task went on: the stop was lost
        finally:
            Path(marker).write_text("cleaned up")

    if __name__ == "__main__":
        with worker_pool(1) as pool:
            try:
                pool.submit(run_task, task, sys.argv[1]).result(timeout=60)
            except BrokenProcessPool:  # the worker ended (143) without a result
                print("stopped")
    """
)


def test_a_stop_that_lands_in_a_finalizer_stops_the_task_and_prints_nothing(tmp_path):
    """Worker stderr goes to the command's: a SIGTERM raised inside a ``__del__`` in the middle of a task
    was printed as an ignored exception (a traceback in a stopped batch's output) and the task went on;
    it is delivered again, so the task's cleanup runs and the worker ends at once, silently."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_IN_A_FINALIZER, str(tmp_path / "marker")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "stopped", "")
    assert (tmp_path / "marker").read_text() == "cleaned up"
    assert time.monotonic() - started < 20

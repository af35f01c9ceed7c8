"""A stopped command stops everything it started: SIGTERM is raised as an exception, so every
``finally`` runs (temporary files removed, child processes killed), in the command's own process and
in its worker processes; worker pools are cancelled and their workers stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_in_task = False
_held = False  # a SIGTERM now waits for the end of a short critical step (see sigterm_deferred)
_pending = False
_stop_signal: int | None = None


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM); handled like Ctrl-C."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated and Ctrl-C KeyboardInterrupt in the main thread,
    and both are remembered (``stop_signal``); the old handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _stop_signal
    _stop_signal = None
    with _signals_blocked():
        previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated)}
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored (a background job): left so
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_interrupted)
        hook, sys.unraisablehook = sys.unraisablehook, _unraisable_unless_a_stop
    try:
        yield
    finally:
        with _signals_blocked():
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            sys.unraisablehook = hook


def _unraisable_unless_a_stop(unraisable: Any) -> None:
    """A stop raised where Python cannot pass it on (a finalizer run by the garbage collector) is not
    printed as an ignored exception: it is remembered (``stop_signal``) and takes effect as the
    command ends."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _stop_signal is not None:
        return
    sys.__unraisablehook__(unraisable)


def stop_signal() -> int | None:
    """The stop (SIGINT for Ctrl-C, SIGTERM) that arrived during the last ``sigterm_raises`` block, if
    any: an error that follows one (a library's import cut short, say) is the stop's doing, not a bug.
    None in any thread but the main one: stops are delivered there, and only there is the block set up."""
    return _stop_signal if threading.current_thread() is threading.main_thread() else None


def stop_handled() -> None:
    """For a command whose normal end is a stop (``live``): the stop it caught is its outcome, not one
    still to report."""
    global _stop_signal
    _stop_signal = None


def _raise_terminated(signum: int, frame: Any) -> None:
    global _stop_signal
    _stop_signal = signum
    if _deferred():
        return
    raise Terminated()


def _raise_interrupted(signum: int, frame: Any) -> None:
    global _stop_signal
    _stop_signal = signum
    raise KeyboardInterrupt()


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait (blocked by the OS) while handlers are swapped, so no stop reaches a
    half-swapped set of handlers; they are delivered as the block ends."""
    stops = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _deferred() -> bool:
    """Whether this SIGTERM must wait (it is then raised when the critical step ends)."""
    global _pending
    if _held:
        _pending = True
    return _held


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """A short step a stop must not cut in two (a temporary folder made but not yet the caller's to
    remove): a SIGTERM arriving during it takes effect as the step ends, inside the caller's cleanup."""
    global _held, _pending
    handler = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    _held = True
    try:
        yield
    finally:
        _held = False
        if _pending:
            _pending = False
            if callable(handler):
                handler(signal.SIGTERM, None)


@contextlib.contextmanager
def stops_held() -> Iterator[Callable[[], bool]]:
    """A step that must end whole or be backed out, never cut in two (moving a command's outputs into
    place): Ctrl-C and SIGTERM arriving during it are held and delivered as it ends. The block gets a
    function saying whether one is waiting, so it can back out before the stop takes effect."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    arrived: list[int] = []
    with _signals_blocked():
        watched = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) not in (signal.SIG_IGN, None)]
        previous = {s: signal.signal(s, lambda signum, frame: arrived.append(signum)) for s in watched}
    try:
        yield lambda: bool(arrived)
    finally:
        with _signals_blocked():
            for s, handler in previous.items():
                signal.signal(s, handler)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)  # the handler restored above runs now: the stop takes effect


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder removed when the block ends, also when the command or worker is stopped
    while the folder is being made or removed (the gaps where ``tempfile.TemporaryDirectory`` would
    leak it, or leave it half removed)."""
    folder: Path | None = None
    try:
        with sigterm_deferred():
            folder = Path(tempfile.mkdtemp(prefix=prefix))
        yield folder
    finally:
        if folder is not None:
            with sigterm_deferred():  # a second stop (a pool stops its workers more than once) must not cut removal short
                shutil.rmtree(folder, ignore_errors=True)


def init_worker() -> None:
    """Initializer of worker processes: SIGTERM during a task (see ``run_task``) raises, so the task's
    cleanup runs, and then ends the process; between tasks it ends the process at once. Ctrl-C is
    left to the parent, which stops its workers with SIGTERM. A stop raised inside a finalizer, where
    Python can only print it and go on, is not printed: it is delivered again (``_worker_unraisable``)."""
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.unraisablehook = _worker_unraisable


def _worker_sigterm(signum: int, frame: Any) -> None:
    if _deferred():
        return
    if _in_unraisable_hook:  # raised here it would be printed as an error of the hook: a moment later
        _stop_again_soon()
        return
    if _in_task:
        raise Terminated()
    os._exit(128 + signum)


_in_unraisable_hook = False


def _worker_unraisable(unraisable: Any) -> None:
    """A stop that landed in a finalizer run in the middle of a task (a ``__del__``, a weakref callback:
    the garbage collector runs them anywhere) cannot stop the task from there: Python prints it as an
    ignored exception and the task goes on. In a worker it is delivered again a moment later, where it
    stops the task (its cleanup runs, the worker ends); nothing is printed."""
    global _in_unraisable_hook
    _in_unraisable_hook = True
    try:
        if isinstance(unraisable.exc_value, Terminated):
            _stop_again_soon()
        else:
            sys.__unraisablehook__(unraisable)
    finally:
        _in_unraisable_hook = False


def _stop_again_soon() -> None:
    timer = threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, signal.SIGTERM))
    timer.daemon = True
    timer.start()


def run_task(task: Callable[..., T], *args: Any) -> T:
    """Run ``task(*args)`` in a worker set up by ``init_worker``; a SIGTERM ends the worker once the
    task's ``finally`` blocks have run (a pool would otherwise catch the exception and go on)."""
    global _in_task
    _in_task = True
    try:
        return task(*args)
    except Terminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _in_task = False


@contextlib.contextmanager
def worker_pool(
    max_workers: int, *, initializer: Callable[..., None] = init_worker, initargs: tuple = (), mp_context: Any = None
) -> Iterator[ProcessPoolExecutor]:
    """A process pool that stops with its command: on any exception in the block (Ctrl-C, SIGTERM, an
    error) the tasks not started are cancelled and the workers stopped (``stop_pool``), not awaited.
    ``initializer`` must call ``init_worker`` (the default does)."""
    pool = ProcessPoolExecutor(max_workers, mp_context=mp_context, initializer=initializer, initargs=initargs)
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    finally:
        pool.shutdown()


def stop_pool(pool: ProcessPoolExecutor, timeout_s: float = 10.0) -> None:
    """Cancel the tasks that have not started and stop the workers: SIGTERM (they clean up), then
    SIGKILL for any still running after ``timeout_s``. Returns once the pool's manager thread has
    wound down too (up to ``timeout_s`` more): at the interpreter's exit Python 3.11 wakes that thread
    without the pool's lock (``concurrent.futures.process._python_exit``), and a wake-up racing the
    thread's own closing of its pipe fails on the closed descriptor, printing a traceback ("OSError:
    [Errno 9] Bad file descriptor") after the command's one line. A second stop arriving meanwhile
    (Ctrl-C again) waits for the end, so it cannot cut this short."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public list before Python 3.14
    manager = getattr(pool, "_executor_manager_thread", None)  # shutdown(wait=False) forgets it
    with stops_held():
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.terminate()
        deadline = time.monotonic() + timeout_s
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.join(max(0.0, deadline - time.monotonic()))
                if worker.is_alive():
                    worker.kill()
                    worker.join()
        if isinstance(manager, threading.Thread) and manager is not threading.current_thread():
            manager.join(timeout_s)  # it sees the workers gone, fails what ran on them, closes its queues and pipe

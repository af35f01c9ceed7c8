"""Real-time scheduling for the live worker thread: granted where allowed, and said in a few words
either way, never an exception."""

from __future__ import annotations

import os
import threading

import pytest

from host_scripts.live.priority import WORKER_PRIORITY, make_realtime


def test_no_thread_is_normal_priority():
    assert make_realtime(None).startswith("normal priority (real-time scheduling is not available")


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="no POSIX scheduling here")
def test_a_worker_thread_gets_fifo_or_is_told_why_not():
    ready, done = threading.Event(), threading.Event()
    ident: list[int] = []

    def worker() -> None:
        ident.append(threading.get_native_id())
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=worker, daemon=True)  # a thread of its own: the test process keeps its scheduling
    thread.start()
    ready.wait(10)
    try:
        said = make_realtime(ident[0])
        policy = os.sched_getscheduler(ident[0])
        if said == f"real-time priority {WORKER_PRIORITY}":
            assert policy == os.SCHED_FIFO and os.sched_getparam(ident[0]).sched_priority == WORKER_PRIORITY
        else:
            assert said.startswith("normal priority (real-time not allowed") and policy != os.SCHED_FIFO
    finally:
        done.set()
        thread.join(10)

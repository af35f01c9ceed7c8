"""Real-time scheduling for the chain's worker thread in ``countertrack live``.

JACK runs the audio callback on a real-time (SCHED_FIFO) thread, but in Python that callback must
take the interpreter's lock (the GIL). If the worker thread holds it and a busy machine preempts the
worker, the callback waits for as long as the worker is off the CPU: an xrun. Scheduling the worker
real-time too, below JACK's threads, keeps it on the CPU while it holds the lock; it sleeps between
segments, so it takes little time from anything else.
"""

from __future__ import annotations

import os

WORKER_PRIORITY = 1  # the lowest SCHED_FIFO priority: under JACK's (server 10, clients just below by default)


def make_realtime(thread_id: int | None, priority: int = WORKER_PRIORITY) -> str:
    """Give ``thread_id`` SCHED_FIFO ``priority``; returns a few words saying what it got (not allowed: normal)."""
    if thread_id is None or not hasattr(os, "sched_setscheduler"):
        return "normal priority (real-time scheduling is not available here)"
    try:
        os.sched_setscheduler(thread_id, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as exc:
        return f"normal priority (real-time not allowed: {exc.strerror or exc}; see the README's 'Playing live')"
    return f"real-time priority {priority}"

"""The ``countertrack`` program itself: stops are handled from its first instruction to its last.

``cli.main`` turns a stop during the work into a clean exit (130/143, nothing changed; or 0 when
every output was already in place). This module imports nothing heavy, so the window before it is
Python's own start-up only: a stop while the command line's libraries load, or while its arguments
are parsed, exits with the same codes and a line saying so (nothing was written yet), also when the
library being loaded fails in its own words because it was cut short; a stop arriving after the
command has finished, while the interpreter shuts down, is ignored: the command's outcome stands.
"""

import os
import signal
import sys
from collections.abc import Sequence

_stops: list[int] = []


def _stop_before_the_work(signum: int, frame: object) -> None:
    _stops.append(signum)
    raise KeyboardInterrupt()


def stop_outcome(kept: Sequence[object], terminated: bool) -> tuple[str, int]:
    """The line and exit code of a stopped command, said the same way wherever the stop was caught: 0
    when its outputs (``kept``) were all in place before the stop (the work is complete), else 143 for
    SIGTERM (``terminated``) or 130 for Ctrl-C, with nothing changed."""
    if kept:
        return f"countertrack: stopped once the outputs were complete; kept {', '.join(map(str, kept))}", 0
    if terminated:
        return "countertrack: stopped", 128 + signal.SIGTERM
    return "countertrack: interrupted", 128 + signal.SIGINT


def _exit_stopped(signum: int) -> int:
    """Say so and end at once: a library cut short while it loaded may be half set up, and its
    exit handlers must not run (nor turn the exit code into another). A stop that lands just as
    main returns, after the command's outputs were all placed, keeps them: exit 0, as main says."""
    outputs = sys.modules.get("plugin_core.io.outputs")
    message, code = stop_outcome(outputs.written_outputs() if outputs is not None else [], signum == signal.SIGTERM)
    print(message, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run() -> int:
    """Load the command line and run it with ``sys.argv``; returns the exit code."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(stop) is not signal.SIG_IGN:
            signal.signal(stop, _stop_before_the_work)
    try:
        from host_scripts.cli import main

        code = main()  # replaces these handlers while it works, and puts them back
    except (KeyboardInterrupt, Exception):  # Exception: an import cut short can fail in the library's own words
        if not _stops:
            raise
        return _exit_stopped(_stops[-1])  # before the work (loading, parsing), or after main's own handling
    finally:
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, signal.SIG_IGN)  # the outcome stands: a late stop cannot turn it into another
    return code

"""The ``countertrack`` program itself: stops are handled from its first instruction to its last.

``cli.main`` turns a stop during the work into a clean exit (130/143, nothing changed). This module
imports nothing heavy, so the window before it is Python's own start-up only: a stop while the
command line's libraries load exits at once with the same codes and a line saying so (nothing was
written yet), also when the library being loaded fails in its own words because it was cut short; a
stop arriving after the command has finished, while the interpreter shuts down, is ignored: the
command's outcome stands.
"""

import signal
import sys

_stop_while_loading: list[int] = []


def _stop_loading(signum: int, frame: object) -> None:
    _stop_while_loading.append(signum)
    raise KeyboardInterrupt()


def _report_stop(signum: int) -> int:
    print("countertrack: stopped" if signum == signal.SIGTERM else "countertrack: interrupted", file=sys.stderr)
    return 128 + signum


def run() -> int:
    """Load the command line and run it with ``sys.argv``; returns the exit code."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stop_loading)
    try:
        from host_scripts.cli import main
    except (KeyboardInterrupt, Exception):  # Exception: an import cut short can fail in the library's own words
        if not _stop_while_loading:
            raise
        return _report_stop(_stop_while_loading[0])
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # main installs its own handling for the work
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        return main()
    finally:
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, signal.SIG_IGN)  # the outcome stands: a late stop cannot turn it into a traceback

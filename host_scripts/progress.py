"""What a command says on stderr while it works: progress bars (tqdm, silent when stderr is not a
terminal) and log lines, at the verbosity set by ``-q``/``-v``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
QUIET, NORMAL, VERBOSE = -1, 0, 1
_verbosity = NORMAL


def set_verbosity(level: int) -> None:
    """-1 errors only (``-q``), 0 the usual lines and progress bars, 1 lines instead of bars (``-v``)."""
    global _verbosity
    _verbosity = level


def log(message: str) -> None:
    """One line on stderr, unless ``-q`` (errors are printed by the entry point)."""
    if _verbosity > QUIET:
        print(message, file=sys.stderr, flush=True)


def step(message: str) -> None:
    """A line on stderr with ``-v`` only: what a command is doing, where a bar would stand."""
    if _verbosity >= VERBOSE:
        print(message, file=sys.stderr, flush=True)


def progress(items: Iterable[T], description: str, total: int | None = None, unit: str = "file") -> Iterable[T]:
    """Wrap ``items`` in a progress bar labelled ``description``: none off a terminal, with ``-q``
    (silence) or with ``-v`` (where a bar would stand, the work says a line per step, as off a terminal)."""
    return tqdm(
        items, desc=description, total=total, unit=unit, dynamic_ncols=True, leave=False, disable=True if _verbosity != NORMAL else None
    )

"""The project's exception types: one base for everything a user can act on, a few subclasses by
kind, and one for our own bugs.

``CountertrackError`` and its kinds are printed by the command line as one line with exit code 1
(``UsageError``: 2). ``InternalError`` is a bug in countertrack, never a problem with the user's
files: exit code 3 and a message that says so. Catching ``CountertrackError`` catches them all.
"""

from __future__ import annotations

import os


class CountertrackError(Exception):
    """A problem the user can act on; the message names the file (when there is one) and the problem.

    The command line prints it as one line and exits with ``exit_code`` (1).
    """

    exit_code = 1

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None):
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class AudioError(CountertrackError):
    """An audio file that cannot be read or written as asked."""


class BundleError(CountertrackError):
    """A bundle (folder or zip) that is damaged, inconsistent or not one this version reads."""


class ConfigurationError(CountertrackError):
    """A setting out of range or inconsistent: a preset, an option, a MIDI file of tempo or automation, a stream's format."""


class UsageError(CountertrackError):
    """Options that do not go together on the command line (exit code 2, like argparse's own errors)."""

    exit_code = 2


class InternalError(CountertrackError):
    """An inconsistency countertrack should never reach: a bug, not the user's input (exit code 3)."""

    exit_code = 3

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None):
        super().__init__(f"internal error (a bug in countertrack, not a problem with your files; please report it): {problem}", path)

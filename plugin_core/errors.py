"""The one exception type the project raises for bad input and failed work."""

from __future__ import annotations

import os


class CountertrackError(Exception):
    """A problem the user can act on; the message names the file (when there is one) and the problem.

    The command line prints it as one line and exits with code 1.
    """

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None):
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")

"""Run ``countertrack`` commands in a long-lived child process, each bounded in time and memory, for the
fuzz tests: a hang is killed and reported (the child is restarted), a memory runaway becomes a
MemoryError (the child's address space is capped), and any exception that is not a CountertrackError
comes back with its traceback. The child imports everything once, so an example costs its command.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass

from tests.paths import ROOT

MEMORY_LIMIT_BYTES = 3 << 30

_CHILD = r"""
import contextlib, io, json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from host_scripts.cli import main
out = sys.stdout
sys.stdout = io.StringIO()
print(json.dumps({{"ready": True}}), file=out, flush=True)
for line in sys.stdin:
    argv = json.loads(line)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        reply = {{"code": code, "err": err.getvalue()}}
    except BaseException as exc:  # what main let through: never expected
        reply = {{"code": "exception", "err": err.getvalue() + traceback.format_exc()}}
    print(json.dumps(reply), file=out, flush=True)
"""


@dataclass(frozen=True)
class Outcome:
    code: int | str  # the exit code, "exception" or "timeout"
    err: str


class CommandRunner:
    """One child process running commands on request; ``run`` returns within ``timeout_s``."""

    def __init__(self, env: dict[str, str] | None = None):
        self._env = {**os.environ, **(env or {}), "COUNTERTRACK_DEBUG": "1"}
        self._process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD.format(limit=MEMORY_LIMIT_BYTES)],
            cwd=ROOT,
            env=self._env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._read(process, 120.0) == {"ready": True}
        return process

    @staticmethod
    def _read(process: subprocess.Popen, timeout_s: float) -> dict | None:
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        if not ready:
            return None
        line = process.stdout.readline()
        return json.loads(line) if line else {"code": "exception", "err": "the child process died"}

    def run(self, argv: list, timeout_s: float = 60.0) -> Outcome:
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        self._process.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        self._process.stdin.flush()
        reply = self._read(self._process, timeout_s)
        if reply is None:
            self.close()
            return Outcome("timeout", f"still running after {timeout_s} s: {argv}")
        return Outcome(reply["code"], reply["err"])

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

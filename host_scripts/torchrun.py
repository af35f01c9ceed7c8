"""``countertrack train --nproc N``: the same command again under torchrun, N processes on this
machine, each joining the group (``export.train.distributed``). Stopped (Ctrl-C, SIGTERM), it stops torchrun,
which stops its workers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from plugin_core.errors import CountertrackError

STOP_TIMEOUT_S = 30.0


def without_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` less its ``--nproc N`` (or ``--nproc=N``): what each worker process runs."""
    out: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def torchrun_command(argv: Sequence[str], nproc: int) -> list[str]:
    """The torchrun command line for ``countertrack ARGV`` on ``nproc`` local processes (a standalone
    rendezvous on a free port, so two runs on one machine do not collide)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "host_scripts",
        *without_nproc(argv),
    ]


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``countertrack ARGV`` on ``nproc`` processes under torchrun and wait for it."""
    if nproc < 1:
        raise CountertrackError(f"--nproc takes a positive number of processes, not {nproc}")
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise CountertrackError("--nproc inside torchrun: start the command once, with one of the two")
    process = subprocess.Popen(torchrun_command(argv, nproc))
    try:
        code = process.wait()
    except BaseException:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    if code:
        raise CountertrackError(f"training on {nproc} processes failed (torchrun exit code {code}; the workers' messages are above)")
    return 0

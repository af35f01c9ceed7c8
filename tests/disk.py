"""Test helpers for the file system: a really full disk, and a snapshot of a folder's files."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator[bool]:
    """Mount a tmpfs of ``size_kb`` KiB at ``folder`` (needs root); yields whether it is mounted, so a
    test can fall back on ``file_size_limit`` where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], capture_output=True).returncode == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def file_size_limit(limit_bytes: int):
    """A ``preexec_fn`` for a child process whose writes past ``limit_bytes`` fail with EFBIG, as on a full disk."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


def without_root_file_access() -> None:
    """In a child process, before exec: drop the capabilities that let root write anywhere, so a read-only
    folder is read-only even when the suite runs as root (as CI containers do)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop root's file-access capabilities")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def entries(folder: Path) -> list[str]:
    """Every name under ``folder``, files and folders, hidden ones included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))

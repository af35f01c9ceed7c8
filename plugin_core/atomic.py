"""Atomic file output: write to a temporary file in the target folder, then rename over the target.

A crash, a full disk or an exception mid-write never leaves a partial file under the final name and
never damages an existing file. JSON files are written here, and read back with ``read_json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plugin_core.errors import CountertrackError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same extension); rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CountertrackError("output folder does not exist", folder)
    if target.is_dir():
        raise CountertrackError("is a directory, expected a file path", target)
    if not overwrite and target.exists():
        raise CountertrackError("already exists (use --force to overwrite)", target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=folder)
    except OSError as exc:
        raise CountertrackError(f"cannot write in this folder ({exc.strerror})", folder) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private; give it the mode a plain open() would have (or the old file's)
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted UTF-8 JSON to ``target`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_bytes_atomic(target, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str], problem: str = "not valid JSON") -> Any:
    """The JSON in ``path``; an unreadable file, bad UTF-8 or bad JSON is one CountertrackError,
    ``problem`` and the reason, naming the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CountertrackError(f"{problem} ({exc})", path) from exc

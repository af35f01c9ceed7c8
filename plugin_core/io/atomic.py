"""Atomic file output: write to a temporary file in the target folder, then move it onto the target.

A crash, a full disk or an exception mid-write never leaves a partial file under the final name and
never damages an existing file. Temporary names carry our process id (``.NAME.ct<pid>-<random>.part.EXT``)
so a later run can sweep those of a process that is gone, and only those. JSON files are written here,
and read back with ``read_json``. Several outputs committed together: ``plugin_core.io.outputs``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plugin_core.errors import CountertrackError
from plugin_core.io.stopping import stops_held

_UMASK = os.umask(0)
os.umask(_UMASK)
_started = time.time()
_NAME_MAX = 255
_TEMP_NAME = re.compile(r"^\..*\.ct(\d+)-[a-z0-9_]{8}\.part(\.[^.]*)?$")
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}
_swept: set[str] = set()


def temp_affixes(target: Path, kind: str = "part") -> tuple[str, str]:
    """(prefix, suffix) of our temporary names beside ``target``: short enough for any target name."""
    suffix = f".{kind}{target.suffix}" if kind == "part" or target.suffix else f".{kind}"
    prefix_tail = f".ct{os.getpid()}-"
    room = _NAME_MAX - len((prefix_tail + suffix).encode()) - 9  # the dot in front and 8 random characters
    stem = target.stem.encode()[: max(0, room)].decode(errors="ignore")
    return f".{stem}{prefix_tail}", suffix


def make_temp(target: Path, *, folder: bool = False, kind: str = "part") -> Path:
    """Create an empty temporary file (or folder) beside ``target``; one line naming the folder if we cannot."""
    parent = target.parent if str(target.parent) else Path(".")
    prefix, suffix = temp_affixes(target, kind)
    try:
        if folder:
            return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
    except OSError as exc:
        raise CountertrackError(f"cannot write in this folder ({exc.strerror})", parent) from exc
    os.close(fd)
    return Path(name)


def remove(path: Path) -> None:
    """Remove a file or folder of ours if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def command_started() -> None:
    """Mark the start of a command (the command line calls it): stale files are those older than this,
    and each folder is swept again once."""
    global _started
    _started = time.time()
    _swept.clear()


def sweep_stale(folder: Path) -> None:
    """Remove temporary files and folders left in ``folder`` by a run of ours that was killed: only our own
    temporary names, only of processes that no longer run, only older than this command. Once per folder."""
    key = os.path.abspath(folder)
    if key in _swept:
        return
    _swept.add(key)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < _started:
                remove(Path(entry.path))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it runs
        return True
    return True


def give_mode(tmp: Path, target: Path, *, folder: bool = False) -> None:
    """Give a temporary file the mode a plain open() would have (or the old target's); mkstemp makes it private."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = (0o777 if folder else 0o666) & ~_UMASK
    os.chmod(tmp, mode)


def place_file(tmp: Path, target: Path, *, replace: bool) -> Path | None:
    """Move the finished ``tmp`` onto ``target``. Without ``replace`` a file already at ``target`` (even
    one that appeared a moment ago) is kept and the move fails; with it the old file is linked aside
    first. Returns that backup (None when there was nothing to keep), for ``undo_file``."""
    if not replace:
        try:
            os.link(tmp, target)  # fails if target exists: the no-replace primitive
        except FileExistsError:
            raise CountertrackError("appeared while we worked; kept it (use --force to overwrite)", target) from None
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            try:  # no hard links here: reserve the name exclusively, then rename over our reservation
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                raise CountertrackError("appeared while we worked; kept it (use --force to overwrite)", target) from None
            os.replace(tmp, target)
        else:
            tmp.unlink()
        return None
    backup = None
    if target.exists():
        backup = make_temp(target, kind="old")
        backup.unlink()
        try:
            os.link(target, backup)
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            shutil.copy2(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        if backup is not None:
            backup.unlink()
        raise
    return backup


def undo_file(target: Path, backup: Path | None, tmp: Path) -> None:
    """Put back what ``place_file`` replaced (or remove what it created), leaving our file at ``tmp``."""
    os.replace(target, tmp)
    if backup is not None:
        os.replace(backup, target)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same extension); move it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched. Without
    ``overwrite`` an existing target, or one that appears meanwhile, is an error and is kept.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CountertrackError("output folder does not exist", folder)
    if target.is_dir():
        raise CountertrackError("is a directory, expected a file path", target)
    if not overwrite and target.exists():
        raise CountertrackError("already exists (use --force to overwrite)", target)
    sweep_stale(folder)
    tmp: Path | None = None
    try:
        with stops_held():  # a stop waits until the temporary file is known, so the cleanup below removes it
            tmp = make_temp(target)
        yield tmp
        give_mode(tmp, target)
        if overwrite:
            os.replace(tmp, target)  # one file: nothing to put back, no backup needed
        else:
            place_file(tmp, target, replace=False)
    except BaseException:
        if tmp is not None:
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


def read_json(
    path: str | os.PathLike[str],
    problem: str = "not valid JSON",
    max_bytes: int | None = None,
    error: type[CountertrackError] = CountertrackError,
) -> Any:
    """The JSON in ``path``; an unreadable file, one larger than ``max_bytes``, bad UTF-8, bad JSON or
    JSON nested too deeply to parse is one ``error`` (a bundle's: BundleError), ``problem`` and the reason, naming the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(-1 if max_bytes is None else max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise error(f"{problem} (larger than {max_bytes} bytes)", path)
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(f"{problem} ({' '.join(str(exc).split())[:160]})", path) from exc
    except RecursionError:
        raise error(f"{problem} (nested too deeply)", path) from None

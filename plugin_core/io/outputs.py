"""A command's outputs as one transaction: checked before any work, staged beside their targets,
committed together at the end; on failure none changes.

    with plan_outputs([Output(b), Output(mix)], inputs=[a], force=args.force) as outputs:
        write(outputs.staged(b)); write(outputs.staged(mix))
        outputs.commit()

``plan_outputs`` refuses, each with one line naming the output: two outputs that are one file, an
output that is an input (or a folder output holding an input), a missing or unwritable folder, and an
existing target without ``force``. The staged temporary files are created at once (that is the
writability check). ``commit`` moves them onto their targets with a no-replace primitive unless
``force``, so a file that appears at a target during the run is kept and the commit fails; if any
move fails, or a stop (Ctrl-C, SIGTERM) arrives during the moves, the ones already made are undone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import give_mode, make_temp, place_file, remove, sweep_stale, undo_file
from plugin_core.io.stopping import stops_held

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Output:
    """One output of a command: a file, or a folder built whole (a bundle).

    ``replaceable`` says whether an existing folder may be replaced with ``force`` (e.g. only a bundle);
    the message is the one-line reason when it may not.
    """

    target: Path
    folder: bool = False
    replaceable: Callable[[Path], bool] | None = None
    not_replaceable: str = "exists and is not ours to replace"


class OutputSet:
    """Planned outputs with their staged temporary paths; use ``plan_outputs`` to make one."""

    def __init__(self, outputs: Sequence[Output], force: bool):
        self._outputs = list(outputs)
        self._force = force
        self._staged: dict[Path, Path] = {}

    def staged(self, target: PathLike) -> Path:
        """The temporary path to write ``target``'s content to (same extension; a folder for folders)."""
        return self._staged[Path(target)]

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove every staged temporary file or folder (after a commit: nothing is left to remove). A
        stop arriving meanwhile waits for the end, so no temporary file is left half removed."""
        with stops_held():
            for tmp in self._staged.values():
                remove(tmp)

    def commit(self) -> None:
        """Move every staged output onto its target, all or none. A stop (Ctrl-C, SIGTERM) that
        arrives meanwhile waits: the moves made are undone, then it takes effect. Once every output is
        in place the transaction is done: a stop arriving after that leaves them (``command_outputs``
        records them, so the command can say its work was complete)."""
        with stops_held() as stop_waiting:
            done: list[tuple[Output, Path | None]] = []
            current = self._outputs[0] if self._outputs else None
            try:
                for current in self._outputs:
                    tmp = self._staged[current.target]
                    give_mode(tmp, current.target, folder=current.folder)
                    place = _place_folder if current.folder else place_file
                    done.append((current, place(tmp, current.target, replace=self._force)))
                    if stop_waiting():
                        raise _BackedOut()
            except BaseException as exc:
                self._undo(done)
                if isinstance(exc, _BackedOut):
                    return  # the held stop takes effect as the block ends; the caller's cleanup runs then
                if isinstance(exc, OSError):
                    raise CountertrackError(
                        f"cannot write the output ({exc.strerror or exc})", current.target if current else None
                    ) from exc
                raise
            _record_committed([output.target for output in self._outputs])
            for _, backup in done:
                if backup is not None:
                    remove(backup)

    def _undo(self, done: list[tuple[Output, Path | None]]) -> None:
        """Put back every output replaced so far, newest first; one that cannot be put back does not stop
        the others, and is named with where its old content is."""
        stuck: list[str] = []
        for output, backup in reversed(done):
            try:
                (_undo_folder if output.folder else undo_file)(output.target, backup, self._staged[output.target])
            except OSError as exc:
                kept = f" (its old content is at {backup})" if backup is not None else ""
                stuck.append(f"{output.target}: {exc.strerror or exc}{kept}")
        if stuck:
            raise CountertrackError("could not put back the outputs already replaced: " + "; ".join(stuck))


# The outputs committed while a command runs (``command_outputs``); once it ends only its own record
# is kept, until the next one ends: a long-lived host committing many OutputSets keeps none of them.
_lock = threading.Lock()  # commits may come from any thread
_open: dict[int, list[Path]] = {}  # the records of the blocks open now, by id, oldest first
_last: list[Path] = []  # the record of the last block to end


@contextlib.contextmanager
def command_outputs() -> Iterator[list[Path]]:
    """Record the outputs committed while the block runs (one command's work: the command line opens
    it) in the list it yields, in order, from any thread; a command whose list is not empty when a stop
    arrives had completed its transaction. Outside such a block nothing is recorded."""
    global _last
    record: list[Path] = []
    try:
        with _lock:
            _open[id(record)] = record
        yield record
    finally:
        with _lock:
            _last = record  # first: a stop landing between the two steps finds the same record
            _open.pop(id(record), None)


def _record_committed(targets: list[Path]) -> None:
    with _lock:
        for record in _open.values():
            record.extend(targets)


def written_outputs() -> list[Path]:
    """The outputs committed in the innermost ``command_outputs`` block open now, or else in the last
    one to end, in order: what a stop arriving as the command line returns finds in place."""
    with _lock:
        return list(next(reversed(_open.values()), _last))


class _BackedOut(Exception):
    """A stop arrived while the outputs were being placed: undo the moves made."""


def plan_outputs(outputs: Iterable[Output | PathLike | None], inputs: Iterable[PathLike | None] = (), *, force: bool = False) -> OutputSet:
    """Check every output against the others, the inputs and the file system, then stage them all.

    ``None`` entries (options not given) are skipped. Raises CountertrackError naming the first bad output.
    """
    planned = [o if isinstance(o, Output) else Output(Path(o)) for o in outputs if o is not None]
    planned = [Output(Path(o.target), o.folder, o.replaceable, o.not_replaceable) for o in planned]
    sources = [Path(p) for p in inputs if p is not None and os.path.lexists(p)]  # a missing input cannot be overwritten
    for index, output in enumerate(planned):
        for other in planned[:index]:
            if _same(output.target, other.target):
                raise CountertrackError(f"is named as two outputs ({other.target} too)", output.target)
        for source in sources:
            _check_not_input(output, source)
        _check_target(output, force)
    result = OutputSet(planned, force)
    try:
        for output in planned:
            sweep_stale(output.target.parent if str(output.target.parent) else Path("."))
            with stops_held():  # made and recorded as one step: a stop between the two would leak the file
                result._staged[output.target] = make_temp(output.target, folder=output.folder)
    except BaseException:
        result.discard()
        raise
    return result


def _check_target(output: Output, force: bool) -> None:
    target = output.target
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CountertrackError("output folder does not exist", folder)
    if output.folder:
        if target.exists() and not target.is_dir():
            raise CountertrackError("exists and is not a folder", target)
        if target.is_dir() and any(target.iterdir()):
            if output.replaceable is not None and not output.replaceable(target):
                raise CountertrackError(output.not_replaceable, target)
            if not force:
                raise CountertrackError("already exists (use --force to replace it)", target)
        return
    if target.is_dir():
        raise CountertrackError("is a directory, expected a file path", target)
    if target.exists() and not force:
        raise CountertrackError("already exists (use --force to overwrite)", target)


def _check_not_input(output: Output, source: Path) -> None:
    target = output.target
    if _same(target, source):
        raise CountertrackError("is also an input; refusing to overwrite it", target)
    if output.folder and target.resolve() in source.resolve().parents:
        raise CountertrackError(f"holds the input {source}; refusing to replace it", target)


def _same(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same resolved path, or (for existing files) the same inode."""
    if first.resolve() == second.resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _place_folder(staged: Path, target: Path, *, replace: bool) -> Path | None:
    """Rename the built folder onto ``target``. Without ``replace`` only an empty (or no) folder may be
    there: renaming onto an empty folder is atomic and fails on one that filled meanwhile. With it the
    old folder is renamed aside first and returned, for ``_undo_folder``."""
    if not replace:
        created = False
        try:
            os.mkdir(target)  # reserve the name; an existing empty folder is fine
            created = True
        except FileExistsError:
            pass
        try:
            os.rename(staged, target)
        except OSError as exc:
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(target)
            elif exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise CountertrackError("appeared while we worked; kept it (use --force to replace it)", target) from exc
            raise
        return None
    backup = None
    if target.exists():
        backup = make_temp(target, folder=True, kind="old")
        os.rmdir(backup)
        os.rename(target, backup)
    try:
        os.rename(staged, target)
    except BaseException:
        if backup is not None:
            os.rename(backup, target)
        raise
    return backup


def _undo_folder(target: Path, backup: Path | None, staged: Path) -> None:
    os.rename(target, staged)
    if backup is not None:
        os.rename(backup, target)

"""A bundle's files, verified: each one listed in the manifest, inside the bundle, a regular file of an
allowed type, with the recorded sha256; and each one's ``Stamp`` (inode, size, modification time) at
the moment it was hashed, so a file that changes afterwards (during the load, or under a render) is
noticed instead of trusted.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from plugin_core.errors import BundleError

ALLOWED_SUFFIXES = (".onnx", ".data", ".json", ".npz", ".wav", ".md", ".txt")
MAX_FILES = 10_000
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Stamp:
    """What identifies a file's content without reading it: a rewrite in place changes the size or the
    modification time, a replacement the inode."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> Stamp:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of_fd(fd: int) -> str:
    """sha256 of everything an open file holds, read by position (the descriptor's offset is not moved)."""
    digest, position = hashlib.sha256(), 0
    while block := os.pread(fd, _BLOCK, position):
        digest.update(block)
        position += len(block)
    return digest.hexdigest()


def safe_member(root: Path, name: str, source: str | os.PathLike[str]) -> Path:
    """``root / name`` if ``name`` is a relative path that stays inside ``root`` (links followed); else an error."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if not posix.parts or posix.is_absolute() or ".." in posix.parts or ":" in posix.parts[0]:
        raise BundleError(f"refuses the entry {name!r}: it points outside the bundle", source)
    target = (root / Path(*posix.parts)).resolve()
    if root.resolve() not in (target, *target.parents):
        raise BundleError(f"refuses {name!r}: it leads outside the bundle (a link?)", source)
    return target


def open_regular(path: Path, name: str, folder: Path) -> int:
    """A read-only descriptor of the regular file ``path`` (never blocks on a FIFO or a device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BundleError(f"is missing {name}", folder) from None
    except OSError as exc:
        raise BundleError(f"cannot read {name} ({exc.strerror})", folder) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BundleError(f"{name} is not a regular file", folder)
    return fd


def verify_files(folder: Path, manifest: dict[str, Any], required: dict[str, str] | None = None) -> dict[str, Stamp]:
    """Every listed file exists inside the bundle (no link leads out of it), is a regular file of an
    allowed type and has the recorded sha256; every file in ``required`` (what the manifest names:
    role -> name) is among the listed ones. Returns each file's stamp as hashed."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError("manifest lists no files", folder / "manifest.json")
    if len(files) > MAX_FILES:
        raise BundleError(f"manifest lists {len(files)} files, more than a bundle may hold ({MAX_FILES})", folder / "manifest.json")
    check_listed(files, required or {}, folder / "manifest.json")
    stamps = {}
    for name, expected in sorted(files.items()):
        path = safe_member(folder, name, folder)
        if path.suffix.lower() not in ALLOWED_SUFFIXES:
            raise BundleError(f"holds {name!r}, a file type bundles may not contain", folder)
        fd = open_regular(path, name, folder)
        try:
            before = Stamp.of(os.fstat(fd))
            actual = sha256_of_fd(fd)
            after = Stamp.of(os.fstat(fd))
        finally:
            os.close(fd)
        if actual != expected:
            raise BundleError(f"{name} does not match its sha256 in the manifest (changed or damaged)", folder)
        if after != before:
            raise BundleError(f"{name} changed while it was being checked", folder)
        stamps[name] = after
    return stamps


def check_listed(files: dict[str, Any], required: dict[str, str], manifest_path: Path) -> None:
    """Every file the manifest names (role -> name) is listed with its sha256, so none is read unverified."""
    for role, name in required.items():
        if name not in files:
            raise BundleError(f"manifest names {name} ({role}) but does not list it with its sha256", manifest_path)


def check_unchanged(folder: Path, stamps: dict[str, Stamp], names: list[str] | None = None) -> None:
    """Each of ``names`` (default: all) is still the file that was verified: same inode, size and time."""
    for name in names if names is not None else sorted(stamps):
        try:
            now = Stamp.of(os.stat(folder / name))
        except OSError:
            now = None
        if now != stamps[name]:
            raise BundleError(f"{name} changed after it was verified; load the bundle again", folder)

"""Zipped bundles: every entry checked against the manifest before anything is written, then extracted
beside the zip (or, where that folder cannot be ours, into the cache) and verified.

Before extraction: no entry may leave the folder or be a link; no name may appear twice or be both a
file and a folder; the manifest (at most 16 MB) is read first, and every other entry must be a file
it lists, each listed file present, its declared size matching the manifest's ``sizes`` when the
manifest has them, and all of them fitting on the disk. While extracting, no entry may give more
bytes than it declared and each must hash to its sha256. The files go to a temporary folder named
with our process id (swept if a run is killed) and the finished folder is renamed into place,
marked as ours by a marker file: only a folder carrying that marker is ever replaced, so a user's own
``X.zip.d`` is never touched (the extraction then goes to the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from plugin_core.bundle.files import MAX_FILES, Stamp, safe_member, verify_files
from plugin_core.bundle.manifest import MAX_MANIFEST_BYTES, parse_manifest
from plugin_core.errors import BundleError
from plugin_core.io.atomic import give_mode, make_temp, remove, sweep_stale, temp_affixes
from plugin_core.io.cache import cache_folder

MARKER = ".countertrack-extraction"  # in the root of every folder we extract a zip into
_BLOCK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError)


def extract_zip(zip_path: Path, target: Path | None = None) -> tuple[Path, dict[str, Stamp]]:
    """The verified bundle folder inside the extraction of ``zip_path`` (default: ``NAME.zip.d`` beside it),
    and its files' stamps. An earlier extraction of the same bundle is reused when it verifies."""
    explicit = target is not None
    target = target if target is not None else zip_path.with_name(zip_path.name + ".d")
    try:
        archive = zipfile.ZipFile(zip_path)
    except _ZIP_ERRORS as exc:
        raise BundleError(f"not a readable zip ({' '.join(str(exc).split())[:120]})", zip_path) from exc
    with archive:
        files, top, manifest_bytes = _checked_entries(archive, zip_path)
        manifest = parse_manifest(_json(manifest_bytes, zip_path), zip_path)
        candidates = (
            [target]
            if explicit
            else [target, cache_folder("bundles") / f"{zip_path.stem}-{hashlib.sha256(manifest_bytes).hexdigest()[:16]}.d"]
        )
        problems = []
        for place in candidates:
            reused = _reuse(place, top, manifest_bytes, manifest)
            if reused is not None:
                return reused
            if not _ours_or_free(place):
                problems.append(f"{place} is not a folder countertrack extracted")
                continue
            try:
                _extract(archive, files, top, manifest_bytes, manifest, place, zip_path)
            except OSError as exc:  # the folder cannot take it (read-only, no space): try the next place
                problems.append(f"cannot write {place.parent} ({exc.strerror or exc})")
                continue
            folder = place / top
            return folder, verify_files(folder, manifest)
        raise BundleError(f"cannot extract it: {'; '.join(problems)}", zip_path)


def _json(data: bytes, zip_path: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"its manifest is not valid JSON ({' '.join(str(exc).split())[:120]})", zip_path) from exc


def _checked_entries(archive: zipfile.ZipFile, zip_path: Path) -> tuple[dict[str, zipfile.ZipInfo], PurePosixPath, bytes]:
    """(bundle-relative name -> entry, the bundle's folder in the zip, the manifest's bytes), every entry checked."""
    infos = archive.infolist()
    if len(infos) > 2 * MAX_FILES:
        raise BundleError(f"holds {len(infos)} entries, more than a bundle may ({MAX_FILES} files)", zip_path)
    root = Path("/nonexistent-zip-root")
    seen: dict[PurePosixPath, bool] = {}  # normalised name -> is a folder
    for info in infos:
        relative = PurePosixPath(safe_member(root, info.filename, zip_path).relative_to(root).as_posix())
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise BundleError(f"refuses the symbolic link {info.filename!r}", zip_path)
        if relative in seen:
            raise BundleError(f"holds {info.filename!r} twice", zip_path)
        seen[relative] = info.is_dir()
    for name, _is_folder in seen.items():
        for parent in name.parents:
            if parent != PurePosixPath(".") and seen.get(parent) is False:
                raise BundleError(f"holds {parent.as_posix()!r} both as a file and as a folder", zip_path)
    manifests = [info for info in infos if not info.is_dir() and PurePosixPath(info.filename).name == "manifest.json"]
    if len(manifests) != 1:
        raise BundleError("zip holds no single manifest.json", zip_path)
    manifest_info = manifests[0]
    top = PurePosixPath(safe_member(root, manifest_info.filename, zip_path).relative_to(root).as_posix()).parent
    if manifest_info.file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"its manifest declares {manifest_info.file_size} bytes, more than {MAX_MANIFEST_BYTES}", zip_path)
    try:
        with archive.open(manifest_info) as handle:
            manifest_bytes = handle.read(MAX_MANIFEST_BYTES + 1)
    except _ZIP_ERRORS as exc:
        raise BundleError(f"cannot read its manifest ({' '.join(str(exc).split())[:120]})", zip_path) from exc
    manifest = parse_manifest(_json(manifest_bytes, zip_path), zip_path)
    listed = manifest.get("files")
    sizes: dict[str, Any] = manifest["sizes"] if isinstance(manifest.get("sizes"), dict) else {}
    if not isinstance(listed, dict) or not listed:
        raise BundleError("its manifest lists no files", zip_path)
    files: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir() or info is manifest_info:
            continue
        relative = PurePosixPath(safe_member(root, info.filename, zip_path).relative_to(root).as_posix())
        if top not in relative.parents or relative.relative_to(top).as_posix() not in listed:
            raise BundleError(f"holds {info.filename!r}, which its manifest does not list; refusing to extract", zip_path)
        member = relative.relative_to(top).as_posix()
        if member in sizes and sizes[member] != info.file_size:
            raise BundleError(f"declares {info.filename!r} as {info.file_size} bytes; its manifest says {sizes[member]}", zip_path)
        files[member] = info
    missing = sorted(set(listed) - set(files))
    if missing:
        raise BundleError(f"is missing {missing[0]}, which its manifest lists", zip_path)
    return files, top, manifest_bytes


def _reuse(place: Path, top: PurePosixPath, manifest_bytes: bytes, manifest: dict[str, Any]) -> tuple[Path, dict[str, Stamp]] | None:
    """The folder and stamps of an earlier extraction at ``place`` that holds this bundle, whole; else None."""
    folder = place / top
    try:
        if place.is_symlink() or (folder / "manifest.json").read_bytes() != manifest_bytes:
            return None
        return folder, verify_files(folder, manifest)
    except (OSError, BundleError):
        return None


def _ours_or_free(place: Path) -> bool:
    """Whether ``place`` is free, or a real folder holding our marker (an extraction we may replace)."""
    if not os.path.lexists(place):
        return True
    return place.is_dir() and not place.is_symlink() and (place / MARKER).is_file()


def _extract(
    archive: zipfile.ZipFile,
    files: dict[str, zipfile.ZipInfo],
    top: PurePosixPath,
    manifest_bytes: bytes,
    manifest: dict[str, Any],
    place: Path,
    zip_path: Path,
) -> None:
    """Extract into a staging folder beside ``place``, hashing as we go, then rename it into place."""
    place.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(place.parent)  # staging folders of a run that was killed
    needed = sum(info.file_size for info in files.values())
    free = shutil.disk_usage(place.parent).free
    if needed > free:
        raise BundleError(f"needs {needed >> 20} MB to extract; {place.parent} has {free >> 20} MB free", zip_path)
    prefix, suffix = temp_affixes(place)
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=place.parent))  # OSError where we cannot write
    try:
        folder = staging / top
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_bytes(manifest_bytes)
        for name, info in sorted(files.items()):
            _copy_entry(archive, info, folder / name, manifest["files"][name], zip_path)
        (staging / MARKER).write_text(f"extracted by countertrack from {zip_path.name}; replaced or removed freely\n", encoding="utf-8")
        give_mode(staging, place, folder=True)
        _swap_in(staging, place)
    except BaseException:
        remove(staging)
        raise


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, expected_sha256: str, zip_path: Path) -> None:
    """Copy one entry, never more bytes than it declares, and check its sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest, written = hashlib.sha256(), 0
    try:
        with archive.open(info) as source, open(destination, "wb") as sink:
            while block := source.read(_BLOCK):
                written += len(block)
                if written > info.file_size:
                    raise BundleError(f"{info.filename!r} gives more bytes than it declares ({info.file_size})", zip_path)
                digest.update(block)
                sink.write(block)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise BundleError(f"cannot extract {info.filename!r} ({' '.join(str(exc).split())[:120]})", zip_path) from exc
    if digest.hexdigest() != expected_sha256:
        raise BundleError(f"{info.filename!r} does not match its sha256 in the manifest (changed or damaged)", zip_path)


def _swap_in(staging: Path, place: Path) -> None:
    """Rename ``staging`` to ``place``; an older extraction of ours there is moved aside first and removed."""
    aside = None
    if os.path.lexists(place):
        aside = make_temp(place, folder=True)
        aside.rmdir()
        os.rename(place, aside)
    try:
        os.rename(staging, place)
    except OSError:
        if aside is not None and not os.path.lexists(place):
            os.rename(aside, place)
            aside = None
        if not os.path.lexists(place):
            raise
        # another process put an extraction there first: keep it (the caller verifies it)
        remove(staging)
    if aside is not None:
        with contextlib.suppress(OSError):
            remove(aside)

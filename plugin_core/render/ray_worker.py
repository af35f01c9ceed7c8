"""The worker side of the Ray batch (``plugin_core.render.ray_batch``): a bundle travelling as bytes, copied
once per node and loaded once per worker process, and one render from input bytes to output bytes.

Why bytes and not paths: the machines of a cluster need not share a file system. The driver reads
each A track and writes each B track; workers only see what the object store hands them. The bundle
is put in the object store once and fetched by a worker only the first time it needs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plugin_core.errors import BundleError, CountertrackError

_loaded: dict[str, Any] = {}  # bundle key -> Bundle, per worker process


@dataclass(frozen=True)
class BundlePayload:
    """A bundle's files as bytes. ``key`` (sha256 of its manifest, which holds every file's sha256, or
    of the zip) names it on every node; ``name`` is the folder or zip name; ``files`` maps paths
    relative to the bundle (a zip: its own name) to their bytes."""

    key: str
    name: str
    zipped: bool
    files: dict[str, bytes]


def bundle_payload(path: str | os.PathLike[str]) -> BundlePayload:
    """Read a bundle folder (its manifest and the files the manifest lists) or zip into a payload.
    Hashes are checked where it is loaded, on the workers, as ``load_bundle`` always does."""
    source = Path(path)
    if not source.exists():
        raise BundleError("bundle not found", source)
    try:
        if source.is_file():
            data = source.read_bytes()
            return BundlePayload(hashlib.sha256(data).hexdigest(), source.name, True, {source.name: data})
        manifest_bytes = (source / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        names = ["manifest.json", *manifest.get("files", {})]
        files = {name: (source / name).read_bytes() for name in names}
    except FileNotFoundError as exc:
        raise BundleError("is not a complete bundle (a file its manifest lists is missing)", exc.filename or source) from exc
    except (OSError, ValueError, AttributeError) as exc:
        raise BundleError(f"cannot read the bundle ({getattr(exc, 'strerror', None) or exc})", source) from exc
    return BundlePayload(hashlib.sha256(manifest_bytes).hexdigest(), source.name, False, files)


def node_copy(payload: BundlePayload, root: Path | None = None) -> Path:
    """The bundle written under this node's temporary folder, once per node: the first worker builds it
    in a private folder and renames it into place; the others (and later batches) reuse it."""
    folder = (root or Path(tempfile.gettempdir()) / "countertrack-ray") / payload.key
    path = folder / payload.name
    if path.exists():
        return path
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{payload.key}.", dir=folder.parent))
    try:
        base = building if payload.zipped else building / payload.name
        for name, data in payload.files.items():
            file = base / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(data)
        try:
            os.rename(building, folder)
        except OSError:  # another worker of this node placed it first
            if not path.exists():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return path


def worker_bundle(boxed_ref: list[Any], key: str) -> Any:
    """The bundle for ``key``, loaded once per worker process; the object is fetched from the store only
    then. ``boxed_ref`` is the ObjectRef inside a list, so Ray does not fetch it for every task."""
    bundle = _loaded.get(key)
    if bundle is None:
        import ray

        from plugin_core.bundle.load import load_bundle

        payload = ray.get(boxed_ref[0])
        bundle = load_bundle(node_copy(payload), cores=1)  # one task per CPU: the local pool's share on 2 cores with 2 jobs
        _loaded[key] = bundle
    return bundle


@dataclass(frozen=True)
class RayJob:
    """What every task of one Ray batch shares: the bundle's key, the batch's options, and the preset
    and tempo map as the driver read them (the workers need not see the driver's files)."""

    bundle_key: str
    options: Any  # plugin_core.render.batch.BatchOptions
    preset: Any
    tempo_map: bytes | None


def render_bytes(boxed_ref: list[Any], job: RayJob, name: str, data: bytes) -> tuple[str, dict[str, bytes]]:
    """Render the A track ``data`` (its file name ``name``: the extension tells the format) and return
    ("", {"b": B's bytes, and "mix"/"midi" when asked for}), or (one-line error, {}) when this file cannot
    be rendered. The error names the file as the driver knows it, never this worker's temporary copy."""
    from plugin_core.render.batch import render_with_options, targets_for

    with tempfile.TemporaryDirectory(prefix="countertrack-ray-") as tmp:
        source = Path(tmp) / "in" / Path(name).name
        source.parent.mkdir()
        source.write_bytes(data)
        options = job.options
        if job.tempo_map is not None:  # the driver's map, as a file of this worker
            (Path(tmp) / "tempo.mid").write_bytes(job.tempo_map)
            options = replace(options, tempo_map=str(Path(tmp) / "tempo.mid"))
        targets = targets_for(Path(source.name), Path(tmp) / "out", options)
        targets.b.parent.mkdir()
        try:
            render_with_options(worker_bundle(boxed_ref, job.bundle_key), job.preset, source, targets, options)
        except CountertrackError as exc:
            message = str(exc).replace(str(source), name)
            for target in targets.all():
                message = message.replace(str(target), target.name)
            return message, {}
        files = {"b": targets.b, "mix": targets.mix, "midi": targets.midi}
        return "", {kind: path.read_bytes() for kind, path in files.items() if path is not None}

"""Bundles: everything a runtime needs, loadable with onnxruntime and numpy alone.

A bundle is a folder (or a zip of one) holding ``manifest.json``, ``encoder.onnx`` (perception:
audio segment -> embedding and A token), ``decision.onnx`` (one decoding step with caches), the
codebooks (``.npz`` of float arrays) and the memory (``memory/memory.wav`` + ``memory/grains.json``).
The manifest records every file's sha256; loading checks the schema version and every hash
before anything is used, so a changed byte is an error, not a surprise. Nothing in a bundle is
pickled or executable, and a zipped bundle extracts only inside its own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from plugin_core.atomic import read_json
from plugin_core.codebook import Codebook
from plugin_core.compatibility import Compatibility
from plugin_core.decision import DecisionSpec, OnnxStepper
from plugin_core.errors import CountertrackError
from plugin_core.grains import EngineConfig
from plugin_core.memory import Memory, load_memory
from plugin_core.perception import PerceptionSession, PerceptionSpec
from plugin_core.sampling import SamplingConfig

BUNDLE_FORMAT = "countertrack-bundle"
BUNDLE_SCHEMA = 2  # 2: beat grains with descriptors, the learned compatibility
ALLOWED_SUFFIXES = (".onnx", ".json", ".npz", ".wav", ".md", ".txt")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_member(root: Path, name: str, source: str | os.PathLike[str]) -> Path:
    """``root / name`` if ``name`` is a relative path that stays inside ``root``; else an error."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise CountertrackError(f"refuses the entry {name!r}: it points outside the bundle", source)
    target = (root / Path(*posix.parts)).resolve()
    if root.resolve() not in (target, *target.parents):
        raise CountertrackError(f"refuses the entry {name!r}: it points outside the bundle", source)
    return target


def extract_zip(zip_path: Path, target: Path) -> Path:
    """Extract a zipped bundle to ``target`` and return the bundle folder inside it, its files
    checked against the manifest's sha256 (``verify_files``).

    Every entry is checked before anything is written (none may land outside ``target``, none may be
    a link); the files go to a temporary folder beside ``target`` that is renamed into place, so a
    failed extraction leaves nothing. An earlier extraction of the same bundle is reused.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CountertrackError(f"not a readable zip ({exc})", zip_path) from exc
    with archive:
        root = target.resolve()
        members = [(info, safe_member(target, info.filename, zip_path).relative_to(root)) for info in archive.infolist()]
        for info, _ in members:
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise CountertrackError(f"refuses the symbolic link {info.filename!r}", zip_path)
        manifests = [(info, relative) for info, relative in members if relative.name == "manifest.json" and not info.is_dir()]
        if len(manifests) != 1:
            raise CountertrackError("zip holds no single manifest.json", zip_path)
        manifest_info, manifest_path = manifests[0]
        expected_manifest = archive.read(manifest_info)
        if _holds_extraction(target / manifest_path.parent, expected_manifest):
            return target / manifest_path.parent
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for info, relative in members:
                destination = staging / relative
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            if _holds_extraction(target / manifest_path.parent, expected_manifest):  # another process was quicker
                shutil.rmtree(staging)
                return target / manifest_path.parent
            if target.exists():
                shutil.rmtree(target)  # an older or damaged extraction
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    folder = target / manifest_path.parent
    verify_files(folder, read_manifest(folder))
    return folder


def _holds_extraction(folder: Path, manifest_bytes: bytes) -> bool:
    """Whether ``folder`` already holds this bundle, whole and unchanged."""
    manifest_path = folder / "manifest.json"
    try:
        if manifest_path.read_bytes() != manifest_bytes:
            return False
        verify_files(folder, json.loads(manifest_bytes))
    except (OSError, ValueError, CountertrackError):
        return False
    return True


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise CountertrackError("is not a bundle (no manifest.json)", folder)
    manifest = read_json(path, "manifest is not valid JSON")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise CountertrackError("manifest is not a countertrack bundle manifest", path)
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > BUNDLE_SCHEMA:
        raise CountertrackError(f"bundle schema version {version!r} is newer than this countertrack reads ({BUNDLE_SCHEMA}); upgrade countertrack", path)
    return manifest


def validate_manifest(manifest: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Check a manifest against schemas/bundle-manifest.schema.json; the first problem is named."""
    import jsonschema

    schema = json.loads(resources.files("plugin_core").joinpath("schemas/bundle-manifest.schema.json").read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise CountertrackError(f"manifest does not follow the bundle schema at {where}: {errors[0].message}", path)


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Every listed file exists inside the bundle, has an allowed type and the recorded sha256."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise CountertrackError("manifest lists no files", folder / "manifest.json")
    for name, expected in sorted(files.items()):
        path = safe_member(folder, name, folder)
        if path.suffix.lower() not in ALLOWED_SUFFIXES:
            raise CountertrackError(f"holds {name!r}, a file type bundles may not contain", folder)
        if not path.is_file():
            raise CountertrackError(f"is missing {name}", folder)
        if sha256_of(path) != expected:
            raise CountertrackError(f"{name} does not match its sha256 in the manifest (changed or damaged)", folder)


@dataclass
class Bundle:
    """A loaded, verified bundle: perception and decision sessions, memory and defaults."""

    folder: Path
    manifest: dict[str, Any]
    perception: PerceptionSession
    decision: OnnxStepper
    decision_spec: DecisionSpec
    memory: Memory
    response_centroids: np.ndarray
    sampling_defaults: SamplingConfig
    engine_defaults: EngineConfig
    compatibility: Compatibility | None = None  # what the training pairs taught about A and B together

    @property
    def sample_rate(self) -> int:
        return self.memory.sample_rate


def perception_threads(encoder: dict[str, Any], cores: int | None = None) -> int:
    """onnxruntime threads for a perception graph on ``cores`` (default: all): the spectral encoder is
    too small to gain from a second thread (it loses 30 %), a neural encoder gains from every core
    (Wav2Vec2-base: 1.75x on 2)."""
    cores = cores or os.cpu_count() or 1
    return 1 if encoder.get("backend", "spectral") == "spectral" else max(1, min(cores, 8))


def load_bundle(path: str | os.PathLike[str], *, threads: int | None = None, extract_to: str | os.PathLike[str] | None = None,
                cores: int | None = None) -> Bundle:
    """Load a bundle folder or zip; verify schema and hashes first. Zips extract to ``extract_to``
    (default: a folder named after the zip beside it). ``threads`` is for the perception graph
    (default: ``perception_threads`` for ``cores``, e.g. a batch worker's share); the decision step
    is small and always runs on one."""
    source = Path(path)
    if not source.exists():
        raise CountertrackError("bundle not found", source)
    zipped = source.is_file()
    if zipped:
        folder = extract_zip(source, Path(extract_to) if extract_to else source.with_suffix(source.suffix + ".d"))
    else:
        folder = source
    manifest = read_manifest(folder)
    validate_manifest(manifest, folder / "manifest.json")
    if not zipped:  # extract_zip checked the hashes as it extracted or reused the folder
        verify_files(folder, manifest)
    try:
        perception_spec = PerceptionSpec.from_dict(manifest["perception"]["spec"])
        decision_spec = DecisionSpec.from_dict(manifest["decision"]["spec"])
        threads = perception_threads(perception_spec.encoder, cores) if threads is None else threads
        perception = PerceptionSession(folder / manifest["perception"]["graph"], perception_spec, threads=threads)
        decision = OnnxStepper(folder / manifest["decision"]["graph"], decision_spec, threads=1)
        memory = load_memory(folder / manifest["memory"]["folder"])
        centroids = Codebook.load(folder / manifest["codebooks"]["response"]).centroids
        sampling = SamplingConfig(**manifest["sampling_defaults"])
        engine = EngineConfig(**manifest["engine_defaults"])
        compatibility = Compatibility.load(folder / manifest["compatibility"]) if manifest.get("compatibility") else None
    except (KeyError, TypeError) as exc:
        raise CountertrackError(f"manifest is missing or mistypes a field ({exc})", folder / "manifest.json") from exc
    if memory.grains.label.size and memory.grains.label.max() >= decision_spec.vocab_size:
        raise CountertrackError("memory labels exceed the decision vocabulary", folder)
    return Bundle(folder=folder, manifest=manifest, perception=perception, decision=decision, decision_spec=decision_spec,
                  memory=memory, response_centroids=centroids, sampling_defaults=sampling, engine_defaults=engine,
                  compatibility=compatibility)

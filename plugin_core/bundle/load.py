"""Bundles: everything a runtime needs, loadable with onnxruntime and numpy alone.

A bundle is a folder (or a zip of one) holding ``manifest.json``, ``encoder.onnx`` (perception:
audio segment -> embedding and A token), ``decision.onnx`` (one decoding step with caches), the
codebooks (``.npz`` of float arrays) and the memory (``memory/memory.wav`` + ``memory/grains.json``).
The manifest records every file's sha256; loading checks the manifest (``bundle_manifest``), every
file it names and every hash (``bundle_files``) before anything is used, so a changed byte is an
error, not a surprise; the memory is then watched for changes during a render (``memory``). Nothing in
a bundle is pickled or executable, and a zipped bundle is checked whole before it is extracted
(``bundle_zip``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.bundle.archive import extract_zip
from plugin_core.bundle.files import ALLOWED_SUFFIXES, Stamp, check_listed, check_unchanged, safe_member, sha256_of, verify_files
from plugin_core.bundle.manifest import (
    BUNDLE_FORMAT,
    BUNDLE_SCHEMA,
    check_manifest,
    engine_config_from_dict,
    read_manifest,
    referenced_files,
    validate_manifest,
)
from plugin_core.bundle.onnx_check import check_io, external_data, external_data_names
from plugin_core.decision.config import DecisionConfig
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import OnnxStepper
from plugin_core.engine.compatibility import Compatibility
from plugin_core.engine.grain_table import check_against
from plugin_core.engine.grains import EngineConfig
from plugin_core.engine.memory import Memory, load_memory
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.labeller import PerceptionSession, PerceptionSpec

__all__ = [
    "ALLOWED_SUFFIXES",
    "BUNDLE_FORMAT",
    "BUNDLE_SCHEMA",
    "Bundle",
    "extract_zip",
    "load_bundle",
    "perception_threads",
    "read_manifest",
    "safe_member",
    "sha256_of",
    "validate_manifest",
    "verify_files",
]


@dataclass
class Bundle:
    """A loaded, verified bundle: perception and decision sessions, memory and defaults."""

    folder: Path
    manifest: dict[str, Any]
    perception: PerceptionSession
    decision: OnnxStepper
    decision_config: DecisionConfig
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


def load_bundle(
    path: str | os.PathLike[str], *, threads: int | None = None, extract_to: str | os.PathLike[str] | None = None, cores: int | None = None
) -> Bundle:
    """Load a bundle folder or zip, trusting nothing in it until checked: the manifest (schema, ranges,
    consistency), then every file it names (listed, inside the bundle, sha256), then each graph's
    inputs and outputs and the memory's tables against the manifest. Zips extract to ``extract_to``
    (default: a folder named after the zip beside it, else the cache; ``plugin_core.bundle.archive``).
    ``threads`` is for the perception graph (default: ``perception_threads`` for ``cores``, e.g. a batch
    worker's share); the decision step is small and always runs on one.

    Raises
    ------
    BundleError
        Anything wrong with the bundle, one line naming the file inside it and the problem.
    """
    source = Path(path)
    if not source.exists():
        raise BundleError("bundle not found", source)
    if source.is_file():
        folder, stamps = extract_zip(source, Path(extract_to) if extract_to else None)
        manifest = read_manifest(folder)
        named = _checked(manifest, folder)
        check_listed(manifest["files"], named, folder / "manifest.json")  # extract_zip verified every listed file
    else:
        folder = source
        manifest = read_manifest(folder)
        named = _checked(manifest, folder)
        stamps = verify_files(folder, manifest, named)
    for role in ("perception graph", "decision graph"):
        for name in external_data_names(named[role], external_data(folder / named[role]), folder):
            if name not in stamps:
                raise BundleError(
                    f"{named[role]} keeps weights in {name}, which the manifest does not list with its sha256", folder / "manifest.json"
                )
    try:
        bundle = _assemble(folder, manifest, named, stamps, threads, cores)
    except (KeyError, TypeError) as exc:
        raise BundleError(f"manifest is missing or mistypes a field ({exc})", folder / "manifest.json") from exc
    check_unchanged(folder, stamps)  # nothing was swapped while we loaded it
    return bundle


def _checked(manifest: dict[str, Any], folder: Path) -> dict[str, str]:
    """The manifest checked against the schema and the runtime's ranges; the files it names (role -> name)."""
    path = folder / "manifest.json"
    validate_manifest(manifest, path)
    check_manifest(manifest, path)
    return referenced_files(manifest, path)


def _assemble(
    folder: Path, manifest: dict[str, Any], named: dict[str, str], stamps: dict[str, Stamp], threads: int | None, cores: int | None
) -> Bundle:
    """Open the verified files and check each against the manifest."""
    manifest_path = folder / "manifest.json"
    try:
        perception_spec = PerceptionSpec.from_dict(manifest["perception"]["spec"])
        decision_config = DecisionConfig.from_dict(manifest["decision"]["spec"], manifest_path, BundleError)
        sampling = SamplingConfig.from_dict(manifest["sampling_defaults"], manifest_path, BundleError)
        engine = engine_config_from_dict(manifest["engine_defaults"], manifest_path, BundleError)
    except CountertrackError as exc:
        raise BundleError(exc.problem, manifest_path) from exc
    threads = perception_threads(perception_spec.encoder, cores) if threads is None else threads
    perception = PerceptionSession(folder / named["perception graph"], perception_spec, threads=threads)
    check_io(perception._session, manifest["perception"]["inputs"], manifest["perception"]["outputs"], folder / named["perception graph"])
    decision = OnnxStepper(folder / named["decision graph"], decision_config, threads=1)
    check_io(decision._session, manifest["decision"]["inputs"], manifest["decision"]["outputs"], folder / named["decision graph"])
    audio, grains = named["memory audio"], named["memory grain table"]
    memory = load_memory(
        folder / manifest["memory"]["folder"],
        audio=Path(audio).name,
        grains=Path(grains).name,
        stamp=stamps[audio],
        content_sha256=manifest["files"][audio],
    )
    if (memory.sample_rate, memory.channels) != (manifest["memory"]["sample_rate"], manifest["memory"]["channels"]):
        raise BundleError(
            f"memory audio is {memory.channels} channel(s) at {memory.sample_rate} Hz; the manifest says "
            f"{manifest['memory']['channels']} at {manifest['memory']['sample_rate']} Hz",
            memory.path,
        )
    check_against(memory.grains.label, memory.grains.track, decision_config.vocab_size, len(manifest["memory"]["tracks"]), folder / grains)
    guide = Codebook.load(folder / named["guide codebook"])
    response = Codebook.load(folder / named["response codebook"])
    for role, book, vocab in (
        ("guide codebook", guide, perception_spec.vocab_size),
        ("response codebook", response, decision_config.vocab_size),
    ):
        if book.vocab_size != vocab:
            raise BundleError(f"holds {book.vocab_size} centroids; the vocabulary is {vocab}", folder / named[role])
    compatibility = Compatibility.load(folder / named["compatibility"]) if "compatibility" in named else None
    return Bundle(
        folder=folder,
        manifest=manifest,
        perception=perception,
        decision=decision,
        decision_config=decision_config,
        memory=memory,
        response_centroids=response.centroids,
        sampling_defaults=sampling,
        engine_defaults=engine,
        compatibility=compatibility,
    )

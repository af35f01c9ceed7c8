"""A bundle's manifest.json: read it, validate it against the schema, then check what a schema cannot
say: every number finite and within the range the runtime can afford (a ``lookahead`` of 5000 once
took 2.3 GB for 3 s of A), the graph tensors named as the runtime feeds them, the parts consistent
with each other (vocabularies, special tokens), and which files the manifest names (``referenced_files``).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from plugin_core.decision.config import ANTICIPATE
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import STEP_INPUTS, STEP_OUTPUTS
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.atomic import read_json
from plugin_core.io.records import checked_keys, checked_schema_version
from plugin_core.io.validation import finite_numbers, whole_number
from plugin_core.perception.segmentation import SegmentationConfig

BUNDLE_FORMAT = "countertrack-bundle"
BUNDLE_SCHEMA = 2  # 2: beat grains with descriptors, the learned compatibility
MAX_MANIFEST_BYTES = 16 << 20
ENCODER_RATES_HZ = (8000, 192000)
MAX_MIN_SAMPLES_S = 10  # the shortest segment the encoder takes is at most this long
MAX_CACHE_FLOATS = 1 << 26  # the decision caches (4 of layers x heads x window x head_dim) stay under 256 MB
MAX_TRACKS = 100_000


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the bundle folder: a countertrack manifest of a schema this version reads."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise BundleError("is not a bundle (no manifest.json)", folder)
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"manifest is larger than {MAX_MANIFEST_BYTES >> 20} MB", path)
    return parse_manifest(read_json(path, "manifest is not valid JSON", error=BundleError), path)


def parse_manifest(manifest: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """``manifest`` (parsed JSON) if it is a countertrack manifest of a schema this version reads."""
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError("manifest is not a countertrack bundle manifest", path)
    checked_schema_version(manifest.get("schema_version"), BUNDLE_SCHEMA, "bundle", path, error=BundleError)
    return manifest


def validate_manifest(manifest: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Check a manifest against schemas/bundle-manifest.schema.json; the first problem is named."""
    import jsonschema

    schema = json.loads(resources.files("plugin_core").joinpath("schemas/bundle-manifest.schema.json").read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise BundleError(f"manifest does not follow the bundle schema at {where}: {' '.join(errors[0].message.split())[:200]}", path)


def referenced_files(manifest: dict[str, Any], path: str | os.PathLike[str]) -> dict[str, str]:
    """role -> bundle-relative name of every file the manifest names (graphs, codebooks, compatibility,
    memory audio and grain table); the memory's files must lie in its folder."""
    named = {
        "perception graph": manifest["perception"]["graph"],
        "decision graph": manifest["decision"]["graph"],
        "guide codebook": manifest["codebooks"]["guide"],
        "response codebook": manifest["codebooks"]["response"],
        "memory audio": manifest["memory"]["audio"],
        "memory grain table": manifest["memory"]["grains"],
    }
    if manifest.get("compatibility"):
        named["compatibility"] = manifest["compatibility"]
    folder = PurePosixPath(manifest["memory"]["folder"])
    for role in ("memory audio", "memory grain table"):
        if PurePosixPath(named[role]).parent != folder:
            raise BundleError(f"the {role} {named[role]} is not in the memory folder {folder}", path)
    named = {role: PurePosixPath(name).as_posix() for role, name in named.items()}
    if len(set(named.values())) != len(named):
        raise BundleError("manifest names one file for two parts of the bundle", path)
    return named


ENGINE_ADDED_LATER = ("harmony", "stretch", "late_look_s")  # a bundle written before them reads them as their defaults


def engine_config_from_dict(
    data: Any, source: str | os.PathLike[str] | None = None, error: type[CountertrackError] = BundleError
) -> EngineConfig:
    """``EngineConfig``'s strict reader (``checked_keys``, as ``SamplingConfig.from_dict``): an unknown
    setting or a missing one is one ``error`` naming ``source``, and so is a value out of range."""
    data = checked_keys(EngineConfig, data, "the engine defaults are", source, may_omit=ENGINE_ADDED_LATER, error=error)
    try:
        return EngineConfig(**data)
    except CountertrackError as exc:
        raise error(exc.problem, source) from None


def check_manifest(manifest: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Numbers finite and in range, tensor names as the runtime uses them, parts consistent (after ``validate_manifest``)."""
    finite_numbers({key: value for key, value in manifest.items() if key != "provenance"}, path, error=BundleError)
    perception, decision, memory = manifest["perception"]["spec"], manifest["decision"]["spec"], manifest["memory"]
    rate = whole_number(perception["sample_rate"], *ENCODER_RATES_HZ, "perception.spec.sample_rate (Hz)", path, BundleError)
    whole_number(perception["min_samples"], 1, MAX_MIN_SAMPLES_S * rate, "perception.spec.min_samples", path, BundleError)
    whole_number(perception["embedding_dim"], 1, 1 << 16, "perception.spec.embedding_dim", path, BundleError)
    vocab = whole_number(decision["vocab_size"], 2, 1024, "decision.spec.vocab_size", path, BundleError)
    whole_number(
        perception["vocab_size"], 2, vocab, "perception.spec.vocab_size (A tokens share the decision's vocabulary)", path, BundleError
    )
    layers = whole_number(decision["layers"], 1, 64, "decision.spec.layers", path, BundleError)
    heads = whole_number(decision["heads"], 1, 64, "decision.spec.heads", path, BundleError)
    head_dim = whole_number(decision["head_dim"], 1, 1024, "decision.spec.head_dim", path, BundleError)
    context = whole_number(decision["context"], 2, 4096, "decision.spec.context", path, BundleError)
    lookahead = whole_number(
        decision["lookahead"], ANTICIPATE, min(64, context - 1), "decision.spec.lookahead (segments; -1 anticipates)", path, BundleError
    )
    steps = context + max(0, lookahead)
    if 4 * layers * heads * head_dim * steps > MAX_CACHE_FLOATS:
        raise BundleError(
            f"decision caches of {layers} layers x {heads} heads x {steps} steps x {head_dim} would exceed {MAX_CACHE_FLOATS * 4 >> 20} MB",
            path,
        )
    special = manifest["decision"]["special_tokens"]
    if (special.get("bos"), special.get("pad"), special.get("mask")) != (vocab, vocab + 1, vocab + 2):
        raise BundleError(f"decision.special_tokens must be bos {vocab}, pad {vocab + 1}, mask {vocab + 2} (after the vocabulary)", path)
    _check_tensors(manifest["perception"], [perception.get("input_name")], list(perception.get("output_names", [])), "perception", path)
    _check_tensors(manifest["decision"], list(STEP_INPUTS), list(STEP_OUTPUTS), "decision", path)
    logits = next(item["shape"] for item in manifest["decision"]["outputs"] if item["name"] == "logits")
    if logits != [vocab]:
        raise BundleError(f"decision.outputs logits must have the shape [{vocab}] (the vocabulary), not {logits}", path)
    embedding = next(item["shape"] for item in manifest["perception"]["outputs"] if item["name"] == perception["output_names"][0])
    if len(embedding) != 2 or embedding[1] != perception["embedding_dim"]:
        raise BundleError(
            f"perception.outputs {perception['output_names'][0]} must have the shape [batch, {perception['embedding_dim']}], "
            f"not {embedding}",
            path,
        )
    whole_number(memory["sample_rate"], 8000, 384000, "memory.sample_rate (Hz)", path, BundleError)
    whole_number(memory["channels"], 1, 2, "memory.channels", path, BundleError)
    if len(memory["tracks"]) > MAX_TRACKS or any(track["start"] >= track["end"] for track in memory["tracks"]):
        raise BundleError("memory.tracks must each start before they end", path)
    try:
        segmentation = SegmentationConfig.from_dict(perception["segmentation"])
        SamplingConfig.from_dict(manifest["sampling_defaults"], path, BundleError)
        engine = engine_config_from_dict(manifest["engine_defaults"], path, BundleError)
    except CountertrackError as exc:
        raise BundleError(exc.problem, path) from exc
    except TypeError as exc:
        raise BundleError(f"manifest has a setting this version does not know ({exc})", path) from exc
    if segmentation.tempo_map:
        raise BundleError("perception.spec.segmentation.tempo_map must be null in a bundle (it would name a file outside it)", path)
    whole_number(engine.max_run, 1, 100_000, "engine_defaults.max_run", path, BundleError)
    whole_number(engine.avoid_recent, 0, 1000, "engine_defaults.avoid_recent", path, BundleError)
    whole_number(manifest["sampling_defaults"]["top_k"], 0, 1024, "sampling_defaults.top_k", path, BundleError)


def _check_tensors(section: dict[str, Any], inputs: list[Any], outputs: list[Any], where: str, path: str | os.PathLike[str]) -> None:
    """The declared tensors are the ones the runtime feeds and fetches; their fixed sizes are sane."""
    for role, wanted in (("inputs", inputs), ("outputs", outputs)):
        declared = [item["name"] for item in section[role]]
        if sorted(declared) != sorted(str(name) for name in wanted):
            raise BundleError(f"{where}.{role} are {', '.join(declared)}; the runtime uses {', '.join(str(n) for n in wanted)}", path)
        for item in section[role]:
            for size in item["shape"]:
                if not isinstance(size, str) and not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= 1 << 31):
                    raise BundleError(f"{where}.{role} {item['name']} has a size {size!r} that is neither a name nor 1..2^31", path)

"""``countertrack export``: freeze a trained run and a memory into a self-contained bundle.

Like RAVE's export script, it checks the contract at export time: the perception graph must give
PyTorch's tokens on real audio, and the decision step graph must decode PyTorch's tokens exactly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from export.data.provenance import data_licences
from export.model.encoders import EncoderSpec, build_encoder
from export.onnx.decision_export import check_decision_parity, export_step_graph
from export.onnx.golden import write_golden_vectors
from export.onnx.perception_export import export_perception
from export.train.run import Run
from plugin_core import __version__
from plugin_core.bundle.load import BUNDLE_FORMAT, BUNDLE_SCHEMA, load_bundle, sha256_of, validate_manifest
from plugin_core.decision.config import special_tokens
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import STEP_INPUTS, STEP_OUTPUTS
from plugin_core.engine.grains import ANTICIPATING_HARMONY, EngineConfig
from plugin_core.engine.memory_build import MemorySource, build_memory, own_grid
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.atomic import read_json, write_json_atomic
from plugin_core.io.audio import AUDIO_EXTENSIONS, read_audio
from plugin_core.io.corpus import load_corpus
from plugin_core.io.outputs import Output, plan_outputs
from plugin_core.perception.labeller import PerceptionSession, PerceptionSpec, encoder_input
from plugin_core.perception.segmentation import SegmentationConfig, make_grid

MIN_TOKEN_AGREEMENT = 0.995


def memory_sources(run: Run, memory: list[str] | None) -> list[MemorySource]:
    """Recordings for the memory: the given files and corpora, else the run's training B tracks; a
    corpus pair rendered from a score brings its MIDI, whose tempo map gives the recording's beats."""

    def from_corpus(corpus_dir: str | Path, ids: set[str] | None) -> list[MemorySource]:
        corpus = load_corpus(corpus_dir)
        return [
            MemorySource(corpus.path_of(p.response), corpus.path_of(p.provenance["midi"]) if p.provenance.get("midi") else None)
            for p in corpus.pairs
            if ids is None or p.id in ids
        ]

    if not memory:
        return from_corpus(run.config.corpus, set(run.split.train))
    sources: list[MemorySource] = []
    for item in memory:
        path = Path(item)
        if (path / "corpus.json").is_file():
            sources += from_corpus(path, None)
        elif path.is_dir():
            sources += [MemorySource(p) for p in sorted(path.iterdir()) if p.suffix.lower() in AUDIO_EXTENSIONS]
        else:
            sources.append(MemorySource(path))
    if not sources:
        raise CountertrackError("no memory audio found in --memory")
    return sources


def portable_path(value: str | None) -> str | None:
    """A path as a manifest records it: the file or folder name only (a bundle travels; two builds in
    other folders agree). None stays None; a hub id (``org/model``, not a path on this machine) stays."""
    if not value:
        return None
    path = Path(value)
    return path.name if path.is_absolute() or path.exists() or ".." in path.parts else value


def portable_encoder(settings: dict[str, Any]) -> dict[str, Any]:
    """The encoder's settings as a manifest records them: its model folder by name."""
    return {**settings, "path": portable_path(settings.get("path"))}


def portable_config(config: Any) -> dict[str, Any]:
    """A run's training settings as the manifest records them: the corpus, a tempo map and the
    encoder's model folder by their names, never a path of the machine that built the bundle."""
    data = asdict(config)
    segmentation = dict(data["segmentation"])
    if segmentation.get("tempo_map") not in (None, "pair"):
        segmentation["tempo_map"] = portable_path(segmentation["tempo_map"])
    return {**data, "corpus": Path(config.corpus).name, "segmentation": segmentation, "encoder": portable_encoder(data["encoder"])}


def bundle_segmentation(settings: dict[str, Any]) -> SegmentationConfig:
    """The segmentation a bundle's perception spec records: the run's unit, without its tempo map (the
    training songs' beats, a file of the build machine, are not A's; a render takes A's from
    ``--bpm``/``--tempo-map`` or finds them)."""
    return SegmentationConfig.from_dict({**SegmentationConfig.from_dict(settings).to_dict(), "tempo_map": None})


def export_bundle(
    run: Run,
    out_dir: str | os.PathLike[str],
    *,
    memory: list[str] | None = None,
    memory_limit_s: float | None = None,
    sampling: SamplingConfig | None = None,
    engine: EngineConfig | None = None,
    make_zip: bool = False,
    force: bool = False,
    extra_manifest: dict[str, Any] | None = None,
    golden_input: str | os.PathLike[str] | None = None,
    golden_seconds: float = 10.0,
    log: Callable[[str], None] = print,
) -> Path:
    """Write the bundle folder (and ``.zip`` beside it when asked); return the folder.

    The bundle is built whole in a staging folder beside ``out_dir``, loaded back as the runtime would,
    zipped, and only then moved into place together with the zip (``plugin_core.io.outputs``): a failed
    export changes nothing. An existing bundle is replaced only with ``force``; a folder that is not a
    bundle never is. A golden test vector (an input excerpt and the tokens and grains the runtime chose
    for it with seed 0) is added so a native port can check itself; its input is ``golden_input`` or the
    first memory recording's guide counterpart when none is given."""
    out = Path(out_dir)
    zip_path = zip_path_of(out) if make_zip else None
    planned = [
        Output(
            out,
            folder=True,
            replaceable=lambda p: (p / "manifest.json").is_file(),
            not_replaceable="exists and is not a bundle; refusing to replace it",
        ),
        zip_path,
    ]
    inputs = [run.folder, run.config.corpus, golden_input, *(memory or [])]
    with plan_outputs(planned, inputs, force=force) as outputs:
        staging = outputs.staged(out)
        _build_bundle(
            run,
            staging,
            memory=memory,
            memory_limit_s=memory_limit_s,
            sampling=sampling,
            engine=engine,
            extra_manifest=extra_manifest,
            golden_input=golden_input,
            golden_seconds=golden_seconds,
            log=log,
        )
        load_bundle(staging)  # the runtime must accept what we wrote
        if zip_path:
            zip_folder(staging, outputs.staged(zip_path), name=out.name)
        outputs.commit()
    return out


def zip_path_of(folder: Path) -> Path:
    """Where ``export --zip`` writes the zip of the bundle ``folder``: beside it, ``NAME.ctbundle.zip``."""
    return folder.with_suffix(folder.suffix + ".zip") if folder.suffix else folder.parent / f"{folder.name}.zip"


def _build_bundle(
    run: Run,
    out: Path,
    *,
    memory: list[str] | None,
    memory_limit_s: float | None,
    sampling: SamplingConfig | None,
    engine: EngineConfig | None,
    extra_manifest: dict[str, Any] | None,
    golden_input: str | os.PathLike[str] | None,
    golden_seconds: float,
    log: Callable[[str], None],
) -> None:
    """Write every file of the bundle into the empty (staging) folder ``out``."""
    spec = EncoderSpec.from_dict(run.config.encoder)
    segmentation = bundle_segmentation(run.config.segmentation)
    encoder = build_encoder(spec)
    sources = memory_sources(run, memory)

    # perception: one graph with the guide codebook; checked on the first memory recording
    check = read_audio(sources[0].path)
    probe_spec = PerceptionSpec(
        sample_rate=encoder.sample_rate,
        min_samples=encoder.min_samples,
        embedding_dim=encoder.output_dim,
        vocab_size=run.codebooks["guide"].vocab_size,
        segmentation=segmentation,
        encoder=portable_encoder(spec.to_dict()),
    )
    grid = make_grid(check.num_samples, check.sample_rate, own_grid(segmentation, sources[0]), check.samples.mean(axis=0, keepdims=True))
    at_rate, spans = encoder_input(check, grid, probe_spec)
    with tempfile.TemporaryDirectory() as tmp:
        _, parity = export_perception(encoder, run.codebooks["guide"], segmentation, probe_spec.encoder, tmp, at_rate, spans)
        shutil.copyfile(Path(tmp) / "perception.onnx", out / "encoder.onnx")
    if parity is None:  # check audio was given: a report must come back
        raise InternalError("the perception export returned no parity report")
    log(parity.describe())
    if parity.token_agreement < MIN_TOKEN_AGREEMENT or parity.max_relative_error > 1e-3:
        raise CountertrackError(f"perception graph failed its parity check: {parity.describe()}", out)

    decision_config = export_step_graph(run.model, out / "decision.onnx")
    perception = PerceptionSession(out / "encoder.onnx", probe_spec)
    a_tokens, _ = perception.label_spans(at_rate, spans)
    decision_parity = check_decision_parity(run.model, out / "decision.onnx", [a_tokens[:256]])
    log(decision_parity.describe())
    if not decision_parity.tokens_equal:
        raise CountertrackError(f"decision graph failed its parity check: {decision_parity.describe()}", out)

    for role, book in run.codebooks.items():
        book.save(out / f"codebook_{role}.npz")
    if run.compatibility is not None:
        run.compatibility.save(out / "compatibility.npz")
    table, tracks, memory_rate, channels = build_memory(
        sources, perception, run.codebooks["response"], out / "memory", limit_s=memory_limit_s
    )
    log(
        f"memory: {len(tracks)} recording(s), {tracks[-1].end / memory_rate:.1f} s, {len(table)} grains, "
        f"{np.unique(table.label).size} of {decision_config.vocab_size} labels present"
    )

    sampling = sampling or SamplingConfig()
    engine = engine or (EngineConfig(harmony=ANTICIPATING_HARMONY) if decision_config.anticipates else EngineConfig())
    manifest = {
        "format": BUNDLE_FORMAT,
        "schema_version": BUNDLE_SCHEMA,
        "countertrack_version": __version__,
        "perception": {
            "graph": "encoder.onnx",
            "spec": probe_spec.to_dict(),
            "inputs": [{"name": "audio", "dtype": "float32", "shape": ["batch", "samples"], "sample_rate": probe_spec.sample_rate}],
            "outputs": [
                {"name": "embedding", "dtype": "float32", "shape": ["batch", probe_spec.embedding_dim]},
                {"name": "token", "dtype": "int64", "shape": ["batch"]},
            ],
        },
        "decision": {
            "graph": "decision.onnx",
            "spec": decision_config.to_dict(),
            "special_tokens": special_tokens(decision_config.vocab_size)._asdict(),
            "inputs": [
                {
                    "name": n,
                    "dtype": "int64" if n.startswith(("a_", "b_")) else "float32",
                    "shape": ["new"] if n == "a_new" else [1] if n.startswith(("a_", "b_")) else ["layers", "heads", "length", "head_dim"],
                }
                for n in STEP_INPUTS
            ],
            "outputs": [
                {
                    "name": n,
                    "dtype": "float32",
                    "shape": [decision_config.vocab_size] if n == "logits" else ["layers", "heads", "length + new", "head_dim"],
                }
                for n in STEP_OUTPUTS
            ],
            "cache_layout": {
                "self": "B positions t-context+1 .. t-1 before the step; keep the last context-1 after it",
                "cross": "A positions up to t+lookahead; keep the last context+lookahead-1 after the step",
            },
        },
        "codebooks": {"guide": "codebook_guide.npz", "response": "codebook_response.npz"},
        **({"compatibility": "compatibility.npz"} if run.compatibility is not None else {}),
        "memory": {
            "folder": "memory",
            "audio": "memory/memory.wav",
            "grains": "memory/grains.json",
            "sample_rate": memory_rate,
            "channels": channels,
            "tracks": [{"name": t.name, "start": t.start, "end": t.end} for t in tracks],
        },
        "sampling_defaults": sampling.to_dict(),
        "engine_defaults": engine.to_dict(),
        "provenance": {
            "run": run.folder.name,
            "train": portable_config(run.config),
            "split": run.split.to_dict(),
            "corpus": run_corpus_pairs(run),
            **_run_choices(run),
            # a recipe's "example" names the score its golden input was rendered from
            "data_licences": data_licences(
                run.config.corpus,
                memory,
                memory_pairs=run.split.train,
                golden_input=golden_input,
                golden_source=(extra_manifest or {}).get("example", {}).get("source"),
            ),
            **(extra_manifest or {}),
        },
    }
    _write_manifest(out, manifest)
    write_golden_vectors(out, Path(golden_input) if golden_input else sources[0].path, golden_seconds)
    _write_manifest(out, manifest)


def run_corpus_pairs(run: Run) -> list[dict[str, str]]:
    """The run's corpus as (id, source) pairs, from its config.json: which songs trained, validated, tested."""
    path = run.folder / "config.json"
    if not path.is_file():  # a run assembled in memory (tests) has no corpus of record
        return []
    config = read_json(path, "not a readable run")
    return [{"id": str(p["id"]), "source": str(p["source"])} for p in config.get("corpus_pairs", [])]


def _run_choices(run: Run) -> dict[str, Any]:
    """What the run chose on its validation songs ("auto" settings), as its config.json records it."""
    path = run.folder / "config.json"
    config = read_json(path, "not a readable run") if path.is_file() else {}
    return {key: config[key] for key in ("response_features_choice", "history_dropout_choice") if key in config}


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Record every file's sha256 and size (the manifest excepted), validate against the schema, write."""
    listed = [p for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"]
    manifest["files"] = {p.relative_to(out).as_posix(): sha256_of(p) for p in listed}
    manifest["sizes"] = {p.relative_to(out).as_posix(): p.stat().st_size for p in listed}
    validate_manifest(manifest, out / "manifest.json")
    write_json_atomic(out / "manifest.json", manifest)


def zip_folder(folder: Path, target: Path, *, name: str | None = None) -> Path:
    """A deterministic zip of ``folder`` (sorted entries, fixed timestamps, under the top folder ``name``,
    default the folder's own name) written to ``target``; a failed write is one line naming it."""
    try:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(f"{name or folder.name}/{path.relative_to(folder).as_posix()}", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    except OSError as exc:
        raise CountertrackError(f"cannot write the zip ({exc.strerror or exc})", target) from exc
    return target

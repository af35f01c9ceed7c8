"""A fast synthetic bundle for runtime tests: the spectral encoder, a codebook fitted on tones, a
tiny random decision model, and a memory of tones cut on a beat grid. No FluidSynth, no training:
a few seconds to build, and every piece is the real thing (ONNX graphs, manifest, hashes).

Plain helpers (not fixtures) so any test module can build the variant it needs. Each variant is
built once and copied to every folder that asks for it (the build is seeded, so a copy is the bundle
a new build would write): once per test process, or, with pytest's cache (see ``share_builds_in``),
once for all the run's worker processes and later runs, until the code that builds it changes.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from plugin_core.io.audio import write_audio

RATE = 44100
NOTES_HZ = (55.0, 65.4, 73.4, 82.4, 98.0, 110.0, 130.8, 146.8)


def tone_melody(
    seconds: float,
    bpm: float,
    sample_rate: int = RATE,
    seed: int = 0,
    low_hz: float = 220.0,
    amplitude: float = 0.3,
    dynamics_db: float = 0.0,
) -> np.ndarray:
    """(1, samples): one plucked, decaying note per beat at ``bpm``, pitches drawn from a scale; with
    ``dynamics_db`` each note's level is drawn that many dB down or less (from a generator of its own)."""
    rng = np.random.default_rng(seed)
    levels = np.random.default_rng([seed, 1]).uniform(-dynamics_db, 0.0, int(seconds * bpm / 60.0) + 1) if dynamics_db else None
    total = int(round(seconds * sample_rate))
    out = np.zeros(total, dtype=np.float64)
    beat = 60.0 / bpm
    scale = low_hz * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    for index in range(int(seconds / beat) + 1):
        start = int(round(index * beat * sample_rate))
        if start >= total:
            break
        length = min(total - start, int(round(beat * sample_rate)))
        t = np.arange(length) / sample_rate
        freq = scale[rng.integers(0, scale.size)]
        partials = np.array([1.0, 2.0, 3.0])[:, None]
        note = (np.sin(2 * np.pi * freq * partials * t) / partials).sum(axis=0) * np.exp(-3.0 * t)
        fade = min(64, length // 2)
        if fade:
            note[:fade] *= np.linspace(0.0, 1.0, fade)
            note[-fade:] *= np.linspace(1.0, 0.0, fade)
        out[start : start + length] += amplitude * note * (10 ** (levels[index] / 20) if levels is not None else 1.0)
    return out[None, :].astype(np.float32)


_BUILT: dict[str, Path] = {}  # each variant's first build, by its settings
_SHARED: list[Path] = []  # where builds are kept across processes (pytest's cache), if anywhere
BUILD_CODE = ("plugin_core", "export")  # the packages a build runs, with this file
BUILD_LIBRARIES = ("numpy", "torch", "onnx", "onnxruntime", "pedalboard", "scikit-learn")
STALE_S = 24 * 3600  # builds of other code (and staging folders of killed builds) this old are removed


def share_builds_in(folder: Path) -> None:
    """Keep every built variant in ``folder`` (conftest passes pytest's cache), so the processes of a
    parallel run build each once between them and later runs reuse it while the code is unchanged."""
    _SHARED[:] = [folder]


@functools.cache
def _code_digest() -> str:
    """A digest of the code, data files, Python and library versions a build depends on: a changed line
    means a new build."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(sys.version.encode() + b"\0")
    code = [p for name in BUILD_CODE for pattern in ("*.py", "*.json") for p in (root / name).rglob(pattern)]
    for path in sorted(code) + [Path(__file__).resolve()]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for library in BUILD_LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library}=={version}\0".encode())
    return digest.hexdigest()


def _shared_build(key: str, settings: dict) -> Path:
    """The variant's build in the shared folder, made under a lock by the first process that needs it."""
    shared = _SHARED[0]
    name = f"{_code_digest()[:16]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"  # this code's builds share a prefix
    built = shared / name
    if built.is_dir():
        return built
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process building it holds this for the seconds a build takes
        if not built.is_dir():
            _remove_stale(shared)
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=shared))
            try:
                _build_synthetic_bundle(staging, **settings)
                os.rename(staging, built)  # whole or not at all: a killed build leaves only its staging folder
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return built


def _remove_stale(shared: Path) -> None:
    """Remove what other code versions built, and staging folders of killed builds, once a day old;
    this code's builds stay however old they are."""
    now, ours = time.time(), _code_digest()[:16]
    for entry in shared.iterdir():
        try:
            if entry.name.startswith(ours) or now - entry.stat().st_mtime <= STALE_S:
                continue
        except FileNotFoundError:  # another process removed it meanwhile
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def make_synthetic_bundle(
    folder: Path,
    *,
    segmentation: dict | None = None,
    lookahead: int = 1,
    vocab: int = 8,
    seed: int = 0,
    memory_bpm: float = 120.0,
    memory_seconds: float = 12.0,
    compatibility: bool = True,
    memory_dynamics_db: float = 0.0,
) -> Path:
    """Write a bundle into ``folder / 'synthetic.ctbundle'`` (with the tones it was made from beside
    it) and return its path."""
    settings = dict(
        segmentation=segmentation or {"strategy": "beats", "bpm": memory_bpm},
        lookahead=lookahead,
        vocab=vocab,
        seed=seed,
        memory_bpm=memory_bpm,
        memory_seconds=memory_seconds,
        compatibility=compatibility,
    )
    if memory_dynamics_db:
        settings["memory_dynamics_db"] = memory_dynamics_db  # absent by default: the other variants keep their builds
    key = json.dumps(settings, sort_keys=True)
    if key not in _BUILT and _SHARED:
        _BUILT[key] = _shared_build(key, settings)
    elif key not in _BUILT:
        built = Path(tempfile.mkdtemp(prefix="ct-synthetic-"))
        atexit.register(shutil.rmtree, built, ignore_errors=True)
        _build_synthetic_bundle(built, **settings)  # type: ignore[arg-type]
        _BUILT[key] = built
    shutil.copytree(_BUILT[key], folder, dirs_exist_ok=True)
    return folder / "synthetic.ctbundle"


def _build_synthetic_bundle(
    folder: Path,
    *,
    segmentation: dict | None,
    lookahead: int,
    vocab: int,
    seed: int,
    memory_bpm: float,
    memory_seconds: float,
    compatibility: bool,
    memory_dynamics_db: float = 0.0,
) -> Path:
    import torch  # here, not at the top: the xdist controller imports this module and never builds

    from export.data.token_data import Split
    from export.model.codebook_fit import fit_codebook
    from export.model.decision_model import DecisionModel
    from export.model.encoders import EncoderSpec, build_encoder
    from export.onnx.bundle_export import export_bundle
    from export.onnx.perception_export import encode_spans
    from export.train.run import Run, TrainConfig
    from plugin_core.decision.config import DecisionConfig
    from plugin_core.engine.compatibility import Compatibility
    from plugin_core.io.audio import read_audio
    from plugin_core.perception.labeller import PerceptionSpec, encoder_input
    from plugin_core.perception.segmentation import SegmentationConfig, make_grid

    folder.mkdir(parents=True, exist_ok=True)
    segmentation = segmentation or {"strategy": "beats", "bpm": memory_bpm}
    memory_path = folder / "memory_tones.wav"
    memory = tone_melody(memory_seconds, memory_bpm, seed=seed + 1, low_hz=55.0, dynamics_db=memory_dynamics_db)
    write_audio(memory_path, memory, RATE, subtype="PCM_16")
    guide_path = folder / "guide_tones.wav"
    write_audio(guide_path, tone_melody(12.0, memory_bpm, seed=seed + 2), RATE, subtype="PCM_16")

    spec = EncoderSpec.new()
    encoder = build_encoder(spec)
    config = SegmentationConfig.from_dict(segmentation)
    probe = PerceptionSpec(
        sample_rate=encoder.sample_rate,
        min_samples=encoder.min_samples,
        embedding_dim=encoder.output_dim,
        vocab_size=vocab,
        segmentation=config,
        encoder=spec.to_dict(),
    )
    embeddings = []
    for path in (memory_path, guide_path):
        audio = read_audio(path)
        grid_config = (
            config
            if config.strategy != "beats" or config.bpm is not None or config.tempo_map
            else SegmentationConfig(strategy="beats", bpm=memory_bpm)
        )
        grid = make_grid(audio.num_samples, audio.sample_rate, grid_config, audio.samples)
        at_rate, spans = encoder_input(audio, grid, probe)
        embeddings.append(encode_spans(encoder, at_rate, spans))
    codebook, _ = fit_codebook(np.concatenate(embeddings), vocab, seed, getattr(encoder, "feature_groups", None))

    torch.manual_seed(seed)
    decision = DecisionConfig(vocab_size=vocab, d_model=16, heads=2, layers=1, ffn=32, dropout=0.0, context=8, lookahead=lookahead)
    model = DecisionModel(decision).eval()
    train = TrainConfig(
        corpus=str(folder),
        segmentation=segmentation,
        vocab=vocab,
        d_model=16,
        heads=2,
        layers=1,
        ffn=32,
        context=8,
        lookahead=lookahead,
        seed=seed,
    )
    table = None
    if compatibility:
        intervals = np.where(np.isin(np.arange(12), (0, 3, 4, 7, 8, 9)), 1.0, -1.0).astype(np.float32)
        table = Compatibility(intervals=intervals, onsets=np.eye(4, dtype=np.float32))
    run = Run(
        folder=folder,
        config=train,
        split=Split(train=("synthetic",), validation=(), test=()),
        codebooks={"guide": codebook, "response": codebook},
        model=model,
        compatibility=table,
    )
    return export_bundle(
        run, folder / "synthetic.ctbundle", memory=[str(memory_path)], golden_input=guide_path, golden_seconds=3.0, log=lambda _: None
    )

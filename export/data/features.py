"""Segment, encode and describe a corpus's pairs, cached on disk by content hash.

The grid of a pair comes from its guide track A (the runtime only ever hears A) or from the score
both were rendered from, and is shared by A and B. Each segment gets an embedding (the encoder) and
a descriptor (pitch classes and onsets, ``plugin_core.perception.descriptors``) on both sides. A second run
with the same audio, encoder and segmentation reads the cache instead of encoding again. Cache
files are plain ``.npz`` float arrays read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.model.encoders import Encoder
from export.onnx.perception_export import encode_spans
from plugin_core.bundle.load import sha256_of
from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.cache import cache_folder
from plugin_core.io.corpus import Corpus, Pair, load_pair_audio
from plugin_core.perception.descriptors import describe_segments
from plugin_core.perception.labeller import PerceptionSpec, encoder_input
from plugin_core.perception.segmentation import SegmentationConfig, make_grid

CACHE_VERSION = 4  # 2: each segment resampled on its own; 3: descriptors beside the embeddings; 4: the portable resampler
ARRAYS = ("boundaries", "guide", "response", "guide_pitch_classes", "guide_onsets", "response_pitch_classes", "response_onsets")


@dataclass(frozen=True)
class PairFeatures:
    """One pair, segmented and encoded: the shared grid and both tracks' embeddings."""

    pair_id: str
    boundaries: np.ndarray  # int64, samples at the pair's rate
    sample_rate: int
    guide: np.ndarray  # (segments, dim)
    response: np.ndarray  # (segments, dim)
    guide_pitch_classes: np.ndarray  # (segments, 12)
    guide_onsets: np.ndarray  # (segments, RHYTHM_BINS)
    response_pitch_classes: np.ndarray
    response_onsets: np.ndarray


def pair_segmentation(config: SegmentationConfig, corpus: Corpus, pair: Pair) -> SegmentationConfig:
    """A pair's own beats: tempo_map='pair' is the pair's MIDI (scores rendered by from-scores carry
    one, and it must be there); beats with neither a BPM nor a tempo map take the pair's MIDI when it
    has one and are estimated from its A track otherwise."""
    if config.strategy != "beats" or config.tempo_map not in ("pair", None) or (config.tempo_map is None and config.bpm is not None):
        return config
    midi = pair.provenance.get("midi")
    if not midi:
        if config.tempo_map == "pair":
            raise CountertrackError("has no MIDI file for tempo_map='pair'; use a BPM or a tempo-map file", pair.id)
        return config
    path = corpus.path_of(midi)
    if not path.is_file():
        raise CountertrackError(f"its score MIDI {midi} is missing (needed for its beats); rebuild the corpus or train with --bpm", pair.id)
    return SegmentationConfig.from_dict({**config.to_dict(), "tempo_map": str(path), "bpm": None})


def encode_corpus(
    corpus: Corpus,
    encoder: Encoder,
    encoder_settings: dict,
    segmentation: SegmentationConfig,
    *,
    progress: Callable[[Iterable[Pair]], Iterable[Pair]] = lambda it: it,
) -> list[PairFeatures]:
    """Features of every pair (from the cache where possible), in corpus order."""
    probe = PerceptionSpec(
        sample_rate=encoder.sample_rate,
        min_samples=encoder.min_samples,
        embedding_dim=encoder.output_dim,
        vocab_size=0,
        segmentation=segmentation,
        encoder=encoder_settings,
    )
    folder = cache_folder("embeddings")
    features = []
    for pair in progress(corpus.pairs):
        settings = pair_segmentation(segmentation, corpus, pair)
        key_source = json.dumps(
            {
                "version": CACHE_VERSION,
                "encoder": encoder_settings,
                "segmentation": segmentation.to_dict(),
                "guide": sha256_of(corpus.path_of(pair.guide)),
                "response": sha256_of(corpus.path_of(pair.response)),
                "tempo_map": sha256_of(Path(settings.tempo_map)) if settings.tempo_map else None,
                "samples": pair.num_samples,
            },
            sort_keys=True,
        )
        key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
        cached = _read_cache(folder / f"{key}.npz")
        if cached is None:
            guide, response = load_pair_audio(corpus, pair)
            boundaries = make_grid(pair.num_samples, pair.sample_rate, settings, guide.samples)
            cached = {"boundaries": boundaries}
            for role, audio in (("guide", guide), ("response", response)):
                at_rate, spans = encoder_input(audio, boundaries, probe)
                cached[role] = encode_spans(encoder, at_rate, spans)
                described = describe_segments(audio.samples.mean(axis=0), audio.sample_rate, boundaries)
                cached[f"{role}_pitch_classes"] = np.stack([d.pitch_classes for d in described]).astype(np.float32)
                cached[f"{role}_onsets"] = np.stack([d.onsets for d in described]).astype(np.float32)
            _write_cache(folder / f"{key}.npz", cached)
        features.append(PairFeatures(pair_id=pair.id, sample_rate=pair.sample_rate, **{name: cached[name] for name in ARRAYS}))
    return features


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name]) for name in ARRAYS}
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is recomputed


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
    except (OSError, CountertrackError):
        pass  # caching is an optimisation: a read-only cache folder must not fail training

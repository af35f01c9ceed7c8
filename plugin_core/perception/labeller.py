"""Perception at run time: cut mono audio into segments and label each with the ONNX encoder+codebook.

The graph (``perception.onnx``) takes ``audio`` (batch, samples) at the encoder's rate and returns
``embedding`` (batch, dim) and ``token`` (batch,) int64. Its settings travel beside it in
``perception.json``. The same slicing (``segment_batches``) feeds the PyTorch encoder in training,
so both paths see identical samples. At run time each segment is its own batch of one: a batched
row differs from the same row alone in its last bits, which could flip a token near a codebook
boundary, so a stream and a whole file label alike only if nothing is batched.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.bundle.onnx_session import open_session, run_session
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.atomic import read_json
from plugin_core.io.audio import Audio, read_audio, resample, to_mono
from plugin_core.io.records import checked_keys, checked_schema_version
from plugin_core.perception.segmentation import SegmentationConfig, make_grid
from plugin_core.perception.side_by_side import side_by_side

PERCEPTION_SCHEMA = 1
MAX_BATCH = 64


@dataclass(frozen=True)
class PerceptionSpec:
    """What a perception graph expects and gives; written as perception.json beside the graph."""

    sample_rate: int
    min_samples: int
    embedding_dim: int
    vocab_size: int
    segmentation: SegmentationConfig
    encoder: dict[str, Any]
    input_name: str = "audio"
    output_names: tuple[str, str] = ("embedding", "token")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["segmentation"] = self.segmentation.to_dict()
        data["output_names"] = list(self.output_names)
        data["schema_version"] = PERCEPTION_SCHEMA
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerceptionSpec:
        """Strictly (one error naming an unknown or missing setting); the graph's tensor names may be
        absent (the defaults), and a ``schema_version`` newer than this countertrack's is refused."""
        data = dict(data) if isinstance(data, dict) else data
        if isinstance(data, dict):
            checked_schema_version(
                data.pop("schema_version", PERCEPTION_SCHEMA), PERCEPTION_SCHEMA, "perception settings", error=BundleError
            )
        data = checked_keys(cls, data, "the perception settings are", may_omit=("input_name", "output_names"), error=CountertrackError)
        data["segmentation"] = SegmentationConfig.from_dict(data["segmentation"])
        data["output_names"] = tuple(data.get("output_names", ("embedding", "token")))
        return cls(**data)


@dataclass(frozen=True)
class Labels:
    """A track's segmentation and perception: grid at the track's own rate, one token per segment."""

    boundaries: np.ndarray  # int64 (segments + 1,), samples at ``sample_rate``
    sample_rate: int
    tokens: np.ndarray  # int64 (segments,)
    embeddings: np.ndarray  # float32 (segments, dim)


def segment_batches(audio: np.ndarray, spans: list[tuple[int, int]], min_samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group segments of 1-D ``audio`` by length into batches: (segment indices, (n, length) array).

    Segments shorter than ``min_samples`` are zero-padded at the end to ``min_samples``.
    """
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, (start, stop) in enumerate(spans):
        by_length[max(stop - start, min_samples)].append(index)
    batches = []
    for length in sorted(by_length):
        indices = by_length[length]
        for offset in range(0, len(indices), MAX_BATCH):
            chunk = indices[offset : offset + MAX_BATCH]
            block = np.zeros((len(chunk), length), dtype=np.float32)
            for row, index in enumerate(chunk):
                start, stop = spans[index]
                block[row, : stop - start] = audio[start:stop]
            batches.append((np.asarray(chunk, dtype=np.int64), block))
    return batches


def segment_at_encoder_rate(mono: np.ndarray, sample_rate: int, start: int, stop: int, spec: PerceptionSpec) -> np.ndarray:
    """One segment's analysis audio (1-D, at the encoder's rate) from mono audio at ``sample_rate``.

    Each segment is resampled on its own, so a stream fed block by block and a whole file give the
    encoder identical samples, in training and at run time.
    """
    window = spec.segmentation.window_s
    end = stop if window is None else min(mono.size, start + int(round(window * sample_rate)))
    return resample(mono[None, start:end], sample_rate, spec.sample_rate)[0]


def encoder_input(audio: Audio, boundaries: np.ndarray, spec: PerceptionSpec) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Every segment at the encoder's rate, concatenated, and each one's span in that array."""
    mono = (to_mono(audio.samples) if audio.num_channels > 1 else audio.samples)[0]
    pieces = [segment_at_encoder_rate(mono, audio.sample_rate, int(a), int(b), spec) for a, b in zip(boundaries[:-1], boundaries[1:])]
    offsets = np.cumsum([0] + [p.size for p in pieces])
    spans = [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(pieces))]
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), spans


class PerceptionSession:
    """Runs perception.onnx with onnxruntime alone; labels files, arrays and single segments."""

    def __init__(self, onnx_path: str | os.PathLike[str], spec: PerceptionSpec, threads: int = 2):
        """``threads`` segments are labelled side by side, each on one onnxruntime thread: for a
        Wav2Vec2-base that is 1.3x the throughput of one run on two threads, and every segment's result
        is bit-identical whatever runs beside it (one run's threads do not split its sums)."""
        self.path = Path(onnx_path)
        self.threads = max(1, threads)
        self._session = open_session(onnx_path, 1)
        self.spec = spec

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str], threads: int = 2) -> PerceptionSession:
        folder = Path(folder)
        settings = folder / "perception.json"
        data = read_json(settings, "unreadable perception settings", error=BundleError)
        try:
            spec = PerceptionSpec.from_dict(data)
        except (KeyError, TypeError) as exc:
            raise CountertrackError(f"unreadable perception settings ({exc})", settings) from exc
        return cls(folder / "perception.onnx", spec, threads)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (n, dim) and tokens (n,) for a batch (n, samples) at the encoder's rate."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        embedding, token = run_session(self._session, list(self.spec.output_names), {self.spec.input_name: batch}, self.path)
        embedding, token = np.asarray(embedding), np.asarray(token)
        if embedding.shape != (batch.shape[0], self.spec.embedding_dim) or token.shape != (batch.shape[0],):
            raise BundleError(
                f"the encoder gave shapes {embedding.shape} and {token.shape} for {batch.shape[0]} segments; "
                f"its manifest says ({batch.shape[0]}, {self.spec.embedding_dim}) and ({batch.shape[0]},)",
                self.path,
            )
        if token.size and (token.min() < 0 or token.max() >= self.spec.vocab_size):
            bad = int(token.max()) if token.max() >= self.spec.vocab_size else int(token.min())
            raise BundleError(f"the encoder emitted token {bad}, outside its vocabulary of {self.spec.vocab_size}", self.path)
        return embedding, token.astype(np.int64)

    def label_segments(self, segments: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Tokens (n,) and embeddings (n, dim) of 1-D segments at the encoder's rate (a segment shorter
        than ``min_samples`` is zero-padded to it), each run alone, up to ``threads`` at once."""
        padded = [np.pad(np.asarray(s, dtype=np.float32), (0, max(0, self.spec.min_samples - len(s))))[None, :] for s in segments]
        results = side_by_side(self.run, padded, self.threads)
        tokens = np.array([token[0] for _, token in results], dtype=np.int64)
        embeddings = np.zeros((len(results), self.spec.embedding_dim), dtype=np.float32)
        for row, (embedding, _) in enumerate(results):
            embeddings[row] = embedding[0]
        return tokens, embeddings

    def label_spans(self, audio: np.ndarray, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Tokens and embeddings of the given spans of 1-D audio at the encoder's rate."""
        return self.label_segments([audio[start:stop] for start, stop in spans])

    def label_audio(self, audio: Audio, boundaries: np.ndarray | None = None) -> Labels:
        """Segment ``audio`` (at its own rate) with the spec's strategy, unless a grid is given, and label it."""
        if boundaries is None:
            mono = to_mono(audio.samples) if audio.num_channels > 1 else audio.samples
            boundaries = make_grid(audio.num_samples, audio.sample_rate, self.spec.segmentation, mono)
        at_rate, spans = encoder_input(audio, boundaries, self.spec)
        tokens, embeddings = self.label_spans(at_rate, spans)
        return Labels(
            boundaries=np.asarray(boundaries, dtype=np.int64), sample_rate=audio.sample_rate, tokens=tokens, embeddings=embeddings
        )

    def label_file(self, path: str | os.PathLike[str]) -> Labels:
        return self.label_audio(read_audio(path))

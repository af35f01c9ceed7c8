"""Perception on the PyTorch side: encode segments, and freeze encoder + codebook into one ONNX graph.

``export_perception`` writes perception.onnx and perception.json, then proves on real audio that
onnxruntime gives the tokens and embeddings PyTorch gives (the parity check every export runs).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.model.encoders import Encoder
from plugin_core.io.atomic import atomic_path, write_json_atomic
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.labeller import PerceptionSession, PerceptionSpec, segment_batches
from plugin_core.perception.segmentation import SegmentationConfig

ONNX_OPSET = 17


class PerceptionGraph(nn.Module):
    """Encoder followed by the codebook's nearest-centroid search: audio in, (embedding, token) out."""

    def __init__(self, encoder: Encoder, codebook: Codebook):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("mean", torch.from_numpy(codebook.mean))
        self.register_buffer("scale", torch.from_numpy(codebook.scale))
        self.register_buffer("centroids", torch.from_numpy(codebook.centroids))
        self.register_buffer("centroid_sq", torch.from_numpy((codebook.centroids**2).sum(axis=1)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.encoder(audio)
        z = (embedding - self.mean) * self.scale
        distances = (z * z).sum(dim=1, keepdim=True) - 2.0 * z @ self.centroids.T + self.centroid_sq
        return embedding, torch.argmin(distances, dim=1)


@torch.inference_mode()
def encode_spans(encoder: Encoder, audio: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Embeddings (segments, dim) of spans of 1-D audio at the encoder's rate, with PyTorch."""
    embeddings = np.zeros((len(spans), encoder.output_dim), dtype=np.float32)
    for indices, block in segment_batches(audio, spans, encoder.min_samples):
        embeddings[indices] = encoder(torch.from_numpy(block)).numpy()
    return embeddings


@dataclass(frozen=True)
class ParityReport:
    """How closely onnxruntime matches PyTorch on real segments."""

    segments: int
    token_agreement: float  # fraction of segments with the same token
    max_relative_error: float  # of embeddings, max |a - b| / (max |a| of that segment)

    def describe(self) -> str:
        return f"ONNX parity on {self.segments} segments: tokens agree {100 * self.token_agreement:.2f} %, embeddings within {self.max_relative_error:.1e} relative"


def export_perception(
    encoder: Encoder,
    codebook: Codebook,
    segmentation: SegmentationConfig,
    encoder_settings: dict,
    out_dir: str | os.PathLike[str],
    check_audio: np.ndarray | None = None,
    check_spans: list[tuple[int, int]] | None = None,
) -> tuple[PerceptionSpec, ParityReport | None]:
    """Write perception.onnx + perception.json into ``out_dir``; check parity on ``check_audio``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graph = PerceptionGraph(encoder, codebook).eval()
    example = torch.zeros((2, max(encoder.min_samples, 8000)), dtype=torch.float32)
    with atomic_path(out / "perception.onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            str(tmp),
            input_names=["audio"],
            output_names=["embedding", "token"],
            dynamic_axes={"audio": {0: "batch", 1: "samples"}, "embedding": {0: "batch"}, "token": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    spec = PerceptionSpec(
        sample_rate=int(encoder.sample_rate),
        min_samples=int(encoder.min_samples),
        embedding_dim=int(encoder.output_dim),
        vocab_size=codebook.vocab_size,
        segmentation=segmentation,
        encoder=encoder_settings,
    )
    write_json_atomic(out / "perception.json", spec.to_dict())
    codebook.save(out / "codebook.npz")
    report = None
    if check_audio is not None and check_spans:
        report = check_parity(graph, PerceptionSession(out / "perception.onnx", spec), check_audio, check_spans)
    return spec, report


@torch.inference_mode()
def check_parity(graph: PerceptionGraph, session: PerceptionSession, audio: np.ndarray, spans: list[tuple[int, int]]) -> ParityReport:
    """Compare PyTorch and onnxruntime on every span of ``audio`` (encoder rate)."""
    torch_tokens = np.zeros(len(spans), dtype=np.int64)
    torch_embeddings = np.zeros((len(spans), session.spec.embedding_dim), dtype=np.float32)
    for indices, block in segment_batches(audio, spans, session.spec.min_samples):
        embedding, token = graph(torch.from_numpy(block))
        torch_embeddings[indices], torch_tokens[indices] = embedding.numpy(), token.numpy()
    onnx_tokens, onnx_embeddings = session.label_spans(audio, spans)
    scale = np.maximum(np.abs(torch_embeddings).max(axis=1, keepdims=True), 1e-6)
    relative = float((np.abs(torch_embeddings - onnx_embeddings) / scale).max())
    return ParityReport(segments=len(spans), token_agreement=float((torch_tokens == onnx_tokens).mean()), max_relative_error=relative)

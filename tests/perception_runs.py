"""A perception exported from a corpus, with its parity checked: shared by the export and the runtime labeller tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.model.codebook_fit import fit_codebooks
from export.model.encoders import EncoderSpec, build_encoder
from export.onnx.perception_export import encode_spans, export_perception
from plugin_core.io.corpus import load_corpus, load_pair_audio
from plugin_core.perception.labeller import PerceptionSpec, encoder_input
from plugin_core.perception.segmentation import SegmentationConfig, make_grid


def perceive(corpus_dir: Path, spec: EncoderSpec, segmentation: SegmentationConfig, vocab: int, out: Path):
    """Encode every pair of the corpus with PyTorch, fit a shared codebook, export, check parity on all of it."""
    corpus = load_corpus(corpus_dir)
    encoder = build_encoder(spec)
    probe = PerceptionSpec(
        sample_rate=encoder.sample_rate,
        min_samples=encoder.min_samples,
        embedding_dim=encoder.output_dim,
        vocab_size=vocab,
        segmentation=segmentation,
        encoder=spec.to_dict(),
    )
    tracks, embeddings = [], {"guide": [], "response": []}
    for pair in corpus.pairs:
        guide, response = load_pair_audio(corpus, pair)
        grid = make_grid(pair.num_samples, pair.sample_rate, segmentation, response.samples)
        for role, audio in (("guide", guide), ("response", response)):
            at_rate, spans = encoder_input(audio, grid, probe)
            tracks.append((at_rate, spans))
            embeddings[role].append(encode_spans(encoder, at_rate, spans))
    books = fit_codebooks(
        np.concatenate(embeddings["guide"]), np.concatenate(embeddings["response"]), vocab, seed=0, groups=encoder.feature_groups
    )
    books["guide"][0].save(Path(out) / "codebook.npz")  # beside the graph, for tests that reason about its centroids
    audio = np.concatenate([t[0] for t in tracks])
    offsets = np.cumsum([0] + [t[0].size for t in tracks[:-1]])
    spans = [(start + o, stop + o) for (_, track_spans), o in zip(tracks, offsets) for start, stop in track_spans]
    return export_perception(encoder, books["guide"][0], segmentation, spec.to_dict(), out, audio, spans)

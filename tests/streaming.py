"""Helpers for feeding audio to a stream block by block and for an excerpt of a rendered chorale."""

from __future__ import annotations

import numpy as np

from plugin_core.io.audio import Audio, read_audio
from plugin_core.io.corpus import load_corpus


def chorale_a(corpus_dir, seconds: float = 6.0) -> Audio:
    """The first ``seconds`` of the last pair's guide in a rendered corpus."""
    corpus = load_corpus(corpus_dir)
    audio = read_audio(corpus.path_of(corpus.pairs[-1].guide))
    return Audio(samples=audio.samples[:, : int(seconds * audio.sample_rate)], sample_rate=audio.sample_rate, info=audio.info)


def stream_blocks(process, flush, audio: np.ndarray, block: int, latency: int) -> np.ndarray:
    """``audio`` through ``process`` in blocks, flushed, latency removed: aligned with the input."""
    pieces = [process(audio[:, i : i + block]) for i in range(0, audio.shape[1], block)]
    pieces.append(flush())
    return np.concatenate(pieces, axis=1)[:, latency : latency + audio.shape[1]]

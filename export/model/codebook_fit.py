"""Fit k-means codebooks (scikit-learn) on segment embeddings, with a seed, and report their usage.

Features are standardised per dimension, then each named feature group (mel, chroma, loudness, ...)
is scaled so that it weighs what its weight says whatever its width: 40 mel bands must not drown
12 chroma bins. One codebook is shared by A and B, as in the paper, or one per role when asked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from plugin_core.errors import CountertrackError
from plugin_core.perception.codebook import Codebook

MIN_VOCAB, MAX_VOCAB = 2, 1024

# Spectral feature groups and their weights; unknown groups weigh 1.
DEFAULT_GROUP_WEIGHTS = {
    "mel": 1.0,
    "chroma": 1.5,
    "loudness": 0.75,
    "shape": 0.5,
    "mel_std": 0.5,
    "chroma_std": 0.5,
    "loudness_std": 0.5,
    "shape_std": 0.25,
}

# What a response's tokens may be about (weights of the spectral groups for its codebook): "sound" is
# timbre, register and pitch (the default weights); "rhythm" is the segment's level and how much it
# moves inside it (attacks, rests, held notes), blind to pitch and brightness, which follow the note
# played: the part of a bass that drums can tell.
RESPONSE_FEATURES = {
    "sound": DEFAULT_GROUP_WEIGHTS,
    "rhythm": {
        "loudness": 1.0,
        "loudness_std": 1.0,
        **dict.fromkeys(("mel", "chroma", "shape", "mel_std", "chroma_std", "shape_std"), 0.0),
    },
}


@dataclass(frozen=True)
class CodebookReport:
    """How the training segments use the codebook."""

    vocab_size: int
    segments: int
    entropy_bits: float  # of the token histogram; log2(vocab) when all tokens are equally used
    perplexity: float  # 2 ** entropy: the number of equally used tokens that would give it
    unused: int  # centroids no training segment maps to

    def describe(self) -> str:
        return (
            f"codebook {self.vocab_size} tokens over {self.segments} segments: entropy {self.entropy_bits:.2f} bits "
            f"(max {np.log2(self.vocab_size):.2f}), perplexity {self.perplexity:.1f}, {self.unused} unused"
        )


def normalisation(
    embeddings: np.ndarray, groups: dict[str, tuple[int, int]] | None, weights: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and scale: 1 / std, times weight / sqrt(width) of the dimension's group."""
    weights = DEFAULT_GROUP_WEIGHTS if weights is None else weights
    mean = embeddings.mean(axis=0)
    std = embeddings.std(axis=0)
    scale = 1.0 / np.maximum(std, 1e-6 * max(float(std.max()), 1e-12))
    for name, (start, stop) in (groups or {}).items():
        scale[start:stop] *= weights.get(name, 1.0) / np.sqrt(stop - start)
    return mean.astype(np.float32), scale.astype(np.float32)


def fit_codebook(
    embeddings: np.ndarray,
    vocab_size: int,
    seed: int,
    groups: dict[str, tuple[int, int]] | None = None,
    weights: dict[str, float] | None = None,
) -> tuple[Codebook, CodebookReport]:
    """k-means with ``vocab_size`` centroids on normalised ``embeddings`` (n, dim), seeded."""
    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise CountertrackError(f"vocabulary {vocab_size} is out of range {MIN_VOCAB}..{MAX_VOCAB}")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.shape[0] < vocab_size:
        raise CountertrackError(
            f"{embeddings.shape[0]} segments cannot fit a vocabulary of {vocab_size}; use more audio or a smaller --vocab"
        )
    mean, scale = normalisation(embeddings, groups, weights)
    z = (embeddings - mean) * scale
    from sklearn.cluster import KMeans  # here: importing scikit-learn takes 1.7 s, which a refused vocabulary never needs

    kmeans = KMeans(n_clusters=vocab_size, n_init=3, random_state=seed, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate points (silence) leave some clusters empty: reported below
        kmeans.fit(z.astype(np.float64))
    codebook = Codebook(centroids=kmeans.cluster_centers_.astype(np.float32), mean=mean, scale=scale)
    return codebook, usage_report(codebook, embeddings)


def usage_report(codebook: Codebook, embeddings: np.ndarray) -> CodebookReport:
    tokens = codebook.assign(embeddings)
    counts = np.bincount(tokens, minlength=codebook.vocab_size)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    return CodebookReport(
        vocab_size=codebook.vocab_size,
        segments=int(tokens.size),
        entropy_bits=entropy,
        perplexity=float(2.0**entropy),
        unused=int((counts == 0).sum()),
    )


def fit_codebooks(
    guide: np.ndarray,
    response: np.ndarray,
    vocab_size: int,
    seed: int,
    *,
    shared: bool = True,
    groups: dict[str, tuple[int, int]] | None = None,
    response_weights: dict[str, float] | None = None,
) -> dict[str, tuple[Codebook, CodebookReport]]:
    """Codebooks for the 'guide' and 'response' roles: one fitted on both (shared) or one each, the
    response's weighing its feature groups by ``response_weights`` (default: as the guide's)."""
    if shared:
        if response_weights is not None:
            raise ValueError("a shared codebook weighs both roles' features alike")
        codebook, _ = fit_codebook(np.concatenate([guide, response]), vocab_size, seed, groups)
        return {"guide": (codebook, usage_report(codebook, guide)), "response": (codebook, usage_report(codebook, response))}
    return {
        "guide": fit_codebook(guide, vocab_size, seed, groups),
        "response": fit_codebook(response, vocab_size, seed + 1, groups, response_weights),
    }

"""A k-means codebook at run time: normalise an embedding, find the nearest centroid (its token).

Stored as a plain ``.npz`` of float arrays, read with ``allow_pickle=False``: nothing executable.
Fitting lives in export/model/codebook_fit.py; this side only reads and assigns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.errors import BundleError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.validation import read_npz


@dataclass(frozen=True)
class Codebook:
    """Centroids (vocab, dim) in normalised space; ``normalise(x) = (x - mean) * scale``."""

    centroids: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def vocab_size(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def normalise(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, dtype=np.float32) - self.mean) * self.scale

    def assign(self, embeddings: np.ndarray) -> np.ndarray:
        """Token (int64) of each row of ``embeddings`` (n, dim): the nearest centroid."""
        z = self.normalise(embeddings)
        distances = (z * z).sum(axis=1, keepdims=True) - 2.0 * z @ self.centroids.T + (self.centroids**2).sum(axis=1)
        return np.argmin(distances, axis=1).astype(np.int64)

    def save(self, path: str | os.PathLike[str]) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, centroids=self.centroids, mean=self.mean, scale=self.scale)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Codebook:
        path = Path(path)
        arrays = read_npz(path, ("centroids", "mean", "scale"), "a readable codebook", BundleError)
        centroids, mean, scale = arrays["centroids"], arrays["mean"], arrays["scale"]
        if centroids.ndim != 2 or 0 in centroids.shape or mean.shape != (centroids.shape[1],) or scale.shape != mean.shape:
            raise BundleError("codebook arrays have inconsistent shapes", path)
        return cls(centroids=centroids, mean=mean, scale=scale)

"""Choosing a token from logits: greedy, temperature, top-k, nucleus (top-p), constrained, seeded.

numpy only, shared by the PyTorch and onnxruntime paths so a seed means the same thing in both.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from plugin_core.decision.rng import PortableRandom
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.records import checked_keys


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick. ``top_p`` 0.8 is the paper's default; ``greedy`` takes the most likely token."""

    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 0.8  # 1.0 = off
    greedy: bool = False

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ConfigurationError(f"{name.replace('_', '-')} must be a number, not {value!r}")
        if not 0.01 <= self.temperature <= 10.0:
            raise ConfigurationError(f"temperature {self.temperature} is out of range 0.01..10")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, (int, np.integer)):
            raise ConfigurationError(f"top-k must be a whole number, not {self.top_k!r}")
        if self.top_k < 0:
            raise ConfigurationError(f"top-k {self.top_k} is negative")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigurationError(f"top-p {self.top_p} is out of range (0, 1]")
        if not isinstance(self.greedy, (bool, np.bool_)):
            raise ConfigurationError(f"greedy must be true or false, not {self.greedy!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(
        cls, data: Any, source: str | os.PathLike[str] | None = None, error: type[CountertrackError] = ConfigurationError
    ) -> SamplingConfig:
        """Strictly (``checked_keys``): an unknown setting or a missing one is one ``error`` naming
        ``source``, and so is a value out of range (a bundle's manifest: ``BundleError``)."""
        data = checked_keys(cls, data, "the sampling defaults are", source, error=error)
        try:
            return cls(**data)
        except ConfigurationError as exc:
            raise error(exc.problem, source) from None


def allowed_mask(vocab_size: int, allowed: np.ndarray | list[int] | None) -> np.ndarray | None:
    """Boolean mask of the labels generation may emit (those the memory holds); None = all."""
    if allowed is None:
        return None
    mask = np.zeros(vocab_size, dtype=bool)
    labels = np.asarray(list(allowed), dtype=np.int64)
    if labels.size == 0 or labels.min() < 0 or labels.max() >= vocab_size:
        raise CountertrackError(f"allowed labels must be a non-empty subset of 0..{vocab_size - 1}")
    mask[labels] = True
    return mask


def nucleus(logits: np.ndarray, config: SamplingConfig, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The labels a draw may return and their probabilities (renormalised, most likely first):
    temperature, then top-k and top-p; greedy keeps the most likely label alone. Disallowed labels
    get probability 0 before anything else, so they are never among them."""
    scores = np.asarray(logits, dtype=np.float64).copy()
    if mask is not None:
        scores[~mask] = -np.inf
    if config.greedy:
        return np.array([int(np.argmax(scores))]), np.ones(1)
    scores = scores / config.temperature
    scores -= scores.max()
    probabilities = np.exp(scores)
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")
    keep = order.size
    if config.top_k:
        keep = min(keep, config.top_k)
    if config.top_p < 1.0:
        cumulative = np.cumsum(probabilities[order])
        keep = min(keep, int(np.searchsorted(cumulative, config.top_p, side="left")) + 1)
    candidates = order[:keep]
    candidates = candidates[probabilities[candidates] > 0]
    return candidates, probabilities[candidates] / probabilities[candidates].sum()


def choose(logits: np.ndarray, config: SamplingConfig, rng: PortableRandom, mask: np.ndarray | None = None) -> int:
    """One token from ``logits`` (vocab,): greedy, or one draw (``PortableRandom.pick``) from the nucleus."""
    labels, probabilities = nucleus(logits, config, mask)
    if config.greedy:
        return int(labels[0])
    return int(labels[rng.pick(probabilities)])

"""The decision model's one description, owned by the runtime.

Training builds a ``DecisionConfig`` from its settings, the PyTorch model is made from it, the bundle
manifest's ``decision.spec`` is written from it and read back into it, and the command line takes its
defaults from it: one place says what a decision model is.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.records import checked_keys

ANTICIPATE = -1  # the lookahead of a model that answers segment t from A up to t-1 (play-along)
TRAINING_ONLY = ("ffn", "dropout")  # shape no step-graph input or cache: a manifest may leave them out


class SpecialTokens(NamedTuple):
    """Token ids after the vocabulary; training, the step graph and bundles all use this layout."""

    bos: int
    pad: int
    mask: int  # hides B history in training; never fed at run time


def special_tokens(vocab_size: int) -> SpecialTokens:
    """BOS, PAD and MASK are the ids vocab_size, vocab_size + 1 and vocab_size + 2."""
    return SpecialTokens(bos=vocab_size, pad=vocab_size + 1, mask=vocab_size + 2)


@dataclass(frozen=True)
class DecisionConfig:
    """Sizes of the decision Transformer and its streaming knob (the defaults are the default recipe's)."""

    vocab_size: int = 16
    d_model: int = 128
    heads: int = 4
    layers: int = 3
    ffn: int = 256
    dropout: float = 0.1
    context: int = 32  # segments of history attended to (B and A)
    lookahead: int = 2  # future A segments visible: the extra latency, in segments (-1: anticipate)

    def __post_init__(self) -> None:
        if not 2 <= self.vocab_size <= 1024:
            raise ConfigurationError(f"vocabulary {self.vocab_size} must be 2..1024")
        if min(self.d_model, self.heads, self.layers, self.ffn) < 1:
            raise ConfigurationError("d_model, heads, layers and ffn must be positive")
        if self.d_model % self.heads:
            raise ConfigurationError(f"d_model {self.d_model} is not divisible by {self.heads} heads")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"dropout {self.dropout} must be in [0, 1)")
        if self.context < 2:
            raise ConfigurationError(f"context {self.context} must be at least 2 segments")
        if not ANTICIPATE <= self.lookahead < self.context:
            raise ConfigurationError(f"lookahead {self.lookahead} must be in {ANTICIPATE}..{self.context - 1} (context {self.context})")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def ahead(self) -> int:
        """A positions past t the model reads (an anticipating model reads none: its A is one segment late)."""
        return max(0, self.lookahead)

    @property
    def anticipates(self) -> bool:
        return self.lookahead == ANTICIPATE

    @property
    def bos(self) -> int:
        return special_tokens(self.vocab_size).bos

    @property
    def pad(self) -> int:
        return special_tokens(self.vocab_size).pad

    @property
    def mask(self) -> int:
        return special_tokens(self.vocab_size).mask

    @property
    def table_size(self) -> int:
        """Embedding rows: the vocabulary and the special tokens after it."""
        return self.vocab_size + len(SpecialTokens._fields)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, plus ``head_dim`` (derived) because the step graph's caches are shaped by it."""
        return {**asdict(self), "head_dim": self.head_dim}

    @classmethod
    def from_dict(
        cls, data: Any, source: str | os.PathLike[str] | None = None, error: type[CountertrackError] = ConfigurationError
    ) -> DecisionConfig:
        """Strictly: an unknown setting or a missing one is an error naming ``source``. ``head_dim``
        stands for ``d_model`` (bundles written before d_model was recorded) and must agree with it;
        ``ffn`` and ``dropout`` shape no input or cache of the step graph, so a manifest may omit them.
        Problems are ``error`` (a bundle's manifest: ``BundleError``)."""
        head_dim = None
        if isinstance(data, dict):
            data = dict(data)
            head_dim = data.pop("head_dim", None)
            if "d_model" not in data and isinstance(head_dim, int) and isinstance(data.get("heads"), int):
                data["d_model"] = head_dim * data["heads"]
        data = checked_keys(cls, data, "the decision model's settings are", source, may_omit=TRAINING_ONLY, error=error)
        wrong = [name for name, value in data.items() if name != "dropout" and (isinstance(value, bool) or not isinstance(value, int))]
        if wrong or not isinstance(data.get("dropout", 0.0), int | float):
            raise error(f"the decision model's {', '.join(wrong) or 'dropout'} must be a number", source)
        try:
            config = cls(**data)
        except ConfigurationError as exc:
            raise error(exc.problem, source) from None
        if head_dim is not None and head_dim != config.head_dim:
            raise error(f"the decision model's head_dim {head_dim} is not d_model {config.d_model} / {config.heads} heads", source)
        return config

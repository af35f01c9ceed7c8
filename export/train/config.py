"""A run's settings: what config.json stores and --resume checks. A plain record (no torch), so the
command line takes its defaults from here even where the training extra is not installed."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from export.model.encoder_spec import EncoderSpec
from plugin_core.decision.config import DecisionConfig
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.records import checked_keys
from plugin_core.perception.segmentation import SegmentationConfig

CODEBOOKS = ("auto", "shared", "per-role")
RESPONSE_FEATURES = ("auto", "sound", "rhythm")  # see export.model.codebook_fit.RESPONSE_FEATURES
RUN_SCHEMA = 2  # 2: the training sequence length is sequence_length (schema 1 called it window)
EXTENDABLE = ("epochs", "patience")  # settings a resumed run may change
AUTO = "auto"
HISTORY_DROPOUT_CANDIDATES = (0.5, 1.0)  # "auto" trains both and keeps the better on the validation songs
ADDED_LATER = ("scheduled_sampling",)  # a run recorded before them read them as their defaults


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; config.json stores it and --resume checks it."""

    corpus: str
    encoder: dict[str, Any] = field(default_factory=lambda: EncoderSpec.new().to_dict())
    segmentation: dict[str, Any] = field(default_factory=lambda: SegmentationConfig(strategy="beats").to_dict())  # musical units
    vocab: int = DecisionConfig.vocab_size  # the model's sizes default to the runtime's description of it
    codebook: str = "auto"  # "shared" (the paper's), "per-role", or shared unless it starves a role
    # what B's tokens are about: "sound" (timbre, register, pitch), "rhythm" (its level and how that moves
    # over the segment, blind to pitch and timbre; its own codebook), or "auto": the one A's tokens tell most about on the validation songs
    response_features: str = AUTO
    d_model: int = DecisionConfig.d_model
    heads: int = DecisionConfig.heads
    layers: int = DecisionConfig.layers
    ffn: int = DecisionConfig.ffn
    dropout: float = DecisionConfig.dropout
    context: int = DecisionConfig.context
    lookahead: int = DecisionConfig.lookahead  # 2: 1 s at 0.5 s segments, which renders compensate; 0 or -1 to play along
    sequence_length: int = 32  # segments per training sequence ("window" is only the analysis window of segmentation)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    # B-history tokens replaced by MASK, the cure for exposure bias; "auto": each of HISTORY_DROPOUT_CANDIDATES,
    # the better on the validation songs (a line that holds long notes is better predicted from A alone)
    history_dropout: float | str = AUTO
    scheduled_sampling: float = 0.0  # B-history tokens replaced by the model's own greedy guess (parallel scheduled sampling)
    table_prior: bool = True  # logits start from the context-free table log p(B | A) of the training songs
    clip_norm: float = 1.0
    patience: int = 10
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.response_features not in RESPONSE_FEATURES:
            raise CountertrackError(f"response features must be one of {', '.join(RESPONSE_FEATURES)}, not {self.response_features!r}")
        if self.response_features == "rhythm" and self.codebook == "shared":
            raise CountertrackError("response features 'rhythm' need a codebook of B's own: --codebook per-role or auto")
        if self.codebook not in CODEBOOKS:
            raise CountertrackError(f"codebook must be one of {', '.join(CODEBOOKS)}, not {self.codebook!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.sequence_length < 2:
            raise CountertrackError("epochs and batch size must be positive, and the sequence length at least 2")
        if self.history_dropout != AUTO and not (isinstance(self.history_dropout, (int, float)) and 0.0 <= self.history_dropout <= 1.0):
            raise CountertrackError(f"history dropout is a share (0..1) or {AUTO!r}, not {self.history_dropout!r}")
        if not 0.0 <= self.scheduled_sampling <= 1.0:
            raise CountertrackError("scheduled sampling is a share: 0..1")

    @classmethod
    def from_dict(cls, data: dict[str, Any], schema_version: int, source: str | os.PathLike[str]) -> TrainConfig:
        """The settings a run recorded, strictly: a run of schema 1 had "window" for the sequence
        length; an unknown or missing setting is an error naming the file, not a guess."""
        if isinstance(data, dict) and schema_version < 2 and "window" in data:
            data = {**data, "sequence_length": data["window"]}
            del data["window"]
        if isinstance(data, dict) and "response_features" not in data:  # recorded before the choice: B's tokens were of sound
            data = {**data, "response_features": "sound"}
        return cls(**checked_keys(cls, data, "its training settings are", source, may_omit=ADDED_LATER))

    @property
    def history_share(self) -> float:
        """The history dropout as a share, once chosen (a run trains with a number, never "auto")."""
        if isinstance(self.history_dropout, str):
            raise InternalError("history dropout 'auto' reached the training loop")
        return float(self.history_dropout)

    def decision(self) -> DecisionConfig:
        return DecisionConfig(
            vocab_size=self.vocab,
            d_model=self.d_model,
            heads=self.heads,
            layers=self.layers,
            ffn=self.ffn,
            dropout=self.dropout,
            context=self.context,
            lookahead=self.lookahead,
        )


def default(name: str) -> Any:
    """The default of setting ``name`` (for the command line's options)."""
    setting = next(f for f in fields(TrainConfig) if f.name == name)
    return setting.default_factory() if setting.default_factory is not MISSING else setting.default

"""A small random decision model for tests of decoding and its ONNX export (no training)."""

from __future__ import annotations

import numpy as np
import torch

from export.model.decision_model import DecisionModel
from plugin_core.decision.config import DecisionConfig


def random_decision_model(lookahead: int, vocab: int = 16, context: int = 8) -> DecisionModel:
    """Seeded by ``lookahead``; its relative-position biases randomised so they matter in the output."""
    torch.manual_seed(lookahead)
    config = DecisionConfig(vocab_size=vocab, context=context, lookahead=lookahead, d_model=32, heads=4, layers=2, ffn=64)
    model = DecisionModel(config, token_init=np.random.default_rng(0).standard_normal((vocab, 10))).eval()
    with torch.no_grad():
        model.self_bias.normal_()
        model.cross_bias.normal_()
    return model

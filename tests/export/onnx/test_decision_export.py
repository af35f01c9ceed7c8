"""Decision export: the ONNX step graph decodes like PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export.model.decision_model import DecisionModel
from export.onnx.decision_export import check_decision_parity, export_step_graph
from plugin_core.decision.config import DecisionConfig


def _random_model(lookahead: int, vocab: int = 16, context: int = 8) -> DecisionModel:
    torch.manual_seed(lookahead)
    config = DecisionConfig(vocab_size=vocab, context=context, lookahead=lookahead, d_model=32, heads=4, layers=2, ffn=64)
    model = DecisionModel(config, token_init=np.random.default_rng(0).standard_normal((vocab, 10))).eval()
    with torch.no_grad():
        model.self_bias.normal_()
        model.cross_bias.normal_()
    return model


@pytest.mark.parametrize("lookahead", [0, 3])
def test_onnx_parity_holds_with_lookahead_and_short_inputs(tmp_path, lookahead):
    model = _random_model(lookahead)
    export_step_graph(model, tmp_path / "decision.onnx")
    sequences = [np.random.default_rng(i).integers(0, 16, n) for i, n in enumerate((1, 2, 5, 40))]
    parity = check_decision_parity(model, tmp_path / "decision.onnx", sequences)
    assert parity.tokens_equal and parity.max_logit_error < 1e-3, parity.describe()

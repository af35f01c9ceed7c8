"""Decision export: the ONNX step graph decodes like PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from export.onnx.decision_export import check_decision_parity, export_step_graph
from tests.decision_models import random_decision_model


@pytest.mark.parametrize("lookahead", [0, 3])
def test_onnx_parity_holds_with_lookahead_and_short_inputs(tmp_path, lookahead):
    model = random_decision_model(lookahead)
    export_step_graph(model, tmp_path / "decision.onnx")
    sequences = [np.random.default_rng(i).integers(0, 16, n) for i, n in enumerate((1, 2, 5, 40))]
    parity = check_decision_parity(model, tmp_path / "decision.onnx", sequences)
    assert parity.tokens_equal and parity.max_logit_error < 1e-3, parity.describe()

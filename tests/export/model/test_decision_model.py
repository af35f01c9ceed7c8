"""The decision model: a model trained blind to B's history reads any history as MASK."""

from __future__ import annotations

import torch

from export.model.decision_model import DecisionModel
from plugin_core.decision.config import DecisionConfig


def test_a_history_blind_model_gives_the_same_logits_whatever_was_played():
    torch.manual_seed(0)
    config = DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=16, context=8, lookahead=0)
    model = DecisionModel(config).eval()
    a = torch.randint(0, 8, (1, 10))
    played = torch.randint(0, 8, (1, 10))
    played[0, 0] = config.bos
    masked = torch.full_like(played, config.mask)
    with torch.no_grad():
        assert not torch.allclose(model(a, played), model(a, masked))
        model.read_history_as_mask()
        torch.testing.assert_close(model(a, played), model(a, masked), rtol=0, atol=0)
        padded = played.clone()
        padded[0, 7:] = config.pad
        assert not torch.allclose(model(a, padded), model(a, masked))  # PAD keeps its own meaning

"""Parallel scheduled sampling: which B-history tokens become the model's own guesses."""

from __future__ import annotations

import torch

from export.model.decision_model import DecisionModel
from export.train.config import TrainConfig
from export.train.run import own_history
from plugin_core.decision.config import DecisionConfig


def _model_and_batch():
    torch.manual_seed(0)
    config = DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=16, context=8, lookahead=0)
    model = DecisionModel(config).eval()
    a = torch.randint(0, 8, (4, 12))
    b_in = torch.randint(0, 8, (4, 12))
    b_in[:, 0] = config.bos
    b_in[3, 9:] = config.pad  # a song that ends inside the window
    return model, config, a, b_in


def test_share_zero_keeps_the_true_history_and_share_one_is_the_models_shifted_guess():
    model, config, a, b_in = _model_and_batch()
    generator = torch.Generator().manual_seed(1)
    assert torch.equal(own_history(model, a, b_in, 0.0, config.pad, generator), b_in)
    swapped = own_history(model, a, b_in, 1.0, config.pad, generator)
    with torch.no_grad():
        guess = model(a, b_in).argmax(-1)
    assert torch.equal(swapped[:, 0], b_in[:, 0])  # BOS or the true token before the window stays
    assert torch.equal(swapped[:3, 1:], guess[:3, :-1])  # position t holds the guess made for t-1
    assert torch.equal(swapped[3, 9:], b_in[3, 9:])  # padding stays padding
    assert not torch.equal(swapped, b_in)


def test_a_share_swaps_about_that_share():
    model, config, a, b_in = _model_and_batch()
    a, b_in = a.repeat(50, 1), b_in.repeat(50, 1)
    swapped = own_history(model, a, b_in, 0.3, config.pad, torch.Generator().manual_seed(2))
    with torch.no_grad():
        guess = torch.cat([b_in[:, :1], model(a, b_in).argmax(-1)[:, :-1]], dim=1)
    differs = (guess != b_in)[:, 1:] & (b_in[:, 1:] != config.pad)
    share = float(((swapped != b_in)[:, 1:] & differs).sum() / differs.sum())
    assert 0.25 < share < 0.35


def test_a_run_recorded_before_scheduled_sampling_reads_it_as_off():
    recorded = TrainConfig(corpus="c").__dict__ | {}
    del recorded["scheduled_sampling"]
    assert TrainConfig.from_dict(recorded, 2, "run/config.json").scheduled_sampling == 0.0

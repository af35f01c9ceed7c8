"""Decision: cached steps equal the full forward, ONNX equals PyTorch, sampling is constrained and seeded,
and training learns what needs context."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from export.data.token_data import IGNORE, TokenPair, make_sequences, split_by_song
from export.evaluation.paper_metrics import Baselines, longest_common_prefix_runs, score
from export.model.decision_model import DecisionModel
from export.onnx.decision_export import TorchStepper, check_decision_parity, export_step_graph
from export.train.run import TrainConfig, fit_decision
from plugin_core.decision.config import DecisionConfig
from plugin_core.decision.rng import PortableRandom
from plugin_core.decision.sampling import SamplingConfig, allowed_mask, choose
from plugin_core.decision.session import OnnxStepper, generate
from plugin_core.errors import CountertrackError


def _random_model(lookahead: int, vocab: int = 16, context: int = 8) -> DecisionModel:
    torch.manual_seed(lookahead)
    config = DecisionConfig(vocab_size=vocab, context=context, lookahead=lookahead, d_model=32, heads=4, layers=2, ffn=64)
    model = DecisionModel(config, token_init=np.random.default_rng(0).standard_normal((vocab, 10))).eval()
    with torch.no_grad():
        model.self_bias.normal_()
        model.cross_bias.normal_()
    return model


@pytest.mark.parametrize("lookahead", [0, 2, 7])
def test_cached_steps_equal_the_full_forward(lookahead):
    model = _random_model(lookahead)
    config = model.config
    length = 30
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 16, length), rng.integers(0, 16, length)
    a_padded = torch.from_numpy(np.concatenate([a, np.full(lookahead, config.pad)]))
    b_in = torch.from_numpy(np.concatenate([[config.bos], b[:-1]]))
    with torch.no_grad():
        full = model(a_padded[None], b_in[None])[0].numpy()
    stepper = TorchStepper(model)
    # teacher-forced stepping through the runtime's cache handling
    from plugin_core.decision.session import DecisionState, decode_step

    state = DecisionState(stepper.spec)
    stepped = []
    for _t in range(length):
        decode_step(stepper, state, a, lambda logits: stepped.append(logits) or int(b[len(stepped) - 1]))
    np.testing.assert_allclose(np.stack(stepped), full, atol=1e-5)


@pytest.fixture(scope="module")
def trained_context_model(tmp_path_factory):
    """A tiny model trained on a task only context solves: B answers with A's previous token."""
    rng = np.random.default_rng(0)

    def song(n: int) -> TokenPair:
        a = rng.integers(0, 8, n)
        return TokenPair("s", a, np.concatenate([[0], a[:-1]]))

    config = TrainConfig(
        corpus="-",
        vocab=8,
        d_model=32,
        heads=2,
        layers=2,
        ffn=64,
        context=8,
        lookahead=0,
        sequence_length=32,
        epochs=40,
        batch_size=16,
        learning_rate=3e-3,
        warmup_steps=20,
        patience=40,
        history_dropout=0.25,
        seed=0,
    )
    folder = tmp_path_factory.mktemp("context-run")
    train = [song(120) for _ in range(12)]
    validation = [song(120) for _ in range(2)]
    model, state = fit_decision(config, train, validation, folder, log=lambda _: None)
    test = [song(120) for _ in range(3)]
    return model, train, test, folder


def test_training_learns_what_only_context_can_answer(trained_context_model):
    model, train, test, _ = trained_context_model
    truths = [p.response for p in test]
    stepper = TorchStepper(model)
    greedy = score("model", "argmax", [generate(stepper, p.guide, SamplingConfig(greedy=True), 0) for p in test], truths, 8)
    baselines = Baselines(train, 8)
    table = score("table", "argmax", [baselines.predict("table p(B|A) argmax", p.guide, np.random.default_rng(0)) for p in test], truths, 8)
    assert table.tpp < 25.0
    assert greedy.tpp > 80.0, (greedy, table)
    assert greedy.lcp > 5 * table.lcp


def test_onnx_step_graph_decodes_exactly_like_pytorch(trained_context_model, tmp_path):
    model, _, test, _ = trained_context_model
    export_step_graph(model, tmp_path / "decision.onnx")
    parity = check_decision_parity(model, tmp_path / "decision.onnx", [p.guide for p in test])
    assert parity.tokens_equal, parity.describe()
    assert parity.max_logit_error < 1e-3, parity.describe()


@pytest.mark.parametrize("lookahead", [0, 3])
def test_onnx_parity_holds_with_lookahead_and_short_inputs(tmp_path, lookahead):
    model = _random_model(lookahead)
    export_step_graph(model, tmp_path / "decision.onnx")
    sequences = [np.random.default_rng(i).integers(0, 16, n) for i, n in enumerate((1, 2, 5, 40))]
    parity = check_decision_parity(model, tmp_path / "decision.onnx", sequences)
    assert parity.tokens_equal and parity.max_logit_error < 1e-3, parity.describe()


def test_same_seed_same_tokens_twice_in_pytorch_and_onnxruntime(tmp_path):
    model = _random_model(2)
    export_step_graph(model, tmp_path / "decision.onnx")
    a = np.random.default_rng(5).integers(0, 16, 60)
    for stepper in (TorchStepper(model), OnnxStepper(tmp_path / "decision.onnx", TorchStepper(model).spec)):
        first = generate(stepper, a, SamplingConfig(top_p=0.9, temperature=1.2), seed=11)
        second = generate(stepper, a, SamplingConfig(top_p=0.9, temperature=1.2), seed=11)
        other = generate(stepper, a, SamplingConfig(top_p=0.9, temperature=1.2), seed=12)
        np.testing.assert_array_equal(first, second)
        assert not np.array_equal(first, other)


@settings(max_examples=200, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=16, max_size=16),
    allowed=st.sets(st.integers(0, 15), min_size=1, max_size=16),
    top_p=st.floats(0.05, 1.0),
    top_k=st.integers(0, 16),
    temperature=st.floats(0.05, 5.0),
    greedy=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_constrained_choice_never_leaves_the_allowed_set(logits, allowed, top_p, top_k, temperature, greedy, seed):
    config = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    token = choose(np.array(logits), config, PortableRandom(seed), allowed_mask(16, sorted(allowed)))
    assert token in allowed


@settings(max_examples=10, deadline=None)
@given(allowed=st.sets(st.integers(0, 15), min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_constrained_generation_never_leaves_the_allowed_set(allowed, seed):
    model = _random_model(1)
    a = np.random.default_rng(seed).integers(0, 16, 25)
    tokens = generate(TorchStepper(model), a, SamplingConfig(top_p=0.8), seed, allowed=sorted(allowed))
    assert set(tokens.tolist()) <= allowed


def test_top_k_and_top_p_restrict_the_candidates():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = PortableRandom(0)
    assert {choose(logits, SamplingConfig(top_k=2, top_p=1.0), rng) for _ in range(300)} == {0, 1}
    assert {choose(logits, SamplingConfig(top_p=0.7), rng) for _ in range(300)} == {0, 1}
    assert {choose(logits, SamplingConfig(top_p=0.5), rng) for _ in range(50)} == {0}
    assert choose(logits, SamplingConfig(greedy=True), rng) == 0


def test_bad_sampling_settings_are_refused():
    for bad in (dict(temperature=0), dict(top_p=0), dict(top_p=1.5), dict(top_k=-1)):
        with pytest.raises(CountertrackError):
            SamplingConfig(**bad)


def test_lcp_counts_runs_of_matches_from_each_position():
    runs = longest_common_prefix_runs(np.array([1, 2, 3, 0, 5, 6]), np.array([1, 2, 3, 4, 5, 6]))
    assert runs.tolist() == [3, 2, 1, 0, 2, 1]


def test_split_is_by_song_and_seeded():
    ids = [f"song{i}" for i in range(20)]
    split = split_by_song(ids, seed=1, validation_fraction=0.15, test_fraction=0.15)
    assert sorted(split.train + split.validation + split.test) == sorted(ids)
    assert not set(split.train) & set(split.validation) and not set(split.train) & set(split.test)
    assert len(split.test) == 3 and len(split.validation) == 3
    assert split == split_by_song(ids, seed=1, validation_fraction=0.15, test_fraction=0.15)
    with pytest.raises(CountertrackError, match="at least 2 songs"):
        split_by_song(["only"], 0, 0.15, 0.15)


def test_sequences_align_a_b_and_targets():
    pair = TokenPair("x", np.arange(10), np.arange(100, 110))
    short = TokenPair("y", np.arange(3), np.arange(100, 103))
    sequences = make_sequences([pair, short], length=6, hop=4, lookahead=2, bos=200, pad=201)
    assert sequences["a"].shape == (3, 8)
    assert sequences["a"][0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert sequences["b_in"][0].tolist() == [200, 100, 101, 102, 103, 104]
    assert sequences["target"][0].tolist() == [100, 101, 102, 103, 104, 105]
    assert sequences["b_in"][1].tolist()[0] == 103  # the real previous token, not BOS, mid-song
    assert sequences["a"][1].tolist() == [4, 5, 6, 7, 8, 9, 201, 201]  # past the end: PAD
    assert sequences["target"][2].tolist() == [100, 101, 102, IGNORE, IGNORE, IGNORE]  # a short song: the rest ignored


def test_lookahead_must_fit_the_context():
    with pytest.raises(CountertrackError, match="lookahead"):
        DecisionConfig(vocab_size=16, context=4, lookahead=4)

"""Anticipation (lookahead -1): B's token for segment i is chosen from A up to the end of segment
i-1, so B's grain can sound when A's segment i starts and the latency is the crossfade's lead.

Tested on the real thing: a synthetic bundle exported with an anticipating model (its ONNX graphs
checked against PyTorch by the export), streamed at many block sizes and rendered offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugin_core.bundle.load import load_bundle
from plugin_core.decision.config import ANTICIPATE
from plugin_core.decision.session import DecisionState, decode_step, guide_as_heard
from plugin_core.io.audio import Audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import render_audio
from plugin_core.stream.chain import AnswerChain
from tests.bundles import RATE, make_synthetic_bundle, tone_melody

BPM = 100.0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("anticipate"), lookahead=ANTICIPATE, memory_bpm=120.0))


def _stream(chain: AnswerChain, a: np.ndarray, block: int) -> np.ndarray:
    chain.reset()
    pieces = [chain.process(a[:, i : i + block]) for i in range(0, a.shape[1], block)]
    pieces.append(chain.flush())
    return np.concatenate(pieces, axis=1)


def test_the_model_reads_a_one_segment_late():
    assert guide_as_heard(np.array([4, 5, 6]), ANTICIPATE, start=16).tolist() == [16, 4, 5]
    assert guide_as_heard(np.array([4, 5, 6]), 0, start=16).tolist() == [4, 5, 6]


def test_a_decision_never_depends_on_a_at_its_own_segment(bundle):
    """Changing A's token at segment k changes no logits at segments 0..k (only later ones)."""
    a = np.array([1, 2, 3, 4, 5, 6, 7, 0, 1, 2], dtype=np.int64)
    changed = a.copy()
    changed[5] = (a[5] + 3) % bundle.decision_config.vocab_size

    def logits_for(tokens: np.ndarray) -> np.ndarray:
        state, out = DecisionState(bundle.decision_config), []
        for t in range(tokens.size):
            decode_step(bundle.decision, state, tokens[:t], lambda logits: out.append(logits) or 0)  # only A before t is known
        return np.stack(out)

    before, after = logits_for(a), logits_for(changed)
    np.testing.assert_array_equal(before[:6], after[:6])
    assert not np.allclose(before[6:], after[6:])


def test_latency_is_the_crossfade_lead(bundle):
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM)
    assert chain.latency_samples == chain.effect.crossfade_samples
    assert chain.latency_samples / RATE <= 0.05


def test_each_output_sample_depends_only_on_a_already_heard(bundle):
    """Stream output sample n is computed from A's samples before n: a change of A from sample T on
    leaves every output sample before T unchanged."""
    a = tone_melody(10.0, BPM, seed=3)
    changed = a.copy()
    cut = int(5.3 * RATE)
    changed[:, cut:] = tone_melody(10.0, BPM, seed=9)[:, cut:]
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM, seed=1)
    first, second = _stream(chain, a, 512), _stream(chain, changed, 512)
    np.testing.assert_array_equal(first[:, :cut], second[:, :cut])
    assert not np.array_equal(first[:, cut:], second[:, cut:])


@pytest.mark.parametrize("seconds", [9.0, 9.25])  # 9.0 s ends exactly on a beat at 100 qpm
def test_the_stream_is_block_size_invariant_and_equals_the_offline_render(bundle, seconds):
    a = tone_melody(seconds, BPM, seed=5)
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM, seed=2)
    streams = [_stream(chain, a, block) for block in (64, 700, 4096)]
    for other in streams[1:]:
        np.testing.assert_array_equal(streams[0], other)
    aligned = streams[0][:, chain.latency_samples : chain.latency_samples + a.shape[1]]
    assert np.abs(aligned).max() > 0.01
    offline = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=2, segmentation=SegmentationConfig(strategy="beats", bpm=BPM))
    np.testing.assert_array_equal(offline.samples, aligned)
    # the slot of the beat A ends on (9.0 s) was committed to when A reached it, as a player's would be
    assert (offline.decisions[-1].start == a.shape[1]) == (seconds == 9.0)


def test_the_first_grain_sounds_from_the_first_sample(bundle):
    """Nothing to hear before A's first segment, yet B answers it at once (from the start token)."""
    a = tone_melody(4.0, BPM, seed=6)
    rendered = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=1, segmentation=SegmentationConfig(strategy="beats", bpm=BPM))
    first_beat = int(60.0 / BPM * RATE)
    assert np.abs(rendered.samples[:, :first_beat]).max() > 0.01
    assert rendered.decisions[0].a_token == -1 and rendered.decisions[1].a_token >= 0


def test_torch_and_runtime_agree_on_the_anticipating_step(bundle, tmp_path):
    """The exported graph was checked by the export; here the shifted reading matches the PyTorch
    model's whole-window forward on A read one segment late."""
    from export.model.decision_model import DecisionModel
    from export.onnx.decision_export import TorchStepper
    from plugin_core.decision.config import DecisionConfig
    from plugin_core.decision.sampling import SamplingConfig
    from plugin_core.decision.session import generate

    torch.manual_seed(0)
    model = DecisionModel(
        DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=32, dropout=0.0, context=8, lookahead=ANTICIPATE)
    ).eval()
    a = np.array([3, 1, 4, 1, 5, 2, 6, 5, 3, 5], dtype=np.int64)
    tokens, logits = generate(TorchStepper(model), a, SamplingConfig(greedy=True), seed=0, return_logits=True)
    heard = guide_as_heard(a, ANTICIPATE, model.config.bos)
    b_in = np.concatenate([[model.config.bos], tokens[:-1]])
    with torch.no_grad():
        whole = model(torch.from_numpy(heard)[None], torch.from_numpy(b_in)[None])[0].numpy()
    np.testing.assert_allclose(whole, logits, atol=1e-4)

"""The sidechain effect (plugin_core/stream/sidechain.py): segments labelled side by side or a few at a
time give what one at a time gives, and an Inf or NaN sample in A is heard as silence and counted (the
anticipating decision is in test_sidechain_anticipation.py, the contract every effect keeps in
test_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.stream.sidechain import SidechainEffect
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("bad-samples"), segmentation={"strategy": "beats", "bpm": 120.0})


def test_the_sidechain_alone_counts_them_too(bundle_path):
    from plugin_core.stream.sidechain import SidechainEffect

    effect = SidechainEffect(load_bundle(bundle_path), RATE, 1, seed=1)
    block = tone_melody(1.0, 120.0)
    block[0, 5] = np.nan
    out = effect.process(block)
    assert np.isfinite(out).all() and effect.non_finite_samples == 1
    effect.reset()
    assert effect.non_finite_samples == 0


def _streamed(effect, audio: np.ndarray, block: int) -> np.ndarray:
    effect.reset()
    pieces = [effect.process(audio[:, i : i + block]) for i in range(0, audio.shape[1], block)]
    pieces.append(effect.flush())
    return np.concatenate(pieces, axis=1)[:, effect.latency_samples : effect.latency_samples + audio.shape[1]]


def test_segments_labelled_side_by_side_give_what_one_at_a_time_gives(bundle_path):
    """A whole file's segments are labelled two at a time (each alone on its own thread); a stream in
    small blocks labels them one by one. Same embeddings bit for bit, so the same tokens and B."""
    side_by_side, one_at_a_time = load_bundle(bundle_path, threads=2), load_bundle(bundle_path, threads=1)
    assert side_by_side.perception.threads == 2
    a = np.repeat(tone_melody(8.0, 120.0, seed=4), 2, axis=0)
    mono = a.mean(axis=0)
    rng = np.random.default_rng(0)
    segments = [mono[start : start + int(rng.integers(2000, 30000))] for start in rng.integers(0, mono.size - 30000, 12)]
    tokens, embeddings = side_by_side.perception.label_segments(segments)
    for index, segment in enumerate(segments):  # in order, each as if it ran alone
        alone_tokens, alone_embeddings = one_at_a_time.perception.label_segments([segment])
        assert tokens[index] == alone_tokens[0]
        np.testing.assert_array_equal(embeddings[index], alone_embeddings[0])
    assert len(set(tokens.tolist())) > 1  # segments that differ: a result out of order would show
    whole = SidechainEffect(side_by_side, RATE, 2, seed=5)(a, RATE)
    effect = SidechainEffect(one_at_a_time, RATE, 2, seed=5)
    np.testing.assert_array_equal(whole, _streamed(effect, a, 256))


def test_a_block_completing_many_segments_labels_them_a_few_at_a_time(bundle_path):
    """Short hops under a long analysis window: one offline block completes dozens of segments, each
    needing seconds of A; they are prepared and labelled a few at a time (a whole block at once held
    1 GB for 20 s of 96 kHz stereo at hop 0.05 s, window 10 s), with the same B as one by one."""
    from plugin_core.perception.segmentation import SegmentationConfig
    from plugin_core.stream.sidechain import SEGMENTS_AT_ONCE

    short_hops = SegmentationConfig("uniform", hop_s=0.1, window_s=1.0)
    bundle = load_bundle(bundle_path, threads=2)
    a = tone_melody(3.0, 120.0, seed=7)
    real = bundle.perception.label_segments
    together: list[int] = []

    def recorded(segments):
        together.append(len(segments))
        return real(segments)

    bundle.perception.label_segments = recorded  # the real labelling, its calls counted
    whole = SidechainEffect(bundle, RATE, 1, seed=2, segmentation=short_hops)(a, RATE)
    assert sum(together) == 30 and max(together) == SEGMENTS_AT_ONCE * 2 and len(together) > 2
    one_by_one = SidechainEffect(load_bundle(bundle_path, threads=1), RATE, 1, seed=2, segmentation=short_hops)
    np.testing.assert_array_equal(whole, _streamed(one_by_one, a, 4410))

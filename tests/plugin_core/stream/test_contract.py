"""The streaming contract (plugin_core/stream/contract.py): every effect keeps it, and the offline call
``effect(audio, sample_rate)`` equals streaming the same audio block by block, aligned with A."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import CountertrackError
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.contract import StreamingEffect
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.grids import pairwise_grid


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("stream"), segmentation={"strategy": "beats", "bpm": 120.0})


@pytest.fixture(scope="module")
def bundle(bundle_path):
    return load_bundle(bundle_path)


def _streamed(effect, audio: np.ndarray, block: int) -> np.ndarray:
    effect.reset()
    pieces = [effect.process(audio[:, i : i + block]) for i in range(0, audio.shape[1], block)]
    pieces.append(effect.flush())
    return np.concatenate(pieces, axis=1)[:, effect.latency_samples : effect.latency_samples + audio.shape[1]]


@pytest.mark.parametrize("kind", ["sidechain", "threaded", "chain"])
def test_every_effect_keeps_the_contract_and_its_call_equals_the_stream(bundle, kind):
    a = np.repeat(tone_melody(6.0, 120.0, seed=3), 2, axis=0)
    if kind == "sidechain":
        effect = SidechainEffect(bundle, RATE, 2, seed=5)
    elif kind == "threaded":
        effect = ThreadedSidechain(SidechainEffect(bundle, RATE, 2, seed=5))
    else:
        effect = AnswerChain(bundle, RATE, 2, seed=5)
    assert isinstance(effect, StreamingEffect)
    whole = effect(a, RATE)
    assert whole.shape == a.shape and np.abs(whole).max() > 0.01
    np.testing.assert_array_equal(whole, _streamed(effect, a, 700))
    np.testing.assert_array_equal(whole, effect(a, RATE))  # the call resets: a second call is the same B


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


def test_mono_audio_may_be_one_dimensional(bundle):
    a = tone_melody(4.0, 120.0, seed=1)
    chain = AnswerChain(bundle, RATE, 1, seed=2)
    flat = chain(a[0], RATE)
    assert flat.ndim == 1
    np.testing.assert_array_equal(flat, chain(a, RATE)[0])


def test_reset_false_continues_the_stream_like_plugin_process(bundle):
    a = tone_melody(6.0, 120.0, seed=4)
    chain = AnswerChain(bundle, RATE, 1, seed=2)
    chain.reset()
    half = a.shape[1] // 2
    first, second = chain(a[:, :half], RATE, reset=False), chain(a[:, half:], RATE, reset=False)
    tail = chain.flush()
    joined = np.concatenate([first, second, tail], axis=1)[:, chain.latency_samples : chain.latency_samples + a.shape[1]]
    np.testing.assert_array_equal(joined, chain(a, RATE))


@pytest.mark.parametrize("rate, shape", [(48000, (1, 100)), (44100.5, (1, 100)), (RATE, (3, 100)), (RATE, (1, 2, 3))])
def test_a_call_at_another_rate_or_shape_is_one_line(bundle, rate, shape):
    chain = AnswerChain(bundle, RATE, 1)
    with pytest.raises(CountertrackError) as caught:
        chain(np.zeros(shape, dtype=np.float32), rate)
    assert "\n" not in str(caught.value)


def test_a_reset_replays_automation_from_the_parameters_last_set(bundle):
    """Automation changes parameters within one stream; a reset (or a second offline call) starts again
    from what ``set_parameters`` set, so the same A gives the same B."""
    a = tone_melody(8.0, 120.0, seed=8)
    chain = AnswerChain(bundle, RATE, 1, seed=3)
    chain.set_parameters(temperature=1.3)
    chain.schedule(RATE * 3, temperature=0.2, top_p=0.5)
    first = chain(a, RATE)
    np.testing.assert_array_equal(first, chain(a, RATE))
    assert chain.effect.parameters.sampling.temperature == 1.3


def _melody_at(rate: int, channels: int, seconds: float = 5.0) -> np.ndarray:
    return np.repeat(tone_melody(seconds, 100.0, sample_rate=rate, seed=6), channels, axis=0)


@pytest.fixture(scope="module")
def uniform_bundle(tmp_path_factory):
    return load_bundle(
        make_synthetic_bundle(tmp_path_factory.mktemp("stream-uniform"), segmentation={"strategy": "uniform", "hop_s": 0.37})
    )


@pytest.mark.parametrize(
    *pairwise_grid(
        rate=[22050, 44100, 48000, 96000],
        channels=[1, 2],
        grid=["beats at 100 qpm", "uniform 0.37 s"],
        preset=[None, "faithful", "loose", "ambient"],
    )
)
def test_the_contract_holds_at_every_rate_layout_block_size_grid_and_preset(bundle, uniform_bundle, rate, channels, grid, preset):
    """As pedalboard tests its plugins: the offline call is A's shape, finite and not silent, equal
    to streaming it in blocks of 1, 256 and an odd size (bit for bit), and a second call repeats it."""
    from plugin_core.stream.presets import load_preset

    a = _melody_at(rate, channels, seconds=3.5)
    used, bpm = (bundle, 100.0) if grid.startswith("beats") else (uniform_bundle, None)
    chain = AnswerChain(used, rate, channels, seed=1, preset=load_preset(preset) if preset else None, bpm=bpm)
    whole = chain(a, rate)
    assert whole.shape == a.shape and np.isfinite(whole).all() and np.abs(whole).max() > 0.01
    blocks = (256, 1001) if rate != 96000 else (1001,)
    for block in blocks:
        np.testing.assert_array_equal(whole, _streamed(chain, a, block), err_msg=f"block {block}")
    np.testing.assert_array_equal(whole, chain(a, rate))


@pytest.mark.parametrize("channels", [1, 2])
def test_single_sample_blocks_equal_the_offline_call(bundle, channels):
    a = _melody_at(22050, channels, seconds=2.0)
    chain = AnswerChain(bundle, 22050, channels, seed=1, bpm=100.0)
    np.testing.assert_array_equal(chain(a, 22050), _streamed(chain, a, 1))


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

"""The streaming contract (plugin_core/stream/contract.py): every effect keeps it, and the offline call
``effect(audio, sample_rate)`` equals streaming the same audio block by block, aligned with A."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.contract import StreamingEffect
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.grids import pairwise_grid


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


@pytest.mark.parametrize("channels", [pytest.param(1, marks=pytest.mark.slow), 2])  # mono: the full suite
def test_single_sample_blocks_equal_the_offline_call(bundle, channels):
    a = _melody_at(22050, channels, seconds=1.2)
    chain = AnswerChain(bundle, 22050, channels, seed=1, bpm=100.0)
    np.testing.assert_array_equal(chain(a, 22050), _streamed(chain, a, 1))

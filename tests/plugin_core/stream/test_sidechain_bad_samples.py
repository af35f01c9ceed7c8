"""One Inf or NaN sample in a live input must not stop the stream or reach B: it is heard as
silence, counted, and the output equals the stream of the cleaned input, threaded or not."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.presets import Preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("bad-samples"), segmentation={"strategy": "beats", "bpm": 120.0})


def _stream(chain: AnswerChain, a: np.ndarray, block: int) -> np.ndarray:
    pieces = [chain.process(a[:, i : i + block]) for i in range(0, a.shape[1], block)] + [chain.flush()]
    return np.concatenate(pieces, axis=1)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dry", [0.0, 0.5])
def test_non_finite_samples_are_silence_counted_and_kept_out_of_b(bundle_path, threaded, dry):
    bundle = load_bundle(bundle_path, threads=1)
    a = np.repeat(tone_melody(6.0, 120.0, seed=9), 2, axis=0)
    bad = a.copy()
    bad[0, 1000] = np.inf
    bad[1, 30000:30010] = np.nan
    bad[:, 90000] = -np.inf
    preset = Preset(name="mix", dry=dry, wet=1.0)
    chain = AnswerChain(bundle, RATE, 2, preset=preset, seed=4, threaded=threaded)
    streamed = _stream(chain, bad, 512)
    assert np.isfinite(streamed).all()
    assert chain.non_finite_samples == 1 + 10 + 2
    clean = AnswerChain(bundle, RATE, 2, preset=preset, seed=4, threaded=threaded)
    np.testing.assert_array_equal(streamed, _stream(clean, np.where(np.isfinite(bad), bad, 0.0).astype(np.float32), 512))
    if threaded:
        chain.effect.close()
        clean.effect.close()


def test_the_sidechain_alone_counts_them_too(bundle_path):
    from plugin_core.stream.sidechain import SidechainEffect

    effect = SidechainEffect(load_bundle(bundle_path), RATE, 1, seed=1)
    block = tone_melody(1.0, 120.0)
    block[0, 5] = np.nan
    out = effect.process(block)
    assert np.isfinite(out).all() and effect.non_finite_samples == 1
    effect.reset()
    assert effect.non_finite_samples == 0


def test_parameters_change_by_name_and_unknown_names_are_one_line(bundle_path):
    from plugin_core.errors import CountertrackError

    chain = AnswerChain(load_bundle(bundle_path), RATE, 1, seed=2)
    chain.set_parameters(temperature=1.4, harmony=8.0, wet=0.7)
    assert chain.effect.parameters.sampling.temperature == 1.4 and chain.effect.parameters.engine.harmony == 8.0 and chain.wet == 0.7
    for bad in ({"process": 1}, {"temperature": -1.0}, {"wet": float("nan")}):
        with pytest.raises(CountertrackError):
            chain.set_parameters(**bad)

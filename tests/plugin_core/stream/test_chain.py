"""The answer chain (plugin_core/stream/chain.py): the sidechain with its effects and dry/wet mix, called
offline or streamed, with parameters, automation and inputs it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import CountertrackError
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.presets import MixLevels, Preset, load_preset, mix_levels, parse_preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.streaming import chorale_a, stream_blocks


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


# One Inf or NaN sample in a live input must not stop the stream or reach B: it is heard as
# silence, counted, and the output equals the stream of the cleaned input, threaded or not.


def _stream_blocks(chain: AnswerChain, a: np.ndarray, block: int) -> np.ndarray:
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
    streamed = _stream_blocks(chain, bad, 512)
    assert np.isfinite(streamed).all()
    assert chain.non_finite_samples == 1 + 10 + 2
    clean = AnswerChain(bundle, RATE, 2, preset=preset, seed=4, threaded=threaded)
    np.testing.assert_array_equal(streamed, _stream_blocks(clean, np.where(np.isfinite(bad), bad, 0.0).astype(np.float32), 512))
    if threaded:
        chain.effect.close()
        clean.effect.close()


def test_parameters_change_by_name_and_unknown_names_are_one_line(bundle_path):
    from plugin_core.errors import CountertrackError

    chain = AnswerChain(load_bundle(bundle_path), RATE, 1, seed=2)
    chain.set_parameters(temperature=1.4, harmony=8.0, wet=0.7)
    assert chain.effect.parameters.sampling.temperature == 1.4 and chain.effect.parameters.engine.harmony == 8.0 and chain.wet == 0.7
    for bad in ({"process": 1}, {"temperature": -1.0}, {"wet": float("nan")}):
        with pytest.raises(CountertrackError):
            chain.set_parameters(**bad)


@pytest.mark.parametrize("block", [64, 4096])
def test_chain_with_effects_block_wise_equals_one_shot(tiny_bundle, chorale_corpus, block):
    """Our stages are bit-exact (tests/plugin_core/render/test_offline.py); pedalboard's JUCE filters and reverb round differently at
    block edges on some signals by a few 1e-9, so the chain is held to -140 dB, not to the bit."""
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 4.0)
    preset = load_preset("ambient")
    one_shot = AnswerChain(bundle, a.sample_rate, 1, preset=preset, seed=1)
    whole = stream_blocks(one_shot.process, one_shot.flush, a.samples, a.num_samples, one_shot.latency_samples)
    chain = AnswerChain(bundle, a.sample_rate, 1, preset=preset, seed=1)
    blocked = stream_blocks(chain.process, chain.flush, a.samples, block, chain.latency_samples)
    assert np.abs(blocked - whole).max() <= 1e-7
    assert np.abs(whole).max() > 0.01


@pytest.fixture(scope="module")
def uniform_bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("chain")))


def test_half_wet_with_dry_a_is_half_the_answer_plus_a(uniform_bundle):
    bundle = uniform_bundle
    a = tone_melody(4.0, 120.0, seed=3).astype(np.float32)
    b_alone = AnswerChain(bundle, RATE, 1, seed=5)
    b_alone.set_parameters(wet=1.0, dry=0.0)
    b = b_alone(a, RATE)
    chain = AnswerChain(bundle, RATE, 1, seed=5)
    chain.set_parameters(wet=0.5, dry=1)
    mixed = chain(a, RATE)
    assert np.abs(b).max() > 0.01
    np.testing.assert_allclose(mixed, 0.5 * b + a, atol=1e-6)


def test_parameters_win_over_the_preset_over_the_defaults():
    preset = parse_preset({"name": "p", "wet": 0.7, "dry": 0.2})
    assert mix_levels() == MixLevels(1.0, 0.0)
    assert mix_levels(preset) == MixLevels(0.7, 0.2)
    assert mix_levels(preset, {"wet": 0.5, "temperature": 2.0}) == MixLevels(0.5, 0.2)

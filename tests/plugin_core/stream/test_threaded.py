"""The worker-thread sidechain: the synchronous effect's output one segment later, to the bit, at any
block size, with parameters, automation, reset and failures carried across the thread."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import CountertrackError
from plugin_core.render.offline import render_audio
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.presets import load_preset
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain
from tests.bundles import make_synthetic_bundle, tone_melody
from tests.streaming import chorale_a, stream_blocks


@pytest.mark.parametrize("block", [64, 256, 4097])
def test_threaded_equals_offline_bit_for_bit(tiny_bundle, chorale_corpus, block):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus)
    offline = render_audio(bundle, a, seed=7).samples
    with ThreadedSidechain(SidechainEffect(bundle, a.sample_rate, a.num_channels, seed=7)) as threaded:
        assert threaded.latency_samples == threaded.effect.latency_samples + threaded.extra_latency_samples
        assert threaded.extra_latency_samples >= int(0.5 * a.sample_rate)  # one more segment
        streamed = stream_blocks(threaded.process, threaded.flush, a.samples, block, threaded.latency_samples)
        decisions = threaded.decisions
    assert np.array_equal(streamed, offline)
    assert len(decisions) == len(render_audio(bundle, a, seed=7).decisions)


@pytest.mark.parametrize(("seconds", "segment_s"), [(6.0, 0.6), (1.0, 1.0), (2.0, 1.5)])  # a grid of one segment; a long one
def test_a_given_grid_streams_through_the_worker_with_a_grid_that_needs_the_whole_track(tmp_path_factory, seconds, segment_s):
    """Beats found in the audio need the whole track, so such an effect streams on a grid it is given:
    the worker (warmed up before the stream on a grid of its own, whatever this one is) plays the
    synchronous output."""
    bundle = load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("beats"), segmentation={"strategy": "beats"}))
    rate = 44100
    a = tone_melody(seconds, 100.0, seed=2, sample_rate=rate)
    grid = np.unique(np.append(np.arange(0, a.shape[1], int(segment_s * rate)), a.shape[1]))
    with pytest.raises(CountertrackError, match="needs the whole track"):
        SidechainEffect(bundle, rate, 1)
    synchronous = SidechainEffect(bundle, rate, 1, seed=4, boundaries=grid)
    expected = stream_blocks(synchronous.process, synchronous.flush, a, 256, synchronous.latency_samples)
    with ThreadedSidechain(SidechainEffect(bundle, rate, 1, seed=4, boundaries=grid)) as threaded:
        streamed = stream_blocks(threaded.process, threaded.flush, a, 256, threaded.latency_samples)
    np.testing.assert_array_equal(streamed, expected)


def test_parameters_and_automation_cross_the_thread_in_order(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus)
    half = a.num_samples // 2

    def run(effect):
        effect.schedule(int(1.5 * a.sample_rate), temperature=2.0, top_p=1.0)
        first = stream_blocks(effect.process, lambda: np.zeros((1, 0), np.float32), a.samples[:, :half], 512, 0)
        effect.set_parameters(continuity=0.0, harmony=0.0)
        rest = [effect.process(a.samples[:, i : i + 512]) for i in range(half, a.num_samples, 512)]
        return np.concatenate([first, *rest, effect.flush()], axis=1)

    synchronous = run(SidechainEffect(bundle, a.sample_rate, 1, seed=3))
    with ThreadedSidechain(SidechainEffect(bundle, a.sample_rate, 1, seed=3), extra_latency_samples=1000) as threaded:
        delayed = run(threaded)
    assert np.array_equal(delayed[:, 1000:], synchronous)
    assert not delayed[:, :1000].any()
    assert np.abs(synchronous).max() > 0.01


def test_reset_mid_stream_starts_a_new_track(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 4.0)
    with ThreadedSidechain(SidechainEffect(bundle, a.sample_rate, 1, seed=5)) as threaded:
        fresh = stream_blocks(threaded.process, threaded.flush, a.samples, 300, threaded.latency_samples)
        with pytest.raises(CountertrackError, match="flushed"):
            threaded.process(a.samples[:, :300])
        threaded.reset()
        for i in range(0, a.num_samples // 3, 300):  # abandon a stream halfway, with blocks still queued
            threaded.process(a.samples[:, i : i + 300])
        threaded.reset()
        again = stream_blocks(threaded.process, threaded.flush, a.samples, 300, threaded.latency_samples)
    assert np.array_equal(fresh, again)


def test_threaded_chain_matches_the_synchronous_chain(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 4.0)
    preset = load_preset("loose")
    plain = AnswerChain(bundle, a.sample_rate, 1, preset=preset, seed=1)
    expected = stream_blocks(plain.process, plain.flush, a.samples, 512, plain.latency_samples)
    threaded = AnswerChain(bundle, a.sample_rate, 1, preset=preset, seed=1, threaded=True)
    assert threaded.latency_samples > plain.latency_samples
    got = stream_blocks(threaded.process, threaded.flush, a.samples, 512, threaded.latency_samples)
    assert np.abs(got - expected).max() <= 1e-7


class _FailsOnSecondSegment(SidechainEffect):
    """A real effect whose perception breaks once a few blocks are in: a fault to carry across."""

    def _advance(self) -> None:
        if self._received > self.sample_rate:
            raise CountertrackError("perception failed")
        super()._advance()


def test_a_failure_on_the_worker_is_raised_on_the_callers_thread(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 4.0)
    threaded = ThreadedSidechain(_FailsOnSecondSegment(bundle, a.sample_rate, 1), extra_latency_samples=0)
    with pytest.raises(CountertrackError, match="perception failed"):
        for i in range(0, a.num_samples, 1024):
            threaded.process(a.samples[:, i : i + 1024])
    with pytest.raises(CountertrackError, match="perception failed"):
        threaded.flush()
    threaded.reset()  # recovers: a short track (under the fault's one second) streams to its end
    short = a.samples[:, : a.sample_rate // 2]
    out = [threaded.process(short[:, i : i + 1024]) for i in range(0, short.shape[1], 1024)]
    assert sum(block.shape[1] for block in out) + threaded.flush().shape[1] == short.shape[1] + threaded.latency_samples
    threaded.close()
    assert not threaded._thread.is_alive()


def test_dropping_the_effect_stops_its_worker(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    threaded = ThreadedSidechain(SidechainEffect(bundle, 44100, 1))
    thread = threaded._thread
    del threaded
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()

"""The portable resampler (plugin_core/io/resampling.py): what it does to the signal, and that it is
the computation docs/bundle-format.md states (step 8), in pieces or whole."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from plugin_core.io import resampling
from plugin_core.io.resampling import ROLL_OFF, kernel, output_length, resample, resampled_chunks

RATES = [(44100, 16000), (48000, 16000), (22050, 16000), (96000, 16000), (44100, 48000), (48000, 44100), (16000, 44100)]


def _tone(hz: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :]


def _level_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(x.astype(np.float64) ** 2)) + 1e-30)


@pytest.mark.parametrize(("from_hz", "to_hz"), RATES)
def test_a_tone_in_the_passband_keeps_its_level_and_pitch(from_hz, to_hz):
    hz = 0.3 * min(from_hz, to_hz)
    out = resample(_tone(hz, from_hz), from_hz, to_hz)
    assert out.shape == (1, output_length(from_hz, from_hz, to_hz)) and out.dtype == np.float32
    inner = out[0, 1000:-1000]
    assert _level_db(inner) == pytest.approx(_level_db(_tone(hz, to_hz)), abs=0.01)
    spectrum = np.abs(np.fft.rfft(inner * np.hanning(inner.size)))
    assert np.argmax(spectrum) * to_hz / inner.size == pytest.approx(hz, abs=2.0)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(44100, 16000), (48000, 16000), (96000, 16000), (96000, 44100)])
def test_what_the_lower_rate_cannot_hold_is_filtered_out_not_folded_back(from_hz, to_hz):
    hz = 0.5 * to_hz * 1.15  # above the new Nyquist frequency (below the old one): it would alias to 0.85 of it
    out = resample(_tone(hz, from_hz), from_hz, to_hz)[0, 1000:-1000]
    assert _level_db(out) < _level_db(_tone(hz, from_hz)) - 60.0


def test_a_constant_stays_that_constant_away_from_the_edges():
    for from_hz, to_hz in RATES:
        out = resample(np.full((1, from_hz // 2), 0.25, np.float32), from_hz, to_hz)[0]
        np.testing.assert_allclose(out[200:-200], 0.25, atol=1e-6)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(44100, 16000), (44100, 48000), (44100, 44101)])
def test_pieces_of_any_size_give_the_same_samples_as_one_pass(from_hz, to_hz):
    """A long memory is resampled in chunks; every output depends on the input alone."""
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 6007)).astype(np.float32)
    whole = resample(x, from_hz, to_hz)

    def read(start: int, stop: int) -> np.ndarray:
        out = np.zeros((2, stop - start), np.float32)
        lo, hi = max(0, start), min(x.shape[1], stop)
        out[:, lo - start : hi - start] = x[:, lo:hi]
        return out

    for chunk in (7, 997, 4096):
        pieces = np.concatenate(list(resampled_chunks(read, x.shape[1], from_hz, to_hz, 2, chunk)), axis=1)
        np.testing.assert_array_equal(pieces, whole)


def _documented_output(x: np.ndarray, from_hz: int, to_hz: int, k: int) -> np.float32:
    """Output ``k`` of mono ``x`` as step 8 states it, one weight and one product at a time."""
    g = math.gcd(from_hz, to_hz)
    up, down = to_hz // g, from_hz // g
    c = ROLL_OFF * min(1.0, up / down)
    reach = math.ceil(12 / c)
    assert kernel(from_hz, to_hz).reach == reach
    i, p = k * down // up, k * down % up
    weights = []
    for j in range(2 * reach):
        tau = (j - reach + 1) - p / up
        y = math.pi * (c * tau)
        sinc = 1.0 if y == 0 else math.sin(y) / y
        u = tau / reach
        weights.append(c * sinc * (0.42 + 0.5 * math.cos(math.pi * u) + 0.08 * math.cos(2 * math.pi * u)))
    total = 0.0
    for w in weights:
        total += w
    value = 0.0
    for j, w in enumerate(weights):
        n = i - reach + 1 + j
        value += (w / total) * (float(x[n]) if 0 <= n < x.size else 0.0)
    return np.float32(value)


def test_each_output_is_the_documented_sum_in_tap_order():
    """Step 8 to the operation: the kernel from its formula, each phase normalised by its sum in tap
    order, the products accumulated in float64 from zero, then float32."""
    x = np.random.default_rng(2).uniform(-1, 1, 5000).astype(np.float32)
    out = resample(x[None, :], 44100, 16000)[0]
    for k in (0, 1, 7, 100, 1234, out.size - 1):
        assert _documented_output(x, 44100, 16000, k) == out[k]


@pytest.mark.parametrize(("from_hz", "to_hz"), [(383999, 384000), (44100, 44101)])
def test_rates_with_a_huge_up_compute_only_the_phases_used_and_the_same_weights(from_hz, to_hz):
    """383999 -> 384000 Hz has 384000 phases: the whole table would be 86 MB (and its temporaries
    half a gigabyte); an input computes the phases its outputs use, a stretch at a time, each column
    to the bit what the formula gives for its phase alone."""
    resampling._kernel.cache_clear()
    x = np.random.default_rng(3).uniform(-1, 1, 9000).astype(np.float32)
    tracemalloc.start()
    try:
        out = resample(x[None, :], from_hz, to_hz)[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, f"{peak / 2**20:.1f} MB"
    for k in (0, 1, 2, 4680, 4681, 4682, 7777, out.size - 1):  # 4681 outputs to a stretch at 28 taps
        assert _documented_output(x, from_hz, to_hz, k) == out[k]


def test_the_same_rate_is_left_alone_and_nothing_stays_nothing():
    x = np.ones((1, 10), np.float32)
    assert resample(x, 44100, 44100) is x
    assert resample(np.zeros((2, 0), np.float32), 44100, 16000).shape == (2, 0)
    assert resample(np.ones((1, 1), np.float32), 44100, 16000).shape == (1, 0)  # rounds to no sample at all
    assert resample(np.ones((1, 2), np.float32), 44100, 16000).shape == (1, 1)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(0, 16000), (44100, -1), (44100.0, 16000)])
def test_a_rate_that_is_not_a_positive_whole_number_is_refused(from_hz, to_hz):
    from plugin_core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="positive whole numbers"):
        resample(np.zeros((1, 100), np.float32), from_hz, to_hz)

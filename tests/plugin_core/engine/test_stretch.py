"""The grain stretcher (plugin_core/engine/stretch.py, WSOLA): a longer note at the same pitch,
with a steady level, the same for every channel layout, and the offsets it picks independent of
how its correlations are summed (docs/bundle-format.md, step 9)."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.engine.stretch import StretchGrid, crossfade_weights, stretch

RATE = 44100


def _reader(x: np.ndarray):
    def read(start: int, stop: int) -> np.ndarray:
        out = np.zeros((x.shape[0], stop - start), np.float32)
        lo, hi = max(0, start), min(x.shape[1], stop)
        if hi > lo:
            out[:, lo - start : hi - start] = x[:, lo:hi]
        return out

    return read


def _bass_note(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.sin(2 * np.pi * hz * t) + 0.4 * np.sin(4 * np.pi * hz * t + 0.3) + 0.2 * np.sin(6 * np.pi * hz * t + 1.0)
    return (0.3 * wave).astype(np.float32)[None, :]


@pytest.mark.parametrize("hz", [41.2, 55.0, 110.0, 220.0])
@pytest.mark.parametrize("ratio", [0.95, 0.75, 0.55])
def test_a_stretched_note_keeps_its_pitch_and_a_steady_level(hz, ratio):
    note = _bass_note(hz)
    length = int(0.8 * note.shape[1] / ratio)
    out = stretch(_reader(note), 0, ratio, length, RATE)
    assert out.shape == (1, length) and out.dtype == np.float32
    body = out[0, 4000:-4000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(body * np.hanning(body.size), 8 * body.size))
    assert np.argmax(spectrum) * RATE / (8 * body.size) == pytest.approx(hz, rel=0.01)
    period = int(round(RATE / hz))
    blocks = body[: body.size // period * period].reshape(-1, period)
    levels = 10 * np.log10(np.mean(blocks**2, axis=1))
    assert levels.max() - levels.min() < 1.0  # no dips where frames meet: they are aligned in phase


def test_every_channel_gets_the_same_offsets_so_a_mono_memory_copied_to_stereo_stays_identical():
    note = _bass_note(73.4)
    mono = stretch(_reader(note), 500, 0.7, 30000, RATE)
    stereo = stretch(_reader(np.concatenate([note, note])), 500, 0.7, 30000, RATE)
    np.testing.assert_array_equal(stereo[0], mono[0])
    np.testing.assert_array_equal(stereo[1], mono[0])


def test_the_offsets_are_exact_integers_whatever_order_their_sums_take(monkeypatch):
    """The search scores 16-bit integers, so a port that sums in another order (or a BLAS that
    does) picks the same offsets: here numpy's correlate against a reversed, pairwise sum."""
    import plugin_core.engine.stretch as module

    def reversed_correlate(a: np.ndarray, v: np.ndarray) -> np.ndarray:
        n = a.size - v.size + 1
        return np.array([sum(float(x) for x in (a[i : i + v.size] * v)[::-1]) for i in range(n)])

    note = _bass_note(98.0, 0.4) + np.float32(0.01) * np.random.default_rng(3).standard_normal((1, int(0.4 * RATE))).astype(np.float32)
    expected = stretch(_reader(note), 0, 0.8, 12000, RATE)
    monkeypatch.setattr(module.np, "correlate", reversed_correlate)
    np.testing.assert_array_equal(stretch(_reader(note), 0, 0.8, 12000, RATE), expected)


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 96000, 192000])
def test_the_grid_is_whole_steps_at_every_rate(rate):
    grid = StretchGrid.at(rate)
    assert grid.hop % grid.step == 0 and grid.tolerance % grid.step == 0
    assert grid.hop == pytest.approx(0.02 * rate, rel=0.1) and grid.tolerance == pytest.approx(0.0125 * rate, rel=0.1)
    rising, falling = crossfade_weights(grid.hop)
    np.testing.assert_allclose(rising + falling, 1.0, atol=1e-15)
    assert np.all(np.diff(rising) > 0)


def test_a_take_shorter_than_the_kept_attack_is_the_memory_as_recorded(tmp_path):
    """At 96 kHz the kept attack and its blend are 2880 samples: a short stretched take with no
    crossfade (margin 2048) used to overrun its array; it is now the memory as recorded, cut to fit."""
    from plugin_core.engine.grains import SeamWriter, Slot
    from plugin_core.engine.memory import load_memory
    from tests.bundles import make_synthetic_bundle

    memory = load_memory(make_synthetic_bundle(tmp_path) / "memory")
    writer = SeamWriter(memory, 96000, 1, 0)
    for stop in (300, 700, 1200):
        slot = Slot(start=0, stop=stop, source=20000, gain=1.0, continued=False, ratio=0.5)
        audio = writer.slot_audio(slot, 0, stop)
        assert audio.shape == (1, stop) and np.isfinite(audio).all()
        if stop <= 2880 - 2048:  # all of it within the kept attack
            np.testing.assert_array_equal(audio, memory.read(20000, 20000 + stop, 96000))

"""Small DSP shared by the encoders and the runtime: filterbanks, levels, chroma and bad samples."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.perception.dsp import chroma_filterbank, chroma_vector, mel_filterbank, rms_db, silence_non_finite


def test_chroma_filters_put_a_note_in_its_pitch_class():
    bank = chroma_filterbank(16000, 2048)

    def bin_of(hz):
        return int(round(hz * 2048 / 16000))

    assert np.argmax(bank[:, bin_of(440.0)]) == 9  # A
    assert np.argmax(bank[:, bin_of(261.63)]) == 0  # C


def test_mel_filters_are_triangles_of_unit_area_rising_in_frequency():
    bank = mel_filterbank(16000, 1024, 40, 30.0, 8000.0)
    assert bank.shape == (40, 513) and (bank >= 0).all()
    hz_per_bin = 16000 / 1024
    np.testing.assert_allclose(bank.sum(axis=1) * hz_per_bin, 1.0, rtol=0.1)  # area-normalised (bar the narrowest)
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > peaks[0]


def test_rms_of_a_full_scale_sine_is_minus_3_db_and_silence_is_floored():
    t = np.arange(44100) / 44100
    assert rms_db(np.sin(2 * np.pi * 441 * t)) == pytest.approx(-3.01, abs=0.01)
    assert rms_db(0.1 * np.sin(2 * np.pi * 441 * t)) == pytest.approx(-23.01, abs=0.01)
    assert rms_db(np.zeros(100)) == -120.0 and rms_db(np.zeros(0), floor_db=-90.0) == -90.0


def test_the_chroma_of_an_a_is_mostly_a_and_silence_has_none():
    t = np.arange(4096) / 44100
    chroma = chroma_vector(np.sin(2 * np.pi * 440.0 * t), 44100)
    assert chroma.sum() == pytest.approx(1.0, abs=1e-5) and int(chroma.argmax()) == 9 and chroma[9] > 0.5
    assert int(chroma_vector(np.sin(2 * np.pi * 261.63 * t), 44100).argmax()) == 0  # C
    assert not chroma_vector(np.zeros(4096), 44100).any()


def test_non_finite_samples_become_silence_and_are_counted():
    block = np.array([[0.5, np.nan, -np.inf], [np.inf, 0.25, -0.5]])
    cleaned, bad = silence_non_finite(block)
    assert bad == 3 and cleaned.dtype == np.float32
    np.testing.assert_array_equal(cleaned, np.array([[0.5, 0.0, 0.0], [0.0, 0.25, -0.5]], np.float32))
    fine = np.ones((1, 4), np.float32)
    same, none = silence_non_finite(fine)
    assert none == 0 and same is fine  # a clean block is passed on as it is

"""Encoders: the spectral features are exact and musically meaningful; Wav2Vec2 loads offline."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch

from export.model.codebook_fit import fit_codebook
from export.model.encoders import EncoderSpec, FactoredRealDFT, build_encoder, frame_signal
from export.onnx.perception_export import encode_spans
from plugin_core.errors import CountertrackError


def test_factored_dft_equals_numpy_rfft():
    frames = np.random.default_rng(0).standard_normal((5, 2048)).astype(np.float32)
    real, imag = FactoredRealDFT(2048)(torch.from_numpy(frames))
    reference = np.fft.rfft(frames.astype(np.float64), axis=1)
    scale = np.abs(reference).max()
    assert np.abs(real.numpy() - reference.real).max() < 1e-5 * scale
    assert np.abs(imag.numpy() - reference.imag).max() < 1e-5 * scale


def test_frames_are_centred_and_counted_from_the_hop():
    signal = torch.arange(1, 21, dtype=torch.float32).reshape(1, 20)
    frames = frame_signal(signal, 8, 4)
    assert frames.shape == (1, 6, 8)
    assert frames[0, 1].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert frames[0, 0, :4].tolist() == [0, 0, 0, 0]


def test_spectral_encoder_is_deterministic_and_hears_loudness():
    encoder = build_encoder(EncoderSpec.new())
    t = torch.arange(8000) / 16000
    quiet = (0.05 * torch.sin(2 * torch.pi * 220 * t)).reshape(1, -1)
    loud = 10 * quiet
    a, b = encoder(torch.cat([quiet, loud])), encoder(torch.cat([quiet, loud]))
    assert torch.equal(a, b)
    start, _ = encoder.feature_groups["loudness"]
    assert 19.0 < float(a[1, start] - a[0, start]) < 21.0  # +20 dB


def _note(midi_pitch: int, instrument: int, amplitude: float, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    hz = 440.0 * 2 ** ((midi_pitch - 69) / 12)
    t = np.arange(rate // 2) / rate
    partials = [(1, 1.0), (2, 0.3), (3, 0.1)] if instrument == 0 else [(k, 1.0 / k) for k in (1, 3, 5, 7, 9)]
    x = sum(a * np.sin(2 * np.pi * hz * k * t + rng.uniform(0, 2 * np.pi)) for k, a in partials if hz * k < 7000)
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-2.0 * t)
    return (amplitude * x * envelope / np.abs(x).max()).astype(np.float32)


def test_spectral_tokens_group_notes_by_pitch_class_and_instrument():
    """Same pitch class and instrument (two octaves, random levels) share a token far more than chance."""
    rng = np.random.default_rng(0)
    labels, notes = [], []
    for instrument, pitch_class, octave, _ in itertools.product(range(2), range(12), (4, 5), range(3)):
        notes.append(_note(12 * (octave + 1) + pitch_class, instrument, 10 ** (rng.uniform(-12, -3) / 20), rng))
        labels.append((instrument, pitch_class))
    audio = np.concatenate(notes)
    spans = [(i * 8000, (i + 1) * 8000) for i in range(len(notes))]
    encoder = build_encoder(EncoderSpec.new())
    codebook, report = fit_codebook(encode_spans(encoder, audio, spans), 24, seed=0, groups=encoder.feature_groups)
    tokens = codebook.assign(encode_spans(encoder, audio, spans))
    same, different = [], []
    for i, j in itertools.combinations(range(len(tokens)), 2):
        (same if labels[i] == labels[j] else different).append(tokens[i] == tokens[j])
    chance = 1.0 / 24
    assert np.mean(same) > 8 * chance, report.describe()
    assert np.mean(different) < chance


def test_wav2vec2_loads_offline_from_a_folder_and_pools_a_layer(tiny_wav2vec2):
    encoder = build_encoder(EncoderSpec(backend="wav2vec2", path=str(tiny_wav2vec2), layer=1))
    audio = torch.randn(3, 8000)
    out = encoder(audio)
    assert out.shape == (3, 32)
    full = build_encoder(EncoderSpec(backend="wav2vec2", path=str(tiny_wav2vec2), layer=None))
    direct = (
        full.model(
            (audio - audio.mean(1, keepdim=True)) / torch.sqrt(audio.var(1, unbiased=False, keepdim=True) + 1e-7),
            output_hidden_states=True,
        )
        .hidden_states[1]
        .mean(dim=1)
    )
    torch.testing.assert_close(out, direct, rtol=1e-5, atol=1e-5)


def test_wav2vec2_layer_out_of_range_is_named(tiny_wav2vec2):
    with pytest.raises(CountertrackError, match="layer 7 does not exist"):
        build_encoder(EncoderSpec(backend="wav2vec2", path=str(tiny_wav2vec2), layer=7))


@pytest.mark.slow
def test_uncached_hub_id_fails_at_once_with_advice(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(CountertrackError) as info:
        build_encoder(EncoderSpec(backend="wav2vec2", path="facebook/wav2vec2-base"))
    assert time.monotonic() - started < 20
    assert "--encoder-path" in str(info.value) and "facebook/wav2vec2-base" in str(info.value)


def test_the_mel_floor_keeps_noise_in_empty_bands_out_of_the_embedding():
    """A tone, and the same tone with noise 90 dB below it (a resampler's stopband, dither): a new
    run's encoder hears the same sound; without the floor (runs recorded before it) empty bands'
    noise moved the embedding by several per cent."""
    t = torch.arange(8000) / 16000
    clean = (0.3 * torch.sin(2 * torch.pi * 220 * t)).reshape(1, -1)
    noisy = clean + 1e-5 * torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))

    def change(spec: EncoderSpec) -> float:
        encoder = build_encoder(spec)
        a, b = encoder(clean)[0], encoder(noisy)[0]
        return float(torch.linalg.norm(a - b) / torch.linalg.norm(a))

    assert change(EncoderSpec.new()) < 0.01
    assert change(EncoderSpec()) > 0.05  # the floor is what keeps it out
    assert EncoderSpec.from_dict(EncoderSpec().to_dict()).options == {}  # an older run's record rebuilds its own encoder

"""Small numpy DSP shared by the PyTorch encoders and the runtime: filterbanks and level measures."""

from __future__ import annotations

import numpy as np


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """Triangular mel filters (HTK mel scale), area-normalised, shaped (n_mels, n_fft // 2 + 1)."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(fmin_hz)), _hz_to_mel(np.array(fmax_hz)), n_mels + 2))
    bank = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        low, centre, high = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[m] = np.maximum(0.0, np.minimum(rising, falling)) * 2.0 / (high - low)
    return bank.astype(np.float32)


def chroma_filterbank(sample_rate: int, n_fft: int, fmin_hz: float = 50.0, fmax_hz: float = 4200.0) -> np.ndarray:
    """Pitch-class filters (12, bins): each bin's energy goes to its pitch class with a Gaussian of
    0.5 semitone around the nearest equal-tempered class (A = 440 Hz); bins outside the range drop."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    bank = np.zeros((12, freqs.size))
    inside = (freqs >= fmin_hz) & (freqs <= fmax_hz)
    midi = 69.0 + 12.0 * np.log2(np.where(inside, freqs, 440.0) / 440.0)
    for pitch_class in range(12):
        distance = (midi - pitch_class + 6.0) % 12.0 - 6.0  # C = 0
        bank[pitch_class] = np.exp(-0.5 * (distance / 0.5) ** 2) * inside
    return bank.astype(np.float32)


def rms_db(samples: np.ndarray, floor_db: float = -120.0) -> float:
    """RMS level of ``samples`` in dBFS (a full-scale sine is -3 dB), floored for silence."""
    if samples.size == 0:
        return floor_db
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(floor_db, 10.0 * np.log10(power + 1e-30))


def chroma_vector(mono: np.ndarray, sample_rate: int, n_fft: int = 4096) -> np.ndarray:
    """12-bin pitch-class profile (sums to 1, or zeros for silence) of a short mono excerpt."""
    frame = np.zeros(n_fft, dtype=np.float64)
    excerpt = mono[:n_fft]
    frame[: excerpt.size] = excerpt * np.hanning(excerpt.size) if excerpt.size > 1 else excerpt
    power = np.abs(np.fft.rfft(frame)) ** 2
    chroma = chroma_filterbank(sample_rate, n_fft) @ power
    total = chroma.sum()
    return (chroma / total).astype(np.float32) if total > 1e-12 else np.zeros(12, np.float32)


def silence_non_finite(block: np.ndarray) -> tuple[np.ndarray, int]:
    """``block`` as float32 with every NaN or Inf sample replaced by 0 (silence), and how many there
    were: a stream keeps going through a bad sample instead of carrying it into B."""
    block = np.asarray(block, dtype=np.float32)
    finite = np.isfinite(block)
    if finite.all():
        return block, 0
    return np.where(finite, block, np.float32(0.0)), int(block.size - np.count_nonzero(finite))

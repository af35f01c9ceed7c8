"""What a segment sounds like musically, in numbers the grain engine can compare across tracks:
its pitch (a YIN pitch track), its pitch-class profile, and where its onsets fall inside it.

The same functions describe A's segments at run time and the memory's grains when a bundle is
built, and the training pairs when the compatibility between A and B is learned, so all three
speak the same language. numpy only; every function is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE = 8000  # at least this rate after decimation: pitch up to ~2.5 kHz fundamentals; bass down to 30 Hz
FRAME_S = 0.064  # YIN integration window
HOP_S = 0.02  # between pitch frames
ONSET_BLOCK_S = 0.01  # blocks of energy for the onset profile
DECIMATION_TAPS = 8  # per unit of the decimation factor: the low-pass filter's half length
FMIN_HZ, FMAX_HZ = 30.0, 2500.0
YIN_THRESHOLD = 0.15
VOICED_LIMIT = 0.35  # aperiodicity above which a frame is unvoiced
RHYTHM_BINS = 4
ONSET_FLOOR_DB = 3.0  # a rise of 10 ms energy smaller than this is not an onset
PREROLL_S = 0.03  # audio before a segment's start that its onset measure may look at


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise fundamental frequency of a monophonic signal: ``hz`` (NaN where unvoiced),
    ``aperiodicity`` (0 = perfectly periodic) and ``rms`` per frame, every HOP_S seconds."""

    hz: np.ndarray
    aperiodicity: np.ndarray
    rms: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.hz)


@dataclass(frozen=True)
class SegmentDescriptor:
    """One segment: pitch-class profile (12, sums to 1 or all zero when nothing is pitched),
    onset profile over RHYTHM_BINS equal parts of the segment (sums to 1 or zero), median pitch as
    a MIDI note number (NaN when unpitched) and level in dBFS."""

    pitch_classes: np.ndarray
    onsets: np.ndarray
    pitch_midi: float
    level_db: float


def decimation_factor(sample_rate: int) -> int:
    """The integer factor that brings ``sample_rate`` down to ANALYSIS_RATE or just above it."""
    return max(1, int(sample_rate) // ANALYSIS_RATE)


def to_analysis_rate(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """1-D float64 audio decimated by ``decimation_factor`` (a windowed-sinc low-pass, then every
    factor-th sample from sample 0) and its rate: cheap and exact to the sample, what the pitch and
    onset measures need, not a listening-quality resampler."""
    mono = np.asarray(mono, dtype=np.float64).reshape(-1)
    factor = decimation_factor(sample_rate)
    if factor == 1 or mono.size == 0:
        return mono, float(sample_rate)
    half = DECIMATION_TAPS * factor
    n = np.arange(-half, half + 1)
    taps = np.sinc(0.9 * n / factor) * np.hamming(n.size)
    filtered = np.convolve(mono, taps / taps.sum(), mode="same")
    return filtered[::factor], sample_rate / factor


def pitch_track(x: np.ndarray, rate: float) -> PitchTrack:
    """YIN (de Cheveigné & Kawahara 2002) over frames of 1-D audio at ``rate``: the cumulative mean
    normalised difference function, the first dip under YIN_THRESHOLD (else the global minimum),
    refined by parabolic interpolation. Frames start every HOP_S seconds from sample 0."""
    frame, hop = int(round(FRAME_S * rate)), int(round(HOP_S * rate))
    max_lag = int(rate / FMIN_HZ)
    min_lag = max(2, int(rate / FMAX_HZ))
    span = frame + max_lag
    count = max(0, (x.size - frame) // hop + 1)
    if count == 0:
        empty = np.zeros(0, dtype=np.float32)
        return PitchTrack(hz=empty, aperiodicity=empty, rms=empty)
    padded = np.concatenate([x.astype(np.float64), np.zeros(span, dtype=np.float64)])
    index = np.arange(span)[None, :] + hop * np.arange(count)[:, None]
    frames = padded[index]  # (count, span)
    size = 1 << int(np.ceil(np.log2(span)))  # the head is zero past the frame: lags up to max_lag never wrap
    head = np.fft.rfft(frames[:, :frame], size)
    whole = np.fft.rfft(frames, size)
    correlation = np.fft.irfft(np.conj(head) * whole, size)[:, : max_lag + 1]  # r(tau) = sum_j x_j x_{j+tau}
    squares = np.cumsum(np.concatenate([np.zeros((count, 1)), frames**2], axis=1), axis=1)
    energy_head = squares[:, frame]
    lags = np.arange(max_lag + 1)
    energy_shifted = squares[:, lags + frame] - squares[:, lags]
    difference = np.maximum(energy_head[:, None] + energy_shifted - 2.0 * correlation, 0.0)
    cumulative = np.cumsum(difference[:, 1:], axis=1)
    normalised = np.ones_like(difference)
    normalised[:, 1:] = difference[:, 1:] * lags[1:] / np.maximum(cumulative, 1e-12)
    search = normalised[:, min_lag:max_lag]
    below = search < YIN_THRESHOLD
    first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))
    # the bottom of the dip that starts at the first crossing: the first lag after it where the
    # function stops falling
    rising = np.concatenate([search[:, 1:] >= search[:, :-1], np.ones((count, 1), dtype=bool)], axis=1)
    rising &= np.arange(search.shape[1])[None, :] >= first[:, None]
    first = rising.argmax(axis=1)
    rows = np.arange(count)
    tau = first + min_lag
    left = normalised[rows, np.maximum(tau - 1, 1)]
    centre = normalised[rows, tau]
    right = normalised[rows, np.minimum(tau + 1, max_lag)]
    curvature = left - 2.0 * centre + right
    shift = np.where(np.abs(curvature) > 1e-12, 0.5 * (left - right) / np.where(np.abs(curvature) > 1e-12, curvature, 1.0), 0.0)
    refined = tau + np.clip(shift, -1.0, 1.0)
    aperiodicity = np.clip(centre, 0.0, 1.0)
    rms = np.sqrt(energy_head / frame)
    quiet = rms < 1e-4
    hz = np.where((aperiodicity < VOICED_LIMIT) & ~quiet, rate / refined, np.nan)
    return PitchTrack(hz=hz.astype(np.float32), aperiodicity=aperiodicity.astype(np.float32), rms=rms.astype(np.float32))


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def pitch_class_profile(track: PitchTrack) -> np.ndarray:
    """Voiced frames' pitch classes (C = 0), weighted by level, normalised to sum 1 (zeros if none)."""
    profile = np.zeros(12, dtype=np.float64)
    voiced = track.voiced
    if voiced.any():
        classes = np.round(hz_to_midi(track.hz[voiced])).astype(np.int64) % 12
        np.add.at(profile, classes, track.rms[voiced].astype(np.float64))
    total = profile.sum()
    return (profile / total).astype(np.float32) if total > 0 else profile.astype(np.float32)


def onset_profile(x: np.ndarray, rate: float, start: int, stop: int, bins: int = RHYTHM_BINS) -> np.ndarray:
    """Where the segment ``[start, stop)`` of ``x`` (at ``rate``; ``start`` may follow a pre-roll)
    gets louder, summed over ``bins`` equal parts of it: rises in 10 ms log energy."""
    out = np.zeros(bins, dtype=np.float32)
    frame = max(1, int(round(ONSET_BLOCK_S * rate)))
    first = max(0, start - frame)
    count = (stop - first) // frame
    if count < 2:
        return out
    blocks = x[first : first + count * frame].astype(np.float64).reshape(count, frame)
    energy = np.mean(blocks**2, axis=1)
    # energy over the 4 blocks up to each block: steady even for a bass note's 25 ms period
    smoothed = np.convolve(energy, np.full(4, 0.25))[:count]
    level = 10.0 * np.log10(smoothed + 1e-10)
    rise = np.maximum(np.diff(level) - ONSET_FLOOR_DB, 0.0)  # rise into block k+1, beyond level wobble
    centres = first + (np.arange(1, count) + 0.5) * frame
    position = (centres - start) / max(1, stop - start)
    inside = (position >= 0.0) & (position < 1.0)
    np.add.at(out, np.minimum((position[inside] * bins).astype(np.int64), bins - 1), rise[inside])
    total = out.sum()
    return out / total if total > 0 else out


def describe_segments(mono: np.ndarray, sample_rate: int, boundaries: np.ndarray) -> list[SegmentDescriptor]:
    """Descriptors of every segment of a whole track (1-D ``mono``, grid in its samples), each
    computed as ``describe_piece`` computes it in a stream."""
    mono = np.asarray(mono, dtype=np.float32).reshape(-1)
    return [describe_piece(mono, sample_rate, int(a), int(b)) for a, b in zip(boundaries[:-1], boundaries[1:])]


def describe_piece(mono: np.ndarray, sample_rate: int, start: int, stop: int) -> SegmentDescriptor:
    """Descriptor of ``[start, stop)`` of 1-D ``mono`` using only samples from ``start - PREROLL_S``
    to ``stop``: a stream and a whole file give the same numbers."""
    first = max(0, start - int(round(PREROLL_S * sample_rate)))
    x, rate = to_analysis_rate(mono[first:stop], sample_rate)
    factor = decimation_factor(sample_rate)
    return describe(x, rate, (start - first + factor - 1) // factor, x.size)


def describe(x: np.ndarray, rate: float, start: int, stop: int) -> SegmentDescriptor:
    """Descriptor of ``[start, stop)`` of ``x`` at ``rate`` (samples before ``start`` are pre-roll)."""
    piece = x[start:stop]
    level = float(10.0 * np.log10(np.mean(piece.astype(np.float64) ** 2) + 1e-12)) if piece.size else -120.0
    frame = int(round(FRAME_S * rate))
    track = pitch_track(np.concatenate([piece, np.zeros(max(0, frame - piece.size))]) if piece.size < frame else piece, rate)
    voiced = track.voiced
    pitch = float(np.median(hz_to_midi(track.hz[voiced]))) if voiced.sum() >= 2 else float("nan")
    return SegmentDescriptor(
        pitch_classes=pitch_class_profile(track), onsets=onset_profile(x, rate, start, stop), pitch_midi=pitch, level_db=max(-120.0, level)
    )

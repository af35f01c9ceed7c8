"""Tempo and beats of an A track, for renders given neither ``--bpm`` nor ``--tempo-map`` (numpy only).

The method is the classic three-stage one (Ellis 2007, "Beat tracking by dynamic programming"),
with the refinements each stage needed on real renders:

1. **Onset strength**: half-wave rectified spectral flux of the log-mel spectrogram (46 ms window,
   10 ms hop, 50 dB range) averaged over bands and detrended, so note starts (hits, and the pitch
   changes of a legato line) stand out of sustained sound and noise.
2. **Tempo**: the autocorrelation of that envelope, combed over the first multiples of each candidate
   period, searched in ``[min_bpm, max_bpm]``. The octave is chosen by meter: from the strongest
   period, the beat moves to a third, half or two thirds of it while the onsets *between* its beats
   pulse nearly as strongly as the beats (steady quarter notes under a half-note pulse), and stays
   where they do not (sparse eighth-note passing tones, soft off-beat hi-hats). Then refined to a
   fraction of a frame from the autocorrelation's peaks at the period's multiples.
3. **Beats**: a local tempo curve (the same comb on 8 s windows, kept near the global tempo),
   dynamic programming that maximises onset strength at the beats minus a penalty on the log ratio
   of each interval to the local period, backtracked; then each beat is placed on a parabola fitted
   through the starts (half-rise) of the onsets near its neighbours, so one late or soft note does
   not pull it, and the grid is continued at the local period back to time 0 (a pickup gets its
   beats) and on to the end of the audio (rests, a final held note).

On FluidSynth renders the beats land on the notes' MIDI starts to within about 20 ms: a little
early for percussive attacks (the window hears them coming), a little late for slow ones (flute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugin_core.errors import AudioError, ConfigurationError
from plugin_core.perception.dsp import mel_filterbank

HOP_S = 0.01
WINDOW_S = 0.046
N_MELS = 64
FMIN_HZ = 30.0
FMAX_HZ = 10000.0
WORKING_RATE_HZ = 22050  # higher rates are decimated by an integer factor down to at least this
RANGE_DB = 50.0  # log-mel floor below the loudest band of the whole track: soft hi-hats count less than kicks
DETREND_S = 0.5  # the envelope's running mean over this span is removed
DEFAULT_PRIOR_BPM = 110.0
ACF_WINDOW_S = 20.0  # tempo is measured on windows this long, half overlapping, and averaged
FEW_BEATS = 4.0  # confidence is scaled by beats / (beats + FEW_BEATS)
COMB_MULTIPLES = 4  # pulse strength at a period averages the autocorrelation at its first multiples
PRECISE_MULTIPLES = 8  # the final period is fitted to this many of the autocorrelation's peaks
PRIOR_WEIGHT = 0.1  # how much the log-Gaussian tempo prior weighs against pulse strength
OCTAVE_RATIO = 0.65  # a faster related level is the beat if the onsets between beats pulse this strongly
FIT_BEATS = 8  # beats each side in the local curve a beat is placed on
SLOPE_RIDGE = 10.0  # how strongly that curve's slope is held to the local period...
CURVE_RIDGE = 100.0  # ...and its curvature to none
LOCAL_WINDOW_S = 8.0  # the local tempo is measured on windows this long...
LOCAL_HOP_S = 1.0  # ...every this often...
LOCAL_SPAN = 1.3  # ...within this factor of the global period...
LOCAL_MIN_PULSE = 0.1  # ...where the window has at least this pulse strength...
LOCAL_STRONG_ONSET = 0.3  # ...and holds onset peaks this high relative to the loudest...
LOCAL_MIN_ONSETS = 0.5  # ...at least this many per beat...
LOCAL_MIN_GAIN = 0.25  # ...and the local period's pulse beats the global period's by this share...
LOCAL_PRIOR_WIDTH = 0.15  # ...preferring periods near the global one (a log-Gaussian this wide)
TIGHTNESS = 300.0  # Ellis's weight of the log-interval penalty against onset strength (in std units)
SNAP_S = 0.04  # onset peaks this close to a tracked beat place it
EARLIEST_PEAK_RATIO = 0.5  # of those, the earliest at least this high relative to the highest
WEAK_ONSET_RATIO = 0.12  # onsets below this share of a typical beat's onset are ignored
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 384000
MAX_CHANNELS = 64  # more "channels" than this is audio shaped (samples, channels) by mistake
_BLOCK_VALUES = 1 << 19  # values processed at once by onset_strength (bounds memory on long inputs)


@dataclass(frozen=True)
class BeatEstimate:
    """Where the beats of a track are.

    ``beat_times_s``: float64 seconds, strictly increasing, every beat from the first (within one
    period of time 0) to the end of the audio. ``bpm``: the dominant tempo in quarter notes per
    minute. ``confidence``: 0..1, how clearly the audio carries a pulse: 0 for silence, about 0.05
    for white noise, 0.1–0.2 for a legato choir, 0.2–0.6 for melodies, 0.6–0.8 for drums; it drops
    when the tempo changes much along the track.
    """

    beat_times_s: np.ndarray
    bpm: float
    confidence: float


def onset_strength(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Onset-strength envelope of ``mono`` (1-D, or (channels, samples), averaged) and its frame rate (Hz).

    Frame ``i`` is centred at ``i / frame_rate`` seconds. The envelope is non-negative float64 and
    all zeros for silence. Audio above 44.1 kHz is first decimated (the flux only looks below
    ``FMAX_HZ``), and the spectrum is taken a block of frames at a time, so memory stays bounded.
    """
    mono = _mono(mono, sample_rate)
    factor = max(1, sample_rate // WORKING_RATE_HZ)
    mono, rate = _decimate(mono, factor), sample_rate / factor
    hop = max(1, int(round(HOP_S * rate)))
    frame_rate = rate / hop
    window_samples = 2 * int(round(WINDOW_S * rate / 2))
    n_fft = 1 << int(np.ceil(np.log2(window_samples)))
    count = 1 + mono.size // hop
    bands = _sparse_bands(mel_filterbank(int(round(rate)), n_fft, N_MELS, FMIN_HZ, min(FMAX_HZ, 0.45 * rate)))
    window = np.hanning(window_samples)
    mel = np.empty((count, N_MELS), np.float32)
    frames_per_block = max(16, _BLOCK_VALUES // n_fft)
    for first in range(0, count, frames_per_block):  # frame i is centred on sample i * hop
        last = min(count, first + frames_per_block)
        segment = _slice(mono, first * hop - window_samples // 2, (last - 1) * hop + window_samples - window_samples // 2)
        frames = np.lib.stride_tricks.sliding_window_view(segment, window_samples)[::hop]
        power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)) ** 2
        for band, (low, weights) in enumerate(bands):  # each triangle spans a few bins: cheaper than a matmul
            mel[first:last, band] = power[:, low : low + weights.size] @ weights
    peak = float(mel.max()) if count else 0.0
    if not peak > 0.0:
        return np.zeros(count), frame_rate
    floor = peak * 10.0 ** (-RANGE_DB / 10.0)
    flux = np.zeros(count)
    for first in range(1, count, frames_per_block):  # the log spectrum too, a block at a time
        last = min(count, first + frames_per_block)
        log_mel = 10.0 * np.log10(np.maximum(mel[first - 1 : last], floor))
        flux[first:last] = np.maximum(np.diff(log_mel, axis=0), 0.0).mean(axis=1)
    # the difference of frames i-1 and i belongs half a hop before frame i
    flux = np.interp(np.arange(count) + 0.5, np.arange(count), flux)
    detrended = flux - _moving_average(flux, max(1, int(round(DETREND_S * frame_rate))))
    return np.maximum(detrended, 0.0), frame_rate


def _slice(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``samples[start:stop]`` as float64, with zeros where the range runs past either end."""
    out = np.zeros(stop - start)
    low, high = max(start, 0), min(stop, samples.size)
    if high > low:
        out[low - start : high - start] = samples[low:high]
    return out


def _sparse_bands(bank: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Each filter of ``bank`` as (first bin, weights over its non-zero span)."""
    bands = []
    for row in bank.astype(np.float64):
        nonzero = np.flatnonzero(row)
        low, high = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
        bands.append((low, row[low:high]))
    return bands


def _decimate(mono: np.ndarray, factor: int) -> np.ndarray:
    """Every ``factor``-th sample of ``mono`` after a zero-phase windowed-sinc low-pass (float32)."""
    if factor == 1:
        return mono
    centre = 4 * factor
    offsets = np.arange(-centre, centre + 1)
    taps = np.sinc(0.9 * offsets / factor) * np.hamming(offsets.size)
    taps /= taps.sum()
    out = np.zeros(-(-mono.size // factor), np.float32)
    block = factor * max(1, _BLOCK_VALUES // factor)
    for start in range(0, mono.size, block):  # one pass over the input
        count = -(-(min(mono.size, start + block) - start) // factor)
        piece = _slice(mono, start - centre, start + count * factor + centre)
        filtered = sum(tap * piece[k : k + count * factor : factor] for k, tap in enumerate(taps))
        out[start // factor : start // factor + count] = filtered
    return out


def estimate_tempo(
    envelope: np.ndarray, frame_rate: float, *, min_bpm: float = 60.0, max_bpm: float = 180.0, prior_bpm: float = DEFAULT_PRIOR_BPM
) -> float:
    """The dominant tempo (quarter notes per minute) of an onset envelope, within ``[min_bpm, max_bpm]``.

    ``prior_bpm`` breaks near-ties between unrelated periods (a log-Gaussian of one octave) and is
    returned (clipped to the range) for an envelope without any pulse.
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    if envelope.ndim != 1 or not np.isfinite(envelope).all() or not frame_rate > 0:
        raise AudioError("the onset envelope must be finite and 1-D, with a positive frame rate")
    return _tempo(envelope, float(frame_rate), min_bpm, max_bpm, prior_bpm)[0]


def estimate_beats(mono: np.ndarray, sample_rate: int, *, min_bpm: float = 60.0, max_bpm: float = 180.0) -> BeatEstimate:
    """Tempo and beat grid of ``mono`` (1-D, or (channels, samples), averaged) covering the whole audio.

    Raises
    ------
    AudioError
        If the audio is not 1-D or (channels, samples) numbers with at most 64 channels, holds NaN
        or Inf, or the rate is outside 8–384 kHz.
    ConfigurationError
        If the range is not ``0 < min_bpm < max_bpm``.
    """
    envelope, frame_rate = onset_strength(mono, sample_rate)
    duration_s = np.shape(mono)[-1] / sample_rate
    bpm, confidence = _tempo(envelope, frame_rate, min_bpm, max_bpm, DEFAULT_PRIOR_BPM)
    period = frame_rate * 60.0 / bpm
    if confidence <= 0.0:
        return BeatEstimate(_complete_grid(np.zeros(0), np.zeros(0), duration_s * frame_rate, period) / frame_rate, bpm, 0.0)
    periods = _local_periods(envelope, frame_rate, period)
    beats, beat_periods = _place_beats(envelope, _track_beats(envelope, periods, period), frame_rate, periods)
    return BeatEstimate(_complete_grid(beats, beat_periods, duration_s * frame_rate, period) / frame_rate, bpm, confidence)


def _mono(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``samples`` as 1-D float32, channels averaged; the one place input is validated."""
    if not isinstance(sample_rate, (int, np.integer)) or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"sample rate {sample_rate!r} is outside {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz")
    array = np.asarray(samples)
    if array.ndim not in (1, 2) or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise AudioError(f"audio must be numbers shaped (samples,) or (channels, samples), got {array.dtype} {array.shape}")
    if array.ndim == 2 and array.shape[0] > MAX_CHANNELS:
        raise AudioError(f"audio has {array.shape[0]} channels; pass it shaped (channels, samples)")
    mono = array.astype(np.float32, copy=False) if array.ndim == 1 else array.mean(axis=0, dtype=np.float32)
    if not np.isfinite(np.sum(mono, dtype=np.float64)):  # NaN and Inf survive a sum; no mask the size of the input
        raise AudioError("audio contains NaN or Inf samples")
    return mono


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred running mean of ``x`` over ``width`` frames (edges use what is there)."""
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    index = np.arange(x.size)
    low = np.clip(index - width // 2, 0, x.size)
    high = np.clip(index + width - width // 2, 0, x.size)
    return (cumulative[high] - cumulative[low]) / np.maximum(high - low, 1)


def _autocorrelation(envelope: np.ndarray, max_lag: int, window: int) -> np.ndarray:
    """Unbiased autocorrelation of the mean-removed envelope, averaged over half-overlapping windows,
    weighted by their energy and normalised to 1 at lag 0 (zeros if the envelope is flat)."""
    window = min(window, envelope.size)
    if window < 4:
        return np.zeros(1)
    max_lag = min(max_lag, (2 * window) // 3)
    total = np.zeros(max_lag + 1)
    n_fft = 1 << int(np.ceil(np.log2(2 * window)))
    for start in range(0, max(1, envelope.size - window + 1), max(1, window // 2)):
        x = envelope[start : start + window]
        x = x - x.mean()
        power = np.abs(np.fft.rfft(x, n_fft)) ** 2
        total += np.fft.irfft(power, n_fft)[: max_lag + 1] / (x.size - np.arange(max_lag + 1))
    return total / total[0] if total[0] > 1e-12 else np.zeros(max_lag + 1)


def _at(acf: np.ndarray, lags: np.ndarray | float) -> np.ndarray:
    """The autocorrelation at fractional lags (linear interpolation; 0 past its end)."""
    return np.interp(lags, np.arange(acf.size), acf, right=0.0)


def _comb(acf: np.ndarray, periods: np.ndarray, multiples: int) -> np.ndarray:
    """Pulse strength at each period (frames): the autocorrelation averaged over its first multiples."""
    return np.mean([_at(acf, k * periods) for k in range(1, multiples + 1)], axis=0)


def _tempo(envelope: np.ndarray, frame_rate: float, min_bpm: float, max_bpm: float, prior_bpm: float) -> tuple[float, float]:
    """(bpm, confidence) of an onset envelope; ``prior_bpm`` (clipped) and confidence 0 without a pulse."""
    if not (0.0 < min_bpm < max_bpm and np.isfinite(max_bpm)):
        raise ConfigurationError(f"tempo range must satisfy 0 < min_bpm < max_bpm, got {min_bpm}–{max_bpm}")
    fallback = float(np.clip(prior_bpm, min_bpm, max_bpm))
    min_period, max_period = 60.0 * frame_rate / max_bpm, 60.0 * frame_rate / min_bpm
    acf = _autocorrelation(envelope, int(np.ceil(COMB_MULTIPLES * max_period)) + 2, int(ACF_WINDOW_S * frame_rate))
    if acf.size <= min_period or acf[0] <= 0.0:
        return fallback, 0.0
    multiples = int(np.clip((acf.size - 1) // max_period, 1, COMB_MULTIPLES))
    periods = np.linspace(min_period, max_period, int(np.ceil(max_period - min_period)) * 2 + 1)
    prior = np.exp(-0.5 * np.log2(periods * prior_bpm / (60.0 * frame_rate)) ** 2)
    strength = _comb(acf, periods, multiples)
    beat = _refine(acf, float(periods[int(np.argmax(strength * (1.0 - PRIOR_WEIGHT + PRIOR_WEIGHT * prior)))]), multiples)
    for _ in range(3):  # climb to a faster level while there is a pulse between the beats; bounded
        faster = _faster_level(acf, beat, multiples, min_period)
        if faster is None:
            break
        beat = faster
    beat = float(np.clip(_precise_period(acf, beat), min_period, max_period))
    # pulse clarity (the normalised autocorrelation at the beat), discounted when only a few beats
    # were heard, since a couple of noise bursts can line up by chance
    beats_heard = envelope.size / beat
    clarity = float(np.clip(_comb(acf, np.array([beat]), multiples)[0], 0.0, 1.0))
    confidence = clarity * beats_heard / (beats_heard + FEW_BEATS)
    return (60.0 * frame_rate / beat, confidence) if confidence > 0.0 else (fallback, 0.0)


def _refine(acf: np.ndarray, period: float, multiples: int, search: float = 0.03) -> float:
    """The period (frames) within ±``search`` of ``period`` whose comb is strongest (sub-frame)."""
    grid = period * np.linspace(1.0 - search, 1.0 + search, 241)
    return float(grid[int(np.argmax(_comb(acf, grid, multiples)))])


def _precise_period(acf: np.ndarray, period: float) -> float:
    """``period`` (frames) to a fraction of a frame: the autocorrelation's peaks near its multiples,
    each placed by a parabola through three lags, fitted as k * period (least squares, peak-weighted)."""
    sum_kx = sum_kk = 0.0
    for k in range(1, PRECISE_MULTIPLES + 1):
        centre = int(round(k * period))
        low, high = max(1, centre - 2), min(acf.size - 1, centre + 3)
        if high - low < 3:
            break
        lag = low + int(np.argmax(acf[low:high]))
        if lag in (low, high - 1) or acf[lag] <= 0.0:
            continue  # not a peak inside the search
        before, at, after = acf[lag - 1], acf[lag], acf[lag + 1]
        curvature = before - 2.0 * at + after
        position = lag + (0.5 * (before - after) / curvature if curvature < 0.0 else 0.0)
        sum_kx += at * k * position
        sum_kk += at * k * k
    precise = sum_kx / sum_kk if sum_kk > 0.0 else period
    return precise if abs(precise / period - 1.0) <= 0.02 else period


def _faster_level(acf: np.ndarray, period: float, multiples: int, min_period: float) -> float | None:
    """A third, half or two thirds of ``period`` if the onsets between its beats pulse at that rate
    nearly as strongly as the beats themselves (meter evidence), else None."""
    reference = _comb(acf, np.array([period]), multiples)[0]
    for ratio, between in ((1 / 3, (1, 2)), (1 / 2, (1, 3)), (2 / 3, (1, 2))):  # fastest first
        candidate = period * ratio
        if candidate < 0.97 * min_period:
            continue
        candidate = _refine(acf, candidate, multiples, search=0.02)
        evidence = float(np.mean(_at(acf, candidate * np.array(between, dtype=np.float64))))
        if evidence >= OCTAVE_RATIO * reference:
            return max(candidate, min_period)
    return None


def _local_periods(envelope: np.ndarray, frame_rate: float, period: float) -> np.ndarray:
    """The beat period (frames) around every frame, so the beats can follow an accelerando or a
    ritardando: the strongest comb near the global ``period`` on windows of ``LOCAL_WINDOW_S`` every
    ``LOCAL_HOP_S``, median-smoothed. Windows with few strong onsets (rests; held notes, whose
    sample loops can look periodic) or no pulse are skipped: their neighbours' periods carry over."""
    window = max(int(LOCAL_WINDOW_S * frame_rate), int(4 * period))
    hop = max(1, int(LOCAL_HOP_S * frame_rate))
    grid = period * np.geomspace(1.0 / LOCAL_SPAN, LOCAL_SPAN, 81)
    prior = np.exp(-0.5 * (np.log(grid / period) / LOCAL_PRIOR_WIDTH) ** 2)
    centres = np.arange(0, envelope.size, hop)
    low, high = np.clip(centres - window // 2, 0, envelope.size), np.clip(centres + window // 2, 0, envelope.size)
    inner = envelope[1:-1]
    strong = np.zeros(envelope.size)  # onset peaks at least LOCAL_STRONG_ONSET of the loudest
    loud = LOCAL_STRONG_ONSET * np.percentile(envelope, 99.5)
    strong[1:-1] = (inner >= envelope[:-2]) & (inner > envelope[2:]) & (inner >= loud)
    counts = np.concatenate([[0.0], np.cumsum(strong)])
    busy = counts[high] - counts[low] >= LOCAL_MIN_ONSETS * (high - low) / period
    busy &= high - low >= min(envelope.size, window) * 3 // 4  # a window cut short by the ends is too noisy
    found = np.full(centres.size, np.nan)
    for i in np.flatnonzero(busy):  # bounded: one window per hop
        acf = _autocorrelation(envelope[low[i] : high[i]], int(np.ceil(2 * grid[-1])) + 2, int(high[i] - low[i]))
        if acf.size < 2 * grid[-1] + 2:
            continue
        strength = _comb(acf, grid, 2)
        best = int(np.argmax(strength * prior))
        if strength[best] > LOCAL_MIN_PULSE:  # the global period unless another is clearly stronger here
            clearer = strength[best] >= (1.0 + LOCAL_MIN_GAIN) * _comb(acf, np.array([period]), 2)[0]
            found[i] = _precise_period(acf, float(grid[best])) if clearer else period
    known = np.flatnonzero(np.isfinite(found))
    if known.size == 0:
        return np.full(envelope.size, period)
    smoothed = np.array([np.median(found[known[max(0, i - 2) : i + 3]]) for i in range(known.size)])
    return np.interp(np.arange(envelope.size), centres[known], smoothed)


def _track_beats(envelope: np.ndarray, periods: np.ndarray, period: float) -> np.ndarray:
    """Beat frames by Ellis's dynamic programming (onset strength at the beats minus ``TIGHTNESS``
    times the squared log ratio of each interval to the local period ``periods``), backtracked
    from the best beat in the last period."""
    std = envelope.std()
    local = envelope / std if std > 0 else envelope
    offsets = np.arange(-int(period), int(period) + 1)
    local = np.convolve(local, np.exp(-0.5 * (offsets * 32.0 / period) ** 2))[offsets.size // 2 :][: envelope.size]
    steps = np.arange(max(1, int(round(periods.min() / 2))), int(round(2 * periods.max())) + 1)
    n = local.size
    score = local.copy()
    previous = np.full(n, -1, dtype=np.int64)
    block = int(steps[0])
    for start in range(0, n, block):  # every predecessor of a block lies before it, so it is final
        t = np.arange(start, min(n, start + block))
        ratio = steps[None, :] / periods[t][:, None]
        candidates = t[:, None] - steps[None, :]
        allowed = (candidates >= 0) & (ratio >= 0.5) & (ratio <= 2.0)
        total = np.where(allowed, score[np.maximum(candidates, 0)] - TIGHTNESS * np.log(ratio) ** 2, -np.inf)
        pick = np.argmax(total, axis=1)
        gain = total[np.arange(t.size), pick]
        link = gain > 0.0
        score[t] = local[t] + np.where(link, gain, 0.0)
        previous[t] = np.where(link, candidates[np.arange(t.size), pick], -1)
    tail = max(0, n - int(round(periods[-1])))
    beats = [tail + int(np.argmax(score[tail:]))]
    for _ in range(n):  # backtrack; bounded by the number of frames
        if previous[beats[-1]] < 0:
            break
        beats.append(int(previous[beats[-1]]))
    return np.array(beats[::-1], dtype=np.int64)


def _place_beats(envelope: np.ndarray, beats: np.ndarray, frame_rate: float, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-frame beat positions and local periods (frames), from the first to the last beat that has
    an onset near it: each beat lies on a curve fitted through the onsets of its neighbours, so one
    late or soft onset does not pull it and a drifting tempo is followed; beats in short rests lie on
    the same curves."""
    onsets, weights = _beat_onsets(envelope, beats, max(1, int(round(SNAP_S * frame_rate))))
    period = periods[beats]
    if not np.any(weights > 0.0):
        return beats.astype(np.float64), period
    index = np.arange(beats.size)
    offsets = np.arange(-FIT_BEATS, FIT_BEATS + 1)
    neighbours = index[:, None] + offsets[None, :]
    kernel = (1.0 - np.abs(offsets) / (FIT_BEATS + 1.0))[None, :] * ((neighbours >= 0) & (neighbours < beats.size))
    neighbours = np.clip(neighbours, 0, beats.size - 1)
    trust = weights
    for _ in range(2):  # fit, then refit without the onsets far off their line
        fitted, support = _local_curves(offsets, kernel * trust[neighbours], onsets[neighbours], period)
        trust = np.where(np.abs(onsets - fitted) <= np.maximum(2.0, 0.1 * period), weights, 0.0)
    anchored = np.flatnonzero((trust > 0.0) & (support > 0.0))
    if anchored.size == 0:
        return beats.astype(np.float64), period
    kept = np.arange(anchored[0], anchored[-1] + 1)  # past the outer onsets the grid is extrapolated
    supported = kept[support[kept] > 0.0]
    positions = np.interp(kept, supported, fitted[supported])
    return positions, period[kept]  # a one-sided curve's slope is too unsure to extrapolate with


def _beat_onsets(envelope: np.ndarray, beats: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """For each tracked beat, the start (half-rise, sub-frame) of the first strong onset peak within
    ``reach`` frames and that peak's height; height 0 where there is none."""
    onsets = beats.astype(np.float64)
    weights = np.zeros(beats.size)
    for i, frame in enumerate(beats):  # one pass over the beats
        low, high = max(1, frame - reach), min(envelope.size - 1, frame + reach + 1)
        if high <= low:
            continue
        span = envelope[low - 1 : high + 1]
        peaks = 1 + np.flatnonzero((span[1:-1] > 0.0) & (span[1:-1] >= span[:-2]) & (span[1:-1] >= span[2:]))
        if peaks.size == 0:
            continue
        strong = peaks[span[peaks] >= EARLIEST_PEAK_RATIO * span[peaks].max()]
        peak = low - 1 + int(strong[0])  # a note's first strong bump, not a later swell of its tone
        onsets[i] = _half_rise(envelope, peak, 2 * reach)
        weights[i] = envelope[peak] ** 2  # a sharp attack times its note better than a soft one
    if np.any(weights > 0.0):  # the ripple of a held note is no onset
        weights[weights < WEAK_ONSET_RATIO * np.percentile(weights[weights > 0.0], 75)] = 0.0
    return onsets, weights


def _half_rise(envelope: np.ndarray, peak: int, max_frames: int) -> float:
    """The sub-frame position where the envelope, rising to ``peak``, crosses half the peak's value."""
    half = 0.5 * envelope[peak]
    frame = peak
    while frame > 0 and peak - frame < max_frames and envelope[frame - 1] > half:  # bounded by max_frames
        frame -= 1
    below, above = envelope[frame - 1] if frame > 0 else 0.0, envelope[frame]
    return frame - 1 + (half - below) / (above - below) if frame > 0 and above > below and below <= half else float(frame)


def _local_curves(offsets: np.ndarray, weights: np.ndarray, positions: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row (a beat, its neighbours at ``offsets`` beats away), the weighted least-squares
    parabola through ``positions`` (a parabola, so an accelerando does not bias the middle), its
    slope drawn towards ``period`` and its curvature towards 0 (ridges, so a few jittery onsets
    cannot tilt it): the curve's value at the beat, and the row's total weight."""
    x = offsets.astype(np.float64)
    powers = np.stack([np.ones_like(x), x, x * x])  # (3, neighbours)
    total = weights.sum(1)
    normal = np.einsum("rn,in,jn->rij", weights, powers, powers)
    normal[:, 1, 1] += SLOPE_RIDGE * total
    normal[:, 2, 2] += CURVE_RIDGE * total
    rhs = np.einsum("rn,in,rn->ri", weights, powers, positions)
    rhs[:, 1] += SLOPE_RIDGE * total * period
    ok = total > 0.0
    normal[~ok] = np.eye(3)
    coefficients = np.linalg.solve(normal, rhs[:, :, None])[:, :, 0]
    return np.where(ok, coefficients[:, 0], 0.0), np.where(ok, total, 0.0)


def _complete_grid(beats: np.ndarray, periods: np.ndarray, end: float, period: float) -> np.ndarray:
    """Continue ``beats`` (frames) at the local period back to frame 0 and on to ``end``; strictly increasing."""
    if beats.size == 0:
        return np.arange(0.0, max(end, 0.5 * period), period)
    first, last = float(periods[0]), float(periods[-1])
    before = beats[0] - first * np.arange(int(beats[0] / first) + 1, 0, -1)
    after = beats[-1] + last * np.arange(1, int(max(0.0, end - beats[-1]) / last) + 2)
    grid = np.concatenate([before[before >= 0.0], beats[beats >= 0.0], after[after < end]])
    kept = [grid[0]]
    for position in grid[1:]:  # drop any beat closer than a quarter period to the one before
        if position > kept[-1] + 0.25 * period:
            kept.append(position)
    return np.array(kept)

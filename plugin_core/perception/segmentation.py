"""Segment grids: where a track is cut into segments, in samples, shared by A and B of a pair.

A grid is an int64 array of boundaries ``b`` with ``b[0] == 0``, ``b[-1] == num_samples`` and
``b`` strictly increasing; segment ``i`` is ``[b[i], b[i+1])``. The grid covers the signal with no
gaps or overlaps. Strategies:

- ``uniform``: a boundary every ``hop_s`` (the paper's uniform windows).
- ``beats``: a boundary every beat / ``subdivision``, from a BPM and start offset, from the tempo
  map of a MIDI file, or (neither given) from the beats estimated in the audio itself
  (``plugin_core.perception.tempo``); audio before the first beat is a pickup segment.
- ``onsets``: a boundary at each spectral-flux onset, no segment shorter than ``min_segment_s``.

The last partial segment: a remainder shorter than half the nominal segment length is merged into
the segment before it (so no segment is a sliver); a longer remainder stays a short last segment.
A signal shorter than one segment is a single segment.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from plugin_core.errors import AudioError, ConfigurationError, CountertrackError
from plugin_core.io.records import checked_keys

STRATEGIES = ("uniform", "beats", "onsets")


@dataclass(frozen=True)
class SegmentationConfig:
    """How to cut a track. Units are in the names; all times in seconds."""

    strategy: str = "uniform"
    hop_s: float = 0.5  # uniform: distance between boundaries
    window_s: float | None = None  # analysis window from each boundary; None = the segment itself
    bpm: float | None = None  # beats: a steady tempo; None (and no tempo map) = estimated from the audio
    offset_s: float = 0.0  # beats: time of the first beat
    subdivision: int = 1  # beats: segments per beat
    tempo_map: str | None = None  # beats: MIDI file whose tempo events drive the grid
    min_segment_s: float = 0.1  # onsets: shortest segment

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigurationError(f"unknown segmentation {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not (0.01 <= self.hop_s <= 10.0):
            raise ConfigurationError(f"segment hop {self.hop_s} s is out of range 0.01..10 s")
        if self.window_s is not None and not (0.01 <= self.window_s <= 10.0):
            raise ConfigurationError(f"analysis window {self.window_s} s is out of range 0.01..10 s")
        if self.bpm is not None and not (20.0 <= self.bpm <= 400.0):  # also refuses NaN
            raise ConfigurationError(f"tempo {self.bpm} BPM is out of range 20..400")
        if not (1 <= self.subdivision <= 16):
            raise ConfigurationError(f"beat subdivision {self.subdivision} is out of range 1..16")
        if self.offset_s < 0:
            raise ConfigurationError(f"beat offset {self.offset_s} s is negative")
        if not (0.01 <= self.min_segment_s <= 10.0):
            raise ConfigurationError(f"minimum segment {self.min_segment_s} s is out of range 0.01..10 s")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentationConfig:
        return cls(**checked_keys(cls, data, "the segmentation settings are", may_omit=cls.__dataclass_fields__, error=CountertrackError))


def with_tempo(
    config: SegmentationConfig, bpm: float | None = None, offset_s: float = 0.0, tempo_map: str | None = None
) -> SegmentationConfig | None:
    """A bundle's segmentation unit (beats and their subdivision, or its uniform hop) on A's beats
    from ``tempo_map`` or ``bpm``; None when neither is given (a beat bundle then finds A's beats)."""
    if bpm is not None and tempo_map:
        raise ConfigurationError("give either a tempo (bpm) or a tempo map, not both")
    if bpm is None and not tempo_map:
        if offset_s:
            raise ConfigurationError("a beat offset needs a tempo (bpm)")
        return None
    return SegmentationConfig.from_dict(
        {**config.to_dict(), "strategy": "beats", "bpm": bpm, "offset_s": offset_s, "tempo_map": tempo_map or None}
    )


def make_grid(
    num_samples: int, sample_rate: int, config: SegmentationConfig, audio: np.ndarray | None = None, *, merge_tail: bool = True
) -> np.ndarray:
    """The boundaries of ``config``'s strategy for a signal of ``num_samples`` at ``sample_rate``.

    ``audio`` (mono, 1-D or (1, samples)) is needed only for ``onsets``. ``merge_tail=False`` keeps a
    short last segment instead of merging it into the one before: the grid an anticipating stream
    lays ahead of A, where no boundary may move once it is used.
    """
    if num_samples < 1:
        raise AudioError("cannot segment an empty signal")
    if config.strategy == "uniform":
        return uniform_grid(num_samples, sample_rate, config.hop_s, merge_tail=merge_tail)
    if config.strategy == "beats":
        return grid_from_times(beat_times_s(num_samples, sample_rate, config, audio), num_samples, sample_rate, merge_tail=merge_tail)
    if audio is None:
        raise ConfigurationError("onset segmentation needs the audio")
    onsets = detect_onsets(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate, config.min_segment_s)
    return grid_from_times(onsets / sample_rate, num_samples, sample_rate, min_segment_s=config.min_segment_s, merge_tail=merge_tail)


def open_grid(num_samples: int, sample_rate: int, config: SegmentationConfig, audio: np.ndarray | None = None) -> np.ndarray:
    """The grid an anticipating stream lays: no end-of-track merge, and the last segment keeps the
    length the strategy gives it past A's end (its first boundary after ``num_samples``), since the
    slot was decided before A ended; when A ends on a boundary, the slot starting there was decided
    too. Grids found in the audio end at ``num_samples``."""
    grid = make_grid(num_samples, sample_rate, config, audio, merge_tail=False)
    known_ahead = config.strategy == "uniform" or (config.strategy == "beats" and (config.bpm is not None or bool(config.tempo_map)))
    if not known_ahead:
        return grid
    longest = int(np.diff(grid).max())
    extended = make_grid(num_samples + 2 * longest + sample_rate, sample_rate, config, merge_tail=False)
    later = extended[extended > num_samples]
    return np.append(extended[extended <= num_samples], later[0])


def beat_times_s(num_samples: int, sample_rate: int, config: SegmentationConfig, audio: np.ndarray | None = None) -> np.ndarray:
    """Times (s) of every beat / ``subdivision`` of a ``beats`` config over ``num_samples``: from the
    tempo map, else the BPM and offset, else the beats estimated in ``audio``."""
    duration_s = num_samples / sample_rate
    if config.tempo_map:
        return tempo_map_beats_s(config.tempo_map, duration_s, config.subdivision)
    if config.bpm is not None:
        period = 60.0 / config.bpm / config.subdivision
        count = int(math.ceil(max(0.0, duration_s - config.offset_s) / period)) + 1
        return config.offset_s + period * np.arange(count)
    if audio is None:
        raise ConfigurationError("beat segmentation without a BPM or tempo map needs the audio to find its beats")
    from plugin_core.perception.tempo import estimate_beats

    beats = estimate_beats(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate).beat_times_s
    return subdivide(beats, config.subdivision)


def subdivide(beat_times_s: np.ndarray, subdivision: int) -> np.ndarray:
    """``subdivision`` equal steps between consecutive beats (the last beat's step continues the one before)."""
    beats = np.asarray(beat_times_s, dtype=np.float64)
    if subdivision == 1 or beats.size < 2:
        return beats
    steps = np.diff(beats) / subdivision
    inner = beats[:-1, None] + steps[:, None] * np.arange(subdivision)[None, :]
    tail = beats[-1] + steps[-1] * np.arange(subdivision)
    return np.concatenate([inner.reshape(-1), tail])


def uniform_grid(num_samples: int, sample_rate: int, hop_s: float, *, merge_tail: bool = True) -> np.ndarray:
    """Boundaries every ``hop_s`` seconds (rounded to samples), last partial segment as documented."""
    hop = max(1, int(round(hop_s * sample_rate)))
    boundaries = np.arange(0, num_samples, hop, dtype=np.int64)
    return _close(boundaries, num_samples, hop if merge_tail else 0)


def grid_from_times(
    times_s: np.ndarray, num_samples: int, sample_rate: int, *, min_segment_s: float | None = None, merge_tail: bool = True
) -> np.ndarray:
    """Boundaries at the given times (seconds), plus 0 and the end; too-close boundaries dropped.

    Segments shorter than ``min_segment_s`` (default: half the median segment) are merged into the
    segment before them.
    """
    positions = np.round(np.asarray(times_s, dtype=np.float64) * sample_rate).astype(np.int64)
    positions = np.unique(positions[(positions > 0) & (positions < num_samples)])
    boundaries = np.concatenate([[0], positions]).astype(np.int64)
    if min_segment_s is None:
        spacing = np.diff(np.concatenate([boundaries, [num_samples]]))
        min_samples = max(1, int(np.median(spacing) // 2)) if spacing.size > 1 else 1
    else:
        min_samples = max(1, int(round(min_segment_s * sample_rate)))
    kept = [0]
    for position in boundaries[1:]:
        if position - kept[-1] >= min_samples:
            kept.append(int(position))
    return _close(np.asarray(kept, dtype=np.int64), num_samples, 2 * min_samples if merge_tail else 0)


def _close(boundaries: np.ndarray, num_samples: int, nominal: int) -> np.ndarray:
    """Append the end; merge a last segment shorter than half of ``nominal`` into its predecessor
    (``nominal`` 0: never)."""
    if nominal > 0 and boundaries.size > 1 and num_samples - boundaries[-1] < max(1, nominal // 2):
        boundaries = boundaries[:-1]
    return np.append(boundaries, np.int64(num_samples))


def check_grid(boundaries: np.ndarray, num_samples: int, *, may_overrun: bool = False) -> None:
    """Raise CountertrackError unless ``boundaries`` is a valid grid for ``num_samples`` (ending at it,
    or with ``may_overrun`` at or past it, as an anticipating stream's last slot does)."""
    b = np.asarray(boundaries)
    ends = b.size >= 2 and (b[-1] >= num_samples if may_overrun else b[-1] == num_samples)
    if b.ndim != 1 or b.size < 2 or b[0] != 0 or not ends or np.any(np.diff(b) <= 0):
        raise ConfigurationError(f"invalid segment grid for {num_samples} samples")


def tempo_map_beats_s(midi_path: str | os.PathLike[str], duration_s: float, subdivision: int = 1) -> np.ndarray:
    """Times (s) of every beat / ``subdivision`` of a MIDI file's tempo map, continued at its last
    tempo until ``duration_s``."""
    from plugin_core.io.midi_read import read_midi, tempo_changes
    from plugin_core.io.validation import check_segment_count

    midi = read_midi(midi_path)  # checked: time division, file type, tempos in range
    changes = tempo_changes(midi)  # (tick, microseconds per beat)
    change_ticks = np.array([tick for tick, _ in changes], dtype=np.float64)
    seconds_per_tick = np.array([tempo for _, tempo in changes], dtype=np.float64) / 1e6 / midi.ticks_per_beat
    change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * seconds_per_tick[:-1])])
    # the tick at duration_s (ticks past the last tempo change run at the last tempo): enough steps to pass it
    at = int(np.searchsorted(change_seconds, duration_s, side="right")) - 1
    last_ticks = change_ticks[at] + max(0.0, duration_s - change_seconds[at]) / seconds_per_tick[at]
    step_ticks = midi.ticks_per_beat / subdivision
    check_segment_count((last_ticks + step_ticks) / step_ticks, duration_s, "the tempo map", midi_path)
    beat_ticks = np.arange(0.0, last_ticks + step_ticks, step_ticks)
    segment = np.searchsorted(change_ticks, beat_ticks, side="right") - 1
    times = change_seconds[segment] + (beat_ticks - change_ticks[segment]) * seconds_per_tick[segment]
    return times[times < duration_s]


def detect_onsets(audio: np.ndarray, sample_rate: int, min_gap_s: float = 0.1) -> np.ndarray:
    """Onset positions (samples) by spectral flux: log-magnitude increase summed over bins, peaks
    above a moving-median threshold, at least ``min_gap_s`` apart."""
    frame, hop = 2048, 512
    if audio.size < frame:
        return np.zeros(0, dtype=np.int64)
    window = np.hanning(frame).astype(np.float32)
    count = 1 + (audio.size - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(audio[index] * window, axis=1))
    log_mag = np.log1p(100.0 * spectrum)
    flux = np.maximum(np.diff(log_mag, axis=0), 0.0).sum(axis=1)
    flux = np.concatenate([[0.0], flux])
    if flux.max() <= 0:
        return np.zeros(0, dtype=np.int64)
    flux /= flux.max()
    half = 8
    padded = np.pad(flux, half, mode="edge")
    median = np.array([np.median(padded[i : i + 2 * half + 1]) for i in range(flux.size)])
    threshold = median + 0.1
    min_gap = max(1, int(round(min_gap_s * sample_rate / hop)))
    peaks: list[int] = []
    for i in range(1, flux.size - 1):
        if flux[i] > threshold[i] and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1]:
            if peaks and i - peaks[-1] < min_gap:
                if flux[i] > flux[peaks[-1]]:
                    peaks[-1] = i
                continue
            peaks.append(i)
    # frame i's flux compares frames i-1 and i: the attack entered frame i somewhere in its span.
    # Place the boundary where the short-term level rises most (a 32-sample causal moving average
    # of |x|), so an impulse lands on its own sample.
    magnitude = np.abs(audio.astype(np.float64))
    rise = magnitude - np.concatenate([np.zeros(32), magnitude[:-32]])
    refined = []
    for peak in peaks:
        lo, hi = peak * hop, min(audio.size, peak * hop + frame + hop)
        refined.append(lo + int(np.argmax(rise[lo:hi])) if hi > lo else peak * hop + frame // 2)
    return np.asarray(refined, dtype=np.int64)

"""One side of a pair (A or B) read from its files: every file checked against the others, then summed.

A side may be several files (a MoisesDB stem is the sum of its sources; ``--guide others`` is the sum
of several stems). Summing only makes sense for files of one sample rate and one channel count, so a
file that differs is refused in one line naming it, never resampled or up-mixed behind the user's
back. Lengths may differ by a small tolerance (renders end a block apart); everything is cut to the
shortest, never padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from plugin_core.errors import CountertrackError
from plugin_core.io.audio import AudioInfo, probe_audio, read_audio

SILENCE_DBFS = -60.0  # a side whose peak stays below this holds nothing to learn from


def probe_all(files: Sequence[Path]) -> list[AudioInfo]:
    """Each file's header (one line naming a file that is missing or not audio)."""
    return [probe_audio(path) for path in files]


def check_rates(infos: Sequence[AudioInfo]) -> int:
    """The one sample rate of ``infos``; one line naming the first file at another rate."""
    first = infos[0]
    for info in infos[1:]:
        if info.sample_rate != first.sample_rate:
            raise CountertrackError(
                f"is at sample rate {info.sample_rate} Hz but {Path(first.path).name} is at "
                f"{first.sample_rate} Hz; the stems of a pair must share one rate",
                info.path,
            )
    return first.sample_rate


def check_channels(infos: Sequence[AudioInfo]) -> None:
    """Files summed into one side share a channel count; one line naming the first that does not."""
    first = infos[0]
    for info in infos[1:]:
        if info.num_channels != first.num_channels:
            raise CountertrackError(
                f"has {info.num_channels} channel(s) but {Path(first.path).name} has "
                f"{first.num_channels}; files summed into one stem must match",
                info.path,
            )


def check_lengths(infos: Sequence[AudioInfo], tolerance_s: float, song: Path) -> int:
    """The shortest length in samples, when every file is within ``tolerance_s`` of it; else one line
    naming the song and the two files furthest apart."""
    shortest = min(infos, key=lambda i: i.num_samples)
    longest = max(infos, key=lambda i: i.num_samples)
    gap_s = (longest.num_samples - shortest.num_samples) / shortest.sample_rate
    if gap_s > tolerance_s:
        raise CountertrackError(
            f"stems differ in length: {Path(longest.path).name} has {longest.num_samples} samples, "
            f"{Path(shortest.path).name} {shortest.num_samples} ({gap_s * 1000:.1f} ms apart, tolerance {tolerance_s * 1000:g} ms)",
            song,
        )
    return shortest.num_samples


def sum_files(files: Sequence[Path], length: int) -> np.ndarray:
    """The sum of ``files`` (checked to share channels), each cut to ``length``: float32 (channels, length)."""
    total: np.ndarray | None = None
    for path in files:
        samples = read_audio(path).samples[:, :length]
        total = samples.copy() if total is None else total + samples
    assert total is not None, "a side has at least one file"
    return total


def peak_dbfs(samples: np.ndarray) -> float:
    """The peak level in dBFS (-inf for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0.0 else float("-inf")

"""The columns of a grain table (``memory/grains.json``), checked before any array is built from them.

Positions, tracks and labels must be JSON whole numbers (a label of 1e20 or 2.5 is refused, not
rounded or overflowed), every other value a finite number within a sane range, every column of
the same length and shape. What needs the rest of the bundle (labels below the vocabulary, tracks
of the manifest, ends inside the audio) is checked by ``check_against``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from plugin_core.errors import BundleError

INTEGER_COLUMNS = ("track", "start", "end", "label")
MAX_POSITION = 1 << 48  # samples: centuries of audio; keeps every sum inside int64
MAX_GRAINS = 10_000_000
LOUDNESS_DB = (-400.0, 100.0)
PITCH_MIDI = (-1.0, 128.0)  # -1 = unpitched
DESCRIPTOR_BOUND = 1000.0  # profiles are 0..1; anything near this is not a descriptor


def check_grain_columns(data: Any, rhythm_bins: int, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The columns of a parsed grains.json, each checked; raises BundleError naming the table and the column."""
    if not isinstance(data, dict):
        raise BundleError("grain table is not a JSON object of columns", path)
    missing = [name for name in (*INTEGER_COLUMNS, "loudness_db") if name not in data]
    if missing:
        raise BundleError(f"grain table has no {missing[0]!r} column", path)
    count = _length(data["start"], "start", path)
    if count == 0:
        raise BundleError("grain table holds no grain", path)
    if count > MAX_GRAINS:
        raise BundleError(f"grain table holds {count} grains, more than {MAX_GRAINS}", path)
    for name in INTEGER_COLUMNS:
        column = data[name]
        if _length(column, name, path) != count:
            raise BundleError(f"grain table column {name!r} has {len(column)} entries, 'start' has {count}", path)
        for index, value in enumerate(column):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
                raise BundleError(f"grain table {name}[{index}] is {_shown(value)}, not a whole number within 0..2^48", path)
    starts, ends = np.asarray(data["start"], np.int64), np.asarray(data["end"], np.int64)
    if np.any(ends <= starts):
        bad = int(np.flatnonzero(ends <= starts)[0])
        raise BundleError(f"grain table grain {bad} ends at {int(ends[bad])}, not after its start {int(starts[bad])}", path)
    _numbers(data["loudness_db"], "loudness_db", (count,), *LOUDNESS_DB, path)
    if "pitch_midi" in data:
        _numbers(data["pitch_midi"], "pitch_midi", (count,), *PITCH_MIDI, path)
    if "pitch_classes" in data:
        _numbers(data["pitch_classes"], "pitch_classes", (count, 12), -DESCRIPTOR_BOUND, DESCRIPTOR_BOUND, path)
    if "onsets" in data:
        _numbers(data["onsets"], "onsets", (count, rhythm_bins), -DESCRIPTOR_BOUND, DESCRIPTOR_BOUND, path)
    return data


def check_against(label: np.ndarray, track: np.ndarray, vocab_size: int, tracks: int, path: str | os.PathLike[str]) -> None:
    """Labels are tokens of the vocabulary; tracks are tracks of the manifest."""
    if label.max() >= vocab_size:
        raise BundleError(f"grain table holds label {int(label.max())}, outside the vocabulary of {vocab_size}", path)
    if tracks and track.max() >= tracks:
        raise BundleError(f"grain table holds track {int(track.max())}; the manifest lists {tracks}", path)


def _length(column: Any, name: str, path: str | os.PathLike[str] | None) -> int:
    if not isinstance(column, list):
        raise BundleError(f"grain table column {name!r} is not a list", path)
    return len(column)


def _numbers(column: Any, name: str, shape: tuple[int, ...], low: float, high: float, path: str | os.PathLike[str] | None) -> None:
    """A column of finite numbers of ``shape`` (rows of lists for 2-D), each within ``low..high``."""
    rows = [column] if len(shape) == 1 else column
    if len(column) != shape[0] or any(not isinstance(row, list) or len(row) != shape[-1] for row in rows):
        raise BundleError(f"grain table column {name!r} is not a table of numbers of shape {shape}", path)
    for row in rows:
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BundleError(f"grain table column {name!r} holds {_shown(value)}, not a number", path)
    try:
        values = np.asarray(column, dtype=np.float64)
    except OverflowError as exc:  # an integer beyond float64
        raise BundleError(f"grain table column {name!r} holds a number too large", path) from exc
    bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
    if bad.any():
        where = np.argwhere(bad)[0]
        raise BundleError(
            f"grain table {name}{list(int(i) for i in where)} is {values[tuple(where)]}, not a finite number within {low:g}..{high:g}", path
        )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

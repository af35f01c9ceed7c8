"""Input checks shared by the runtime, in one place: each raises one CountertrackError (of the right
kind) naming the file and the problem, before any work is done.

- ``check_stream_format``: the sample rate and channel count a stream or render runs at;
- ``whole_number`` / ``number_in``: one value from a file, its type and range;
- ``finite_numbers``: every number of a JSON document is finite (JSON has no NaN, Python reads it);
- ``check_segment_count``: no grid cuts a track finer than ``MAX_SEGMENTS_PER_S``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from plugin_core.errors import ConfigurationError, CountertrackError

MIN_RATE_HZ, MAX_RATE_HZ = 8000, 384000
MAX_CHANNELS = 8
# the finest grid a valid setting gives is 400 BPM in 16ths (107 segments a second) or a 10 ms hop (100)
MAX_SEGMENTS_PER_S = 120

PathLike = str | os.PathLike[str] | None


def check_stream_format(sample_rate: Any, channels: Any) -> tuple[int, int]:
    """(rate, channels) as ints if the rate is a whole number of Hz within 8000..384000 and the channels
    a whole number within 1..8 (the same line ``SidechainEffect`` gives), else a ConfigurationError."""
    if not (
        isinstance(sample_rate, (int, np.integer)) and not isinstance(sample_rate, bool) and MIN_RATE_HZ <= int(sample_rate) <= MAX_RATE_HZ
    ):
        raise ConfigurationError(f"sample rate {sample_rate!r} is not a whole number of Hz within {MIN_RATE_HZ}..{MAX_RATE_HZ}")
    if not (isinstance(channels, (int, np.integer)) and not isinstance(channels, bool) and 1 <= int(channels) <= MAX_CHANNELS):
        raise ConfigurationError(f"channel count {channels!r} is not a whole number within 1..{MAX_CHANNELS}")
    return int(sample_rate), int(channels)


def whole_number(
    value: Any, low: int, high: int, what: str, path: PathLike = None, error: type[CountertrackError] = CountertrackError
) -> int:
    """``value`` if it is an integer (not a bool, not a float) within ``low..high``; else one line naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise error(f"{what} must be a whole number, not {_shown(value)}", path)
    if not low <= int(value) <= high:
        raise error(f"{what} {int(value)} is out of range {low}..{high}", path)
    return int(value)


def number_in(
    value: Any, low: float, high: float, what: str, path: PathLike = None, error: type[CountertrackError] = CountertrackError
) -> float:
    """``value`` as a float if it is a finite number within ``low..high``; else one line naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise error(f"{what} must be a number, not {_shown(value)}", path)
    if not math.isfinite(float(value)):
        raise error(f"{what} is {float(value)}, not a finite number", path)
    if not low <= float(value) <= high:
        raise error(f"{what} {float(value):g} is out of range {low:g}..{high:g}", path)
    return float(value)


def finite_numbers(document: Any, path: PathLike = None, where: str = "", error: type[CountertrackError] = CountertrackError) -> None:
    """Every number anywhere in a parsed JSON ``document`` is finite (Python's json reads NaN and Infinity)."""
    stack = [(document, where)]
    while stack:  # iterative: a document nested deeply must not exhaust the stack
        value, at = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{at or '(top level)'} is {value}, not a finite number", path)
        if isinstance(value, dict):
            stack.extend((item, f"{at}/{key}" if at else str(key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{at}/{index}" if at else str(index)) for index, item in enumerate(value))


def check_segment_count(count: float, duration_s: float, what: str, path: PathLike = None) -> None:
    """A grid of ``count`` segments over ``duration_s`` must not exceed ``MAX_SEGMENTS_PER_S`` a second
    (plus a few): checked before the grid is built, so a runaway tempo costs nothing."""
    limit = MAX_SEGMENTS_PER_S * max(duration_s, 0.0) + 4
    if not count <= limit:
        raise ConfigurationError(
            f"{what} would cut {duration_s:.3g} s into {count:.3g} segments; at most {MAX_SEGMENTS_PER_S} a second are allowed", path
        )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


MAX_NPZ_BYTES = 256 << 20


def read_npz(
    path: str | os.PathLike[str],
    names: tuple[str, ...],
    what: str,
    error: type[CountertrackError] = CountertrackError,
    max_bytes: int = MAX_NPZ_BYTES,
) -> dict[str, np.ndarray]:
    """float32 arrays ``names`` of a ``.npz`` (never unpickled), each finite; the archive's declared sizes
    are checked before anything is decompressed, so a small file cannot unpack into gigabytes."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise error(f"not {what} (an .npz archive expected)", path)
            archive = data.zip
            declared = sum(int(info.file_size) for info in archive.infolist()) if archive is not None else 0
            if declared > max_bytes:
                raise error(f"not {what}: its arrays declare {declared} bytes, more than {max_bytes}", path)
            arrays = {}
            for name in names:
                array = data[name]
                if array.dtype.kind not in "fiu":
                    raise error(f"not {what}: {name} holds {array.dtype}, not numbers", path)
                arrays[name] = np.asarray(array, dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise error(f"not {what} ({' '.join(str(exc).split())[:120]})", path) from exc
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise error(f"{name} holds a value that is not a finite number", path)
    return arrays


def effect_parameters(plugin_class: type) -> tuple[str, ...]:
    """The settable parameters of a built-in pedalboard effect: its writable properties, never a method
    (a preset setting ``process`` or ``reset`` is refused, not a traceback)."""
    import inspect

    return tuple(
        key
        for key in dir(plugin_class)
        if not key.startswith("_")
        and isinstance(inspect.getattr_static(plugin_class, key), property)
        and inspect.getattr_static(plugin_class, key).fset is not None
    )

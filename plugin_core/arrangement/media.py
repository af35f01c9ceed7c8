"""The audio files a session points to: the memory as the engine played it, A, and pre-rendered clips,
all in the session's ``audio/`` folder (``write_media``).

The memory is copied as it is when its rate is B's (the engine read exactly these samples);
otherwise it is written at B's rate, resampled as the engine resampled it, as 32-bit float. A
memory with more channels than B is written as the mono mix the engine played; a mono memory stays
mono (a DAW plays it on every channel, as the engine did). Pre-rendered clips are 32-bit float WAV.
Every file written (not copied) here or in the .dawproject goes through ``write_reproducible_float_wav``:
the same session gives the same bytes (libsndfile's PEAK chunk would stamp each with the time).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plugin_core.arrangement.clips import ClipList
from plugin_core.engine.memory import Memory
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import write_reproducible_float_wav

CHUNK = 1 << 20
AUDIO_FOLDER = "audio"
MEMORY_FILE = "memory.wav"


def memory_channels(memory: Memory, channels: int) -> int:
    """Channels of the session's memory file for a B of ``channels``."""
    return memory.channels if memory.channels in (1, channels) else 1


def memory_frames(memory: Memory, sample_rate: int) -> int:
    """Length of the memory at ``sample_rate``."""
    return memory.to_rate(memory.frames, sample_rate)


def write_memory(memory: Memory, sample_rate: int, channels: int, path: Path) -> None:
    """The memory the clips point into, at ``sample_rate``, into ``path`` (a WAV file)."""
    try:
        if sample_rate == memory.sample_rate and memory_channels(memory, channels) == memory.channels:
            shutil.copyfile(memory.path, path)
            return
        write_reproducible_float_wav(path, _memory_pieces(memory, sample_rate, channels), sample_rate)
    except OSError as exc:
        raise CountertrackError(f"cannot write the session's memory audio ({exc})", path) from exc


def _memory_pieces(memory: Memory, sample_rate: int, channels: int) -> Iterator[np.ndarray]:
    """The memory at ``sample_rate`` in pieces of ``CHUNK`` frames, mixed down as the engine played it."""
    frames = memory_frames(memory, sample_rate)
    for start in range(0, frames, CHUNK):
        piece = memory.read(start, min(frames, start + CHUNK), sample_rate)
        if piece.shape[0] != memory_channels(memory, channels):
            piece = piece.mean(axis=0, keepdims=True)
        yield piece


def copy_file(source: str | os.PathLike[str], path: Path) -> None:
    try:
        shutil.copyfile(source, path)
    except OSError as exc:
        raise CountertrackError(f"cannot copy {source} into the session ({exc.strerror or exc})", path) from exc


def a_file_name(a_path: str | os.PathLike[str]) -> str:
    """A's name in the session's audio: its own, unless it would collide with ours."""
    name = Path(a_path).name
    return f"A-{name}" if name.lower() == MEMORY_FILE or name.lower().startswith("clip-") else name


def write_media(clips: ClipList, memory: Memory, a_path: str | os.PathLike[str], folder: Path) -> str:
    """The memory, a copy of A and every pre-rendered clip into ``folder / AUDIO_FOLDER``; returns A's
    file name there. Both session formats point at these files."""
    audio = folder / AUDIO_FOLDER
    try:
        audio.mkdir(exist_ok=True)
    except OSError as exc:
        raise CountertrackError(f"cannot make the session's audio folder ({exc.strerror or exc})", audio) from exc
    write_memory(memory, clips.sample_rate, clips.channels, audio / MEMORY_FILE)
    a_name = a_file_name(a_path)
    copy_file(a_path, audio / a_name)
    for name, samples in clips.rendered.items():
        try:
            write_reproducible_float_wav(audio / name, samples, clips.sample_rate)
        except OSError as exc:
            raise CountertrackError(f"cannot write a clip's audio ({exc})", audio / name) from exc
    return a_name

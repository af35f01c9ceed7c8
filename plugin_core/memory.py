"""The memory: B recordings the grain engine plays from, with their grain table.

On disk: ``memory.wav`` (all B tracks back to back, 16-bit PCM or 32-bit float WAV, at their own
rate) and ``grains.json`` (one row per grain: track, start, end, label, loudness, descriptors). The
audio is read by position as grains are played, so an hour of memory costs the grains in use, not
an hour of float32 in RAM; at another output rate it is resampled once into the cache and read from
there the same way.
"""

from __future__ import annotations

import hashlib
import os
import struct
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pedalboard.io import StreamResampler

from plugin_core.atomic import atomic_path, read_json
from plugin_core.cache import cache_folder
from plugin_core.descriptors import RHYTHM_BINS
from plugin_core.errors import CountertrackError

RESAMPLED_VERSION = 1  # bump when the resampling changes, so old cache files are not reused
RESAMPLE_CHUNK = 1 << 20

GRAIN_COLUMNS = ("track", "start", "end", "label", "loudness_db")


@dataclass(frozen=True)
class GrainTable:
    """Segments of the memory with their labels and descriptors (``plugin_core.descriptors``).
    Positions in memory samples; a grain runs from one of its track's beats (or segments) to the next."""

    track: np.ndarray  # int64 (grains,): which memory track
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    label: np.ndarray  # int64
    loudness_db: np.ndarray  # float32
    pitch_classes: np.ndarray  # float32 (grains, 12): pitch-class profile, zeros when unpitched
    onsets: np.ndarray  # float32 (grains, RHYTHM_BINS): where its onsets fall inside it
    pitch_midi: np.ndarray  # float32 (grains,): median pitch as a MIDI note number, -1 when unpitched

    def __len__(self) -> int:
        return int(self.start.size)

    def to_json(self) -> dict:
        return {**{name: getattr(self, name).tolist() for name in GRAIN_COLUMNS},
                "pitch_classes": np.round(self.pitch_classes, 5).tolist(), "onsets": np.round(self.onsets, 5).tolist(),
                "pitch_midi": np.round(self.pitch_midi, 3).tolist()}

    @classmethod
    def from_json(cls, data: dict, path: str | os.PathLike[str] | None = None) -> GrainTable:
        """The table of grains.json; a table written before descriptors existed (schema 1) reads
        with neutral ones, so grain choice falls back to labels and loudness."""
        try:
            count = len(data["start"])
            classes = data.get("pitch_classes", np.zeros((count, 12)))
            onsets = data.get("onsets", np.zeros((count, RHYTHM_BINS)))
            table = cls(track=np.asarray(data["track"], np.int64), start=np.asarray(data["start"], np.int64),
                        end=np.asarray(data["end"], np.int64), label=np.asarray(data["label"], np.int64),
                        loudness_db=np.asarray(data["loudness_db"], np.float32),
                        pitch_classes=np.asarray(classes, np.float32).reshape(-1, 12),
                        onsets=np.asarray(onsets, np.float32).reshape(count, -1) if count else np.zeros((0, RHYTHM_BINS), np.float32),
                        pitch_midi=np.asarray(data.get("pitch_midi", [-1.0] * count), np.float32))
        except (KeyError, TypeError, ValueError) as exc:
            raise CountertrackError(f"malformed grain table ({exc})", path) from exc
        sizes = {len(getattr(table, name)) for name in (*GRAIN_COLUMNS, "pitch_classes", "onsets", "pitch_midi")}
        if len(sizes) != 1 or np.any(table.end <= table.start) or (len(table) and table.start.min() < 0):
            raise CountertrackError("grain table columns are inconsistent", path)
        numbers = (table.loudness_db, table.pitch_classes, table.onsets, table.pitch_midi)
        if not all(np.isfinite(column).all() for column in numbers):
            raise CountertrackError("grain table holds a value that is not a finite number", path)
        return table

    def successors(self) -> np.ndarray:
        """Index of the grain that follows each grain in its track (the continuity link), or -1."""
        following = np.full(len(self), -1, dtype=np.int64)
        same_track = self.track[1:] == self.track[:-1]
        adjacent = self.start[1:] == self.end[:-1]
        following[:-1] = np.where(same_track & adjacent, np.arange(1, len(self)), -1)
        return following


def _wav_data_layout(path: Path) -> tuple[int, int, int, int, np.dtype]:
    """(data offset, frames, channels, sample rate, dtype) of a PCM-16 or float-32 WAV."""
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise CountertrackError("memory audio is not a WAV file", path)
        fmt = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise CountertrackError("memory WAV has no data chunk", path)
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                body = handle.read(size + (size & 1))
                format_tag, channels, rate = struct.unpack("<HHI", body[:8])
                bits = struct.unpack("<H", body[14:16])[0]
                if format_tag == 0xFFFE and len(body) >= 26:
                    format_tag = struct.unpack("<H", body[24:26])[0]
                fmt = (format_tag, channels, rate, bits)
            elif name == b"data":
                if fmt is None:
                    raise CountertrackError("memory WAV has data before its format", path)
                format_tag, channels, rate, bits = fmt
                if (format_tag, bits) == (1, 16):
                    dtype = np.dtype("<i2")
                elif (format_tag, bits) == (3, 32):
                    dtype = np.dtype("<f4")
                else:
                    raise CountertrackError(f"memory WAV must be 16-bit PCM or 32-bit float, not format {format_tag}/{bits} bits", path)
                return handle.tell(), size // (channels * dtype.itemsize), channels, rate, dtype
            else:
                handle.seek(size + (size & 1), 1)


class _PcmFile:
    """Interleaved PCM frames in a file, read by position (``os.pread``). Nothing is mapped: a read
    costs the array it returns, and the page cache (shared, reclaimable) holds the rest. Mapped
    pages counted in the process's resident memory, whole large folios at a time on recent kernels."""

    def __init__(self, path: Path, offset: int, frames: int, channels: int, dtype: np.dtype, scale: np.float32):
        self.offset, self.frames, self.channels, self.dtype, self.scale = offset, frames, channels, np.dtype(dtype), scale
        self._fd = os.open(path, os.O_RDONLY)
        self._closer = weakref.finalize(self, os.close, self._fd)

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 (stop - start, channels) of frames ``start <= i < stop`` inside the file."""
        frame_bytes = self.channels * self.dtype.itemsize
        wanted = (stop - start) * frame_bytes
        data, position = bytearray(), self.offset + start * frame_bytes
        while len(data) < wanted:  # pread may return less than asked for large reads
            piece = os.pread(self._fd, wanted - len(data), position + len(data))
            if not piece:
                raise CountertrackError("memory audio is shorter than its header says")
            data += piece
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, self.channels).astype(np.float32) * self.scale


class _InRam:
    """The same interface over an array: the fallback when the cache cannot be written."""

    def __init__(self, frames: np.ndarray):
        self._frames, self.frames = frames, frames.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._frames[start:stop]


class Memory:
    """Memory audio (read by position, never loaded whole) plus its grain table and the lookups the engine needs."""

    def __init__(self, audio_path: str | os.PathLike[str], grains: GrainTable):
        self.path = Path(audio_path)
        offset, frames, channels, rate, dtype = _wav_data_layout(self.path)
        scale = np.float32(1.0 / 32768.0) if dtype.kind == "i" else np.float32(1.0)
        self._pcm = _PcmFile(self.path, offset, frames, channels, dtype, scale)
        self.sample_rate, self.channels, self.frames = rate, channels, frames
        if len(grains) and grains.end.max() > frames:
            raise CountertrackError("grain table points past the end of the memory audio", self.path)
        self.grains = grains
        self.successor = grains.successors()
        self.by_label = {int(label): np.flatnonzero(grains.label == label) for label in np.unique(grains.label)}
        self._resampled: dict[int, _PcmFile | _InRam] = {}

    @property
    def labels(self) -> np.ndarray:
        return np.array(sorted(self.by_label), dtype=np.int64)

    def read(self, start: int, stop: int, sample_rate: int | None = None) -> np.ndarray:
        """float32 (channels, stop - start) of memory samples (at ``sample_rate`` if given); zeros outside."""
        source = self._pcm if sample_rate is None or sample_rate == self.sample_rate else self._at_rate(sample_rate)
        out = np.zeros((self.channels, stop - start), dtype=np.float32)
        lo, hi = max(0, start), min(source.frames, stop)
        if hi > lo:
            out[:, lo - start : hi - start] = source.read(lo, hi).T
        return out

    def prepare(self, sample_rate: int) -> None:
        """Resample the memory for ``sample_rate`` now (if needed), not during the first block."""
        if sample_rate != self.sample_rate:
            self._at_rate(sample_rate)

    def _at_rate(self, sample_rate: int) -> _PcmFile | _InRam:
        """The whole memory at another rate, read by position like the original: resampled once per
        rate in chunks (bit-identical to one pass) into the cache, so an hour costs disk, not RAM."""
        if sample_rate not in self._resampled:
            frames = int(round(self.frames * sample_rate / self.sample_rate))
            path = self._resampled_path(sample_rate)
            try:
                if not (path.is_file() and path.stat().st_size == frames * self.channels * 4):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_path(path) as tmp, open(tmp, "wb") as sink:
                        for chunk in self._resampled_chunks(sample_rate, frames):
                            sink.write(np.ascontiguousarray(chunk.T).tobytes())
                self._resampled[sample_rate] = _PcmFile(path, 0, frames, self.channels, np.dtype("<f4"), np.float32(1.0))
            except (OSError, CountertrackError):  # no writable cache: hold it in RAM instead
                self._resampled[sample_rate] = _InRam(np.concatenate(list(self._resampled_chunks(sample_rate, frames)), axis=1).T)
        return self._resampled[sample_rate]

    def _resampled_path(self, sample_rate: int) -> Path:
        """The cache file for this memory (by path, size and modification time) at ``sample_rate``."""
        stat = self.path.stat()
        key = hashlib.sha256(f"{RESAMPLED_VERSION}|{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}".encode()).hexdigest()
        return cache_folder("memory") / f"{key[:32]}.{sample_rate}.f32"

    def _resampled_chunks(self, sample_rate: int, frames: int) -> Iterator[np.ndarray]:
        """(channels, n) pieces of what ``plugin_core.audio.resample`` gives for the whole memory in
        one pass (``frames`` in all), without holding it: pedalboard's stream resampler is exact in pieces."""
        resampler = StreamResampler(float(self.sample_rate), float(sample_rate), self.channels)
        left = frames
        for start in [*range(0, self.frames, RESAMPLE_CHUNK), None]:
            piece = None if start is None else np.ascontiguousarray(self._pcm.read(start, min(start + RESAMPLE_CHUNK, self.frames)).T)
            out = resampler.process(piece)[:, :left]  # None: end of stream, the resampler's tail
            left -= out.shape[1]
            if out.shape[1]:
                yield out
        if left > 0:
            yield np.zeros((self.channels, left), dtype=np.float32)

    def to_rate(self, position: int, sample_rate: int) -> int:
        """A memory position (samples at the memory's rate) at another rate."""
        return int(round(position * sample_rate / self.sample_rate))


def load_memory(folder: str | os.PathLike[str]) -> Memory:
    folder = Path(folder)
    table_path = folder / "grains.json"
    return Memory(folder / "memory.wav", GrainTable.from_json(read_json(table_path, "unreadable grain table"), table_path))

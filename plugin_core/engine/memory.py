"""The memory: B recordings the grain engine plays from, with their grain table.

On disk: ``memory.wav`` (all B tracks back to back, 16-bit PCM or 32-bit float WAV, at their own
rate) and ``grains.json`` (one row per grain: track, start, end, label, loudness, descriptors). The
audio is read by position as grains are played, so an hour of memory costs the grains in use, not
an hour of float32 in RAM; at another output rate it is resampled once into the cache and read from
there the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.bundle.files import Stamp, sha256_of_fd
from plugin_core.engine.grain_table import check_grain_columns
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.atomic import make_temp, read_json, sweep_stale
from plugin_core.io.cache import cache_folder
from plugin_core.io.resampling import output_length, resampled_chunks
from plugin_core.perception.descriptors import RHYTHM_BINS

RESAMPLED_VERSION = 3  # bump when the resampling (or the cache's naming) changes, so old cache files are not reused
RESAMPLE_CHUNK = 1 << 16  # output samples per piece: the resampler's temporaries stay a few MB
MAX_GRAIN_TABLE_BYTES = 256 << 20

GRAIN_COLUMNS = ("track", "start", "end", "label", "loudness_db")


@dataclass(frozen=True)
class GrainTable:
    """Segments of the memory with their labels and descriptors (``plugin_core.perception.descriptors``).
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
        return {
            **{name: getattr(self, name).tolist() for name in GRAIN_COLUMNS},
            "pitch_classes": np.round(self.pitch_classes, 5).tolist(),
            "onsets": np.round(self.onsets, 5).tolist(),
            "pitch_midi": np.round(self.pitch_midi, 3).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict, path: str | os.PathLike[str] | None = None) -> GrainTable:
        """The table of grains.json, every column checked (``plugin_core.engine.grain_table``); a table written
        before descriptors existed (schema 1) reads with neutral ones, so grain choice falls back to
        labels and loudness."""
        columns = check_grain_columns(data, RHYTHM_BINS, path)
        count = len(columns["start"])
        return cls(
            track=np.asarray(columns["track"], np.int64),
            start=np.asarray(columns["start"], np.int64),
            end=np.asarray(columns["end"], np.int64),
            label=np.asarray(columns["label"], np.int64),
            loudness_db=np.asarray(columns["loudness_db"], np.float32),
            pitch_classes=np.asarray(columns.get("pitch_classes", np.zeros((count, 12))), np.float32).reshape(count, 12),
            onsets=np.asarray(columns.get("onsets", np.zeros((count, RHYTHM_BINS))), np.float32).reshape(count, RHYTHM_BINS),
            pitch_midi=np.asarray(columns.get("pitch_midi", [-1.0] * count), np.float32),
        )

    def successors(self) -> np.ndarray:
        """Index of the grain that follows each grain in its track (the continuity link), or -1."""
        following = np.full(len(self), -1, dtype=np.int64)
        same_track = self.track[1:] == self.track[:-1]
        adjacent = self.start[1:] == self.end[:-1]
        following[:-1] = np.where(same_track & adjacent, np.arange(1, len(self)), -1)
        return following


def _wav_data_layout(path: Path) -> tuple[int, int, int, int, np.dtype]:
    """(data offset, frames, channels, sample rate, dtype) of a PCM-16 or float-32 WAV, its header checked
    against itself and the file's size."""
    try:
        with open(path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                raise BundleError("memory audio is not a WAV file", path)
            fmt = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    raise BundleError("memory WAV has no data chunk", path)
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = _wav_format(handle.read(min(size, 1 << 16)), size, path)
                    handle.seek(size - min(size, 1 << 16) + (size & 1), 1)
                elif name == b"data":
                    if fmt is None:
                        raise BundleError("memory WAV has data before its format", path)
                    channels, rate, dtype = fmt
                    if handle.tell() + size > file_size:
                        raise BundleError(
                            f"memory audio is shorter than its header says ({file_size - handle.tell()} of {size} data bytes)", path
                        )
                    return handle.tell(), size // (channels * dtype.itemsize), channels, rate, dtype
                else:
                    handle.seek(size + (size & 1), 1)
    except OSError as exc:
        raise BundleError(f"cannot read the memory audio ({exc.strerror})", path) from exc


def _wav_format(body: bytes, size: int, path: Path) -> tuple[int, int, np.dtype]:
    """(channels, rate, dtype) of a WAV fmt chunk: 16-bit PCM or 32-bit float, 1..2 channels, 8..384 kHz."""
    if size < 16 or len(body) < 16:
        raise BundleError(f"memory WAV has a {size}-byte format chunk (at least 16 expected)", path)
    format_tag, channels, rate = struct.unpack("<HHI", body[:8])
    bits = struct.unpack("<H", body[14:16])[0]
    if format_tag == 0xFFFE and len(body) >= 26:
        format_tag = struct.unpack("<H", body[24:26])[0]
    dtype: np.dtype
    if (format_tag, bits) == (1, 16):
        dtype = np.dtype("<i2")
    elif (format_tag, bits) == (3, 32):
        dtype = np.dtype("<f4")
    else:
        raise BundleError(f"memory WAV must be 16-bit PCM or 32-bit float, not format {format_tag}/{bits} bits", path)
    if not 1 <= channels <= 2:
        raise BundleError(f"memory WAV has {channels} channels (1 or 2 expected)", path)
    if not 8000 <= rate <= 384000:
        raise BundleError(f"memory WAV is at {rate} Hz (8000..384000 expected)", path)
    return channels, rate, dtype


class _PcmFile:
    """Interleaved PCM frames in a file, read by position (``os.pread``). Nothing is mapped: a read
    costs the array it returns, and the page cache (shared, reclaimable) holds the rest. Mapped
    pages counted in the process's resident memory, whole large folios at a time on recent kernels.

    The file must stay the one that was verified: its stamp (``expected``, else the one at opening)
    is checked at every read, so a memory rewritten or replaced during a render is an error, not noise
    in B. Float samples are checked to be finite as they are read."""

    def __init__(
        self,
        path: Path,
        offset: int,
        frames: int,
        channels: int,
        dtype: np.dtype,
        scale: np.float32,
        expected: Stamp | None = None,
        fd: int | None = None,
    ):
        self.path, self.offset, self.frames, self.channels, self.dtype, self.scale = path, offset, frames, channels, np.dtype(dtype), scale
        try:
            self._fd = os.open(path, os.O_RDONLY) if fd is None else fd
        except OSError as exc:
            raise BundleError(f"cannot open the memory audio ({exc.strerror})", path) from exc
        self._closer = weakref.finalize(self, os.close, self._fd)
        self.stamp = Stamp.of(os.fstat(self._fd))
        if expected is not None and self.stamp != expected:
            raise BundleError("memory audio changed after it was verified; load the bundle again", path)

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 (stop - start, channels) of frames ``start <= i < stop`` inside the file."""
        self.check_unchanged()
        frame_bytes = self.channels * self.dtype.itemsize
        wanted = (stop - start) * frame_bytes
        data, position = bytearray(), self.offset + start * frame_bytes
        while len(data) < wanted:  # pread may return less than asked for large reads
            piece = os.pread(self._fd, wanted - len(data), position + len(data))
            if not piece:
                raise BundleError("memory audio is shorter than its header says", self.path)
            data += piece
        self.check_unchanged()  # the bytes just read are the verified ones
        samples = np.frombuffer(data, dtype=self.dtype).reshape(-1, self.channels)
        if self.dtype.kind == "f" and not np.isfinite(samples).all():
            raise BundleError("memory audio holds a sample that is not a finite number", self.path)
        return samples.astype(np.float32) * self.scale

    def check_unchanged(self) -> None:
        if Stamp.of(os.fstat(self._fd)) != self.stamp:
            raise BundleError(
                "memory audio changed during the render (rewritten in place); render again with the bundle left as it is", self.path
            )


class _InRam:
    """The same interface over an array: the fallback when the cache cannot be written."""

    def __init__(self, frames: np.ndarray):
        self._frames, self.frames = frames, frames.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._frames[start:stop]


class Memory:
    """Memory audio (read by position, never loaded whole) plus its grain table and the lookups the engine needs."""

    def __init__(
        self, audio_path: str | os.PathLike[str], grains: GrainTable, *, stamp: Stamp | None = None, content_sha256: str | None = None
    ):
        """``stamp``: the audio file as it was verified (it must not change from then on); ``content_sha256``:
        its verified hash, which names its resampled copies in the cache."""
        self.path = Path(audio_path)
        offset, frames, channels, rate, dtype = _wav_data_layout(self.path)
        scale = np.float32(1.0 / 32768.0) if dtype.kind == "i" else np.float32(1.0)
        self._pcm = _PcmFile(self.path, offset, frames, channels, dtype, scale, expected=stamp)
        self.sample_rate, self.channels, self.frames = rate, channels, frames
        self._content = content_sha256
        if len(grains) and grains.end.max() > frames:
            raise BundleError("grain table points past the end of the memory audio", self.path)
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
        rate in chunks (bit-identical to one pass) into the cache, so an hour costs disk, not RAM. A
        cache file carries the sha256 of its content in its name and is used only if it still has it."""
        if sample_rate not in self._resampled:
            frames = output_length(self.frames, self.sample_rate, sample_rate)
            key = self._resampled_key(sample_rate)
            try:
                folder = cache_folder("memory")
                folder.mkdir(parents=True, exist_ok=True)
                sweep_stale(folder)  # .part.f32 files of a run that was killed while writing one
                cached = self._cached(folder, key, sample_rate, frames)
                if cached is None:
                    self._write_cache(folder, key, sample_rate, frames)
                    cached = self._cached(folder, key, sample_rate, frames)
                if cached is None:
                    raise OSError("the resampled memory did not verify in the cache")
                self._resampled[sample_rate] = cached
            except OSError:  # no writable cache: hold it in RAM instead
                self._resampled[sample_rate] = _InRam(np.concatenate(list(self._resampled_chunks(sample_rate, frames)), axis=1).T)
        return self._resampled[sample_rate]

    def _write_cache(self, folder: Path, key: str, sample_rate: int, frames: int) -> None:
        """Resample into a temporary file named with our process id (removed on any failure or stop,
        swept if we are killed), then rename it to the name that carries its content's sha256."""
        try:
            tmp = make_temp(folder / f"{key}.{sample_rate}.f32")
        except CountertrackError as exc:
            raise OSError(exc.problem) from exc
        try:
            digest = hashlib.sha256()
            with open(tmp, "wb") as sink:
                for chunk in self._resampled_chunks(sample_rate, frames):
                    block = np.ascontiguousarray(chunk.T).tobytes()
                    digest.update(block)
                    sink.write(block)
            os.replace(tmp, folder / f"{key}-{digest.hexdigest()[:32]}.{sample_rate}.f32")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _cached(self, folder: Path, key: str, sample_rate: int, frames: int) -> _PcmFile | None:
        """The verified cache file of this memory at ``sample_rate``, opened; a damaged one is removed."""
        for path in sorted(folder.glob(f"{key}-*.{sample_rate}.f32")):
            expected = path.name[len(key) + 1 :].split(".")[0]
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                good = os.fstat(fd).st_size == frames * self.channels * 4 and sha256_of_fd(fd)[:32] == expected
            except OSError:
                good = False
            if good:
                return _PcmFile(path, 0, frames, self.channels, np.dtype("<f4"), np.float32(1.0), fd=fd)
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()  # ours, damaged (cut short, or changed without changing size): rebuilt
        return None

    def _resampled_key(self, sample_rate: int) -> str:
        """What names this memory's resampled copies: its verified content hash (else its path, size and
        modification time), the resampling version and the rate."""
        if self._content:
            source = self._content
        else:
            stat = self.path.stat()
            source = f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return hashlib.sha256(f"{RESAMPLED_VERSION}|{source}|{sample_rate}".encode()).hexdigest()[:32]

    def _resampled_chunks(self, sample_rate: int, frames: int) -> Iterator[np.ndarray]:
        """(channels, n) pieces of what ``plugin_core.io.audio.resample`` gives for the whole memory
        (``frames`` in all), without holding it: each output sample depends on the input alone."""
        yield from resampled_chunks(self.read, self.frames, self.sample_rate, sample_rate, self.channels, RESAMPLE_CHUNK)

    def to_rate(self, position: int, sample_rate: int) -> int:
        """A memory position (samples at the memory's rate) at another rate."""
        return int(round(position * sample_rate / self.sample_rate))


def load_memory(
    folder: str | os.PathLike[str],
    *,
    audio: str = "memory.wav",
    grains: str = "grains.json",
    stamp: Stamp | None = None,
    content_sha256: str | None = None,
) -> Memory:
    """The memory in ``folder``: its audio and grain table (names inside the folder), see ``Memory``."""
    folder = Path(folder)
    table_path = folder / grains
    table = GrainTable.from_json(
        read_json(table_path, "unreadable grain table", max_bytes=MAX_GRAIN_TABLE_BYTES, error=BundleError), table_path
    )
    return Memory(folder / audio, table, stamp=stamp, content_sha256=content_sha256)

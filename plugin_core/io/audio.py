"""Audio input and output for the whole project: read, validate, resample, mix down, write atomically.

Arrays are float32 shaped ``(channels, samples)``, as pedalboard uses. Reading goes through
``pedalboard.io.AudioFile`` (WAV, FLAC, AIFF, MP3, OGG); resampling through the portable
windowed sinc of ``plugin_core.io.resampling``; lossless writing through soundfile (exact subtype), lossy through pedalboard.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from pedalboard.io import AudioFile

from plugin_core.errors import AudioError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.resampling import resample

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg")
MAX_CHANNELS = 2

# pedalboard's file_dtype -> soundfile subtype that keeps the source's bit depth.
_SUBTYPE_OF_DTYPE = {"int8": "PCM_S8", "int16": "PCM_16", "int24": "PCM_24", "int32": "PCM_32", "float32": "FLOAT"}
_LOSSLESS_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
_SAME_DEPTH = {"PCM_S8": "PCM_U8", "PCM_U8": "PCM_S8", "DOUBLE": "FLOAT"}
_MP3_PADDING = 3 * 1152
_MP3_RATES = "MP3 holds 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 Hz; write .wav, .flac or .ogg"


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it."""

    path: str
    sample_rate: int
    num_channels: int
    num_samples: int
    subtype: str  # soundfile subtype that preserves the source's bit depth (PCM_16, PCM_24, FLOAT, ...)

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


@dataclass(frozen=True)
class Audio:
    """Decoded audio: float32 samples shaped (channels, samples) at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    info: AudioInfo  # the source file as it is on disk (rate and depth before any conversion)

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])


def probe_audio(path: str | os.PathLike[str], *, max_channels: int = MAX_CHANNELS) -> AudioInfo:
    """Read a file's header; raise AudioError if it is missing, not audio, empty or too wide."""
    path = Path(path)
    if not path.exists():
        raise AudioError("file not found", path)
    if path.is_dir():
        raise AudioError("is a directory, expected an audio file", path)
    try:
        with AudioFile(str(path)) as f:
            info = AudioInfo(
                path=str(path),
                sample_rate=int(round(f.samplerate)),
                num_channels=int(f.num_channels),
                num_samples=int(f.frames),
                subtype=_SUBTYPE_OF_DTYPE.get(f.file_dtype, "FLOAT"),
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise AudioError(f"not a readable audio file ({_short(exc)})", path) from exc
    _check_shape(info, max_channels)
    _check_not_truncated(info)
    return info


def read_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    mono: bool = False,
    max_channels: int = MAX_CHANNELS,
) -> Audio:
    """Decode ``path`` to float32 (channels, samples), optionally resampled and mixed down to mono.

    Raises CountertrackError naming the file when it is missing, not audio or corrupt, holds zero
    samples, holds NaN or Inf samples, or has more than ``max_channels`` channels.
    """
    info = probe_audio(path, max_channels=max_channels)
    try:
        with AudioFile(str(path)) as f:
            samples = f.read(f.frames)
    except (ValueError, RuntimeError, OSError) as exc:
        raise AudioError(f"corrupt audio data ({_short(exc)})", path) from exc
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.shape[1] == 0:
        raise AudioError("holds zero samples of audio", path)
    check_finite(samples, path)
    if mono:
        samples = to_mono(samples)
    rate = info.sample_rate
    if sample_rate is not None and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return Audio(samples=samples, sample_rate=rate, info=info)


def check_finite(samples: np.ndarray, path: str | os.PathLike[str] | None = None) -> None:
    """Raise CountertrackError if any sample is NaN or Inf (naming the first one, in seconds-free samples)."""
    finite = np.isfinite(samples)
    if not finite.all():
        first = int(np.argwhere(~finite.all(axis=0))[0, 0])
        raise AudioError(f"contains NaN or Inf samples (first at sample {first})", path)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of (channels, samples) into (1, samples)."""
    return samples.mean(axis=0, keepdims=True, dtype=np.float32)


def write_reproducible_float_wav(path: str | os.PathLike[str], samples: np.ndarray | Iterable[np.ndarray], sample_rate: int) -> None:
    """(channels, n) float32 as a plain RIFF WAVE file, format 3, atomically: the same bytes for the same
    samples (libsndfile adds a PEAK chunk with the time of writing), for files a manifest hashes and a
    session's audio. ``samples`` may also come as consecutive (channels, k) pieces, each written as it
    comes, so a long file need not be held whole; the file is the one the joined pieces would give."""
    # a whole array is refused before anything is written; pieces as they come (the file is then removed)
    pieces = [_float_frames(samples, sample_rate, path)] if isinstance(samples, np.ndarray) else samples
    channels, size = 0, 0
    with atomic_path(path) as tmp, tmp.open("wb") as sink:
        sink.write(_float_wav_header(1, sample_rate, 0))  # its sizes are known at the end
        for piece in pieces:
            frames = _float_frames(piece, sample_rate, path)
            if channels and frames.shape[0] != channels:
                raise AudioError(f"cannot write pieces of {channels} and {frames.shape[0]} channels as one float WAV", path)
            channels = frames.shape[0]
            data = np.ascontiguousarray(frames.T).tobytes()
            size += len(data)
            if size > 0xFFFFFFFF - 36:
                raise AudioError("is too long for a WAV file (over 4 GB of samples)", path)
            sink.write(data)
        if not channels:
            raise AudioError("cannot write a float WAV without samples", path)
        sink.seek(0)
        sink.write(_float_wav_header(channels, sample_rate, size))


def _float_frames(samples: np.ndarray, sample_rate: int, path: str | os.PathLike[str]) -> np.ndarray:
    """``samples`` as little-endian float32 (channels, n), or one line saying why a float WAV cannot hold them."""
    frames = np.asarray(samples, dtype="<f4")
    if frames.ndim != 2 or not 1 <= frames.shape[0] <= MAX_CHANNELS or sample_rate <= 0 or not np.isfinite(frames).all():
        raise AudioError(f"cannot write {frames.shape} samples at {sample_rate} Hz as a float WAV", path)
    return frames


def _float_wav_header(channels: int, sample_rate: int, size: int) -> bytes:
    """The 44 bytes before ``size`` bytes of float32 frames: RIFF, WAVE, a 16-byte fmt chunk, data."""
    fmt = struct.pack("<HHIIHH", 3, channels, sample_rate, sample_rate * channels * 4, channels * 4, 32)
    return (
        b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size)
    )


def write_audio(
    path: str | os.PathLike[str],
    samples: np.ndarray,
    sample_rate: int,
    *,
    subtype: str = "PCM_24",
    overwrite: bool = True,
) -> None:
    """Write float (channels, samples) to ``path`` atomically; the format follows the extension.

    ``subtype`` is a soundfile subtype (PCM_16, PCM_24, PCM_32, FLOAT); pass ``AudioInfo.subtype`` of
    the input to keep its bit depth (``output_subtype`` picks the nearest one the format holds).
    Integer formats are clipped to [-1, 1] rather than wrapped. What was written is read back and
    checked before it replaces anything.
    """
    path = Path(path)
    samples = _checked_samples(samples, path)
    check_output_format(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        probe_writer(tmp, path, sample_rate, samples.shape[0])
        write_audio_file(tmp, samples, sample_rate, output_subtype(path, subtype), name=path)


def check_output_format(path: Path) -> None:
    """One line if ``path``'s extension is not a format we write."""
    extension = path.suffix.lower()
    if extension not in AUDIO_EXTENSIONS:
        raise AudioError(f"unsupported output format {extension or '(none)'}; use one of {', '.join(AUDIO_EXTENSIONS)}", path)


def output_subtype(path: Path, subtype: str) -> str:
    """The soundfile subtype to write ``path`` with: ``subtype`` if its format holds it, else the same
    depth in another encoding (8-bit WAV is unsigned, 8-bit FLAC signed), else 24-bit PCM."""
    fmt = _LOSSLESS_FORMATS.get(path.suffix.lower())
    if fmt is None:
        return subtype  # lossy writers choose their own encoding
    for candidate in (subtype, _SAME_DEPTH.get(subtype, subtype), "PCM_24"):
        if soundfile.check_format(fmt, candidate):
            return candidate
    return "PCM_16"


def probe_writer(tmp: Path, name: Path, sample_rate: int, channels: int) -> None:
    """Fail now, before any work, if ``name``'s format cannot hold ``sample_rate`` x ``channels``
    (MP3 holds only the MPEG rates): open its writer on the temporary file ``tmp`` and close it."""
    check_output_format(name)
    if name.suffix.lower() in _LOSSLESS_FORMATS:
        if name.suffix.lower() == ".flac" and channels > 8:
            raise AudioError(f"FLAC cannot hold {channels} channels", name)
        return
    try:
        with AudioFile(str(tmp), "w", float(sample_rate), int(channels)):
            pass
    except (ValueError, RuntimeError, OSError) as exc:
        reason = _MP3_RATES if name.suffix.lower() == ".mp3" and "sample rate" in str(exc) else _short(exc)
        raise AudioError(f"cannot write {name.suffix[1:].upper()} at {sample_rate} Hz, {channels} channel(s) ({reason})", name) from exc


def write_audio_file(tmp: Path, samples: np.ndarray, sample_rate: int, subtype: str, *, name: Path) -> None:
    """Write ``samples`` into the temporary file ``tmp`` in ``name``'s format, then read it back: a write
    cut short (a full disk) is one line naming ``name``, never a shorter file."""
    samples = _checked_samples(samples, name)
    extension = name.suffix.lower()
    try:
        if extension in _LOSSLESS_FORMATS:
            data = samples if subtype in ("FLOAT", "DOUBLE") else np.clip(samples, -1.0, 1.0)
            soundfile.write(str(tmp), data.T, int(sample_rate), subtype=subtype, format=_LOSSLESS_FORMATS[extension])
        else:
            with AudioFile(str(tmp), "w", float(sample_rate), int(samples.shape[0])) as f:
                f.write(np.clip(samples, -1.0, 1.0))
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        raise AudioError(f"cannot write audio ({_write_problem(exc, tmp)})", name) from exc
    _verify_written(tmp, samples.shape, sample_rate, name)


def _checked_samples(samples: np.ndarray, name: Path) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[0] > 8:
        raise AudioError(f"cannot write audio shaped {samples.shape}; expected (channels, samples)", name)
    check_finite(samples, name)
    return samples


def _verify_written(tmp: Path, shape: tuple[int, ...], sample_rate: int, name: Path) -> None:
    """Read the header back: channels, rate and frames must be what was written (MP3 adds up to
    ``_MP3_PADDING`` frames of encoder delay and padding)."""
    channels, frames = shape
    try:
        if name.suffix.lower() in _LOSSLESS_FORMATS:
            info = soundfile.info(str(tmp))
            found = (info.channels, info.samplerate, info.frames)
        else:
            with AudioFile(str(tmp)) as f:
                found = (f.num_channels, int(round(f.samplerate)), f.frames)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        raise AudioError(f"what was written does not read back ({_write_problem(exc, tmp)})", name) from exc
    slack = _MP3_PADDING if name.suffix.lower() == ".mp3" else 0
    if found[2] < frames:
        raise AudioError(
            f"was cut short: {found[2]} of {frames} samples written ({_disk_problem(tmp) or 'the writer stopped early'})", name
        )
    if found[:2] != (channels, int(sample_rate)) or found[2] > frames + slack:
        raise AudioError(
            f"reads back as {found[2]} samples, {found[0]} channel(s) at {found[1]} Hz instead of {frames}, {channels} at {sample_rate} Hz",
            name,
        )


def _disk_problem(tmp: Path) -> str:
    """'no space left on the device' when the folder of ``tmp`` has (almost) none, else ''."""
    try:
        return "no space left on the device" if shutil.disk_usage(tmp.parent).free < 1 << 20 else ""
    except OSError:
        return ""


def _write_problem(exc: BaseException, tmp: Path) -> str:
    """Why a write failed, in a few words; libsndfile often says nothing, so look at the disk."""
    if _disk_problem(tmp):
        return _disk_problem(tmp)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _short(exc) or f"{type(exc).__name__}: the system refused the write"


def list_audio_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Audio files directly inside ``folder`` (by extension), sorted by name for reproducibility."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def _check_shape(info: AudioInfo, max_channels: int) -> None:
    if info.num_samples <= 0:
        raise AudioError("holds zero samples of audio", info.path)
    if not 1 <= info.num_channels <= max_channels:
        raise AudioError(f"has {info.num_channels} channels; countertrack reads 1 to {max_channels} (mix it down first)", info.path)
    if info.sample_rate < 8000 or info.sample_rate > 384000:
        raise AudioError(f"unsupported sample rate {info.sample_rate} Hz", info.path)


def _check_not_truncated(info: AudioInfo) -> None:
    """A PCM file cut short keeps a header promising more frames than it holds; pedalboard would pad
    the missing part with silence, so compare with what libsndfile finds in the data itself."""
    if Path(info.path).suffix.lower() not in _LOSSLESS_FORMATS:
        return
    try:
        present = soundfile.info(info.path).frames
    except (soundfile.LibsndfileError, RuntimeError):
        return
    if 0 <= present < info.num_samples:
        raise AudioError(f"truncated: the header promises {info.num_samples} samples, the file holds {present}", info.path)


def _short(exc: BaseException) -> str:
    """One line of an exception's message, without the path pedalboard repeats."""
    text = " ".join(str(exc).split())
    return text.replace("Failed to open audio file: ", "")[:200]

"""Audio input and output for the whole project: read, validate, resample, mix down, write atomically.

Arrays are float32 shaped ``(channels, samples)``, as pedalboard uses. Reading goes through
``pedalboard.io.AudioFile`` (WAV, FLAC, AIFF, MP3, OGG); resampling through pedalboard's
``StreamResampler``; lossless writing through soundfile (exact subtype), lossy through pedalboard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from pedalboard.io import AudioFile, StreamResampler

from plugin_core.atomic import atomic_path
from plugin_core.errors import CountertrackError

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg")
MAX_CHANNELS = 2

# pedalboard's file_dtype -> soundfile subtype that keeps the source's bit depth.
_SUBTYPE_OF_DTYPE = {"int8": "PCM_S8", "int16": "PCM_16", "int24": "PCM_24", "int32": "PCM_32", "float32": "FLOAT"}
_LOSSLESS_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
_FLAC_SUBTYPES = {"PCM_S8", "PCM_16", "PCM_24"}


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
    """Read a file's header; raise CountertrackError if it is missing, not audio, empty or too wide."""
    path = Path(path)
    if not path.exists():
        raise CountertrackError("file not found", path)
    if path.is_dir():
        raise CountertrackError("is a directory, expected an audio file", path)
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
        raise CountertrackError(f"not a readable audio file ({_short(exc)})", path) from exc
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
        raise CountertrackError(f"corrupt audio data ({_short(exc)})", path) from exc
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.shape[1] == 0:
        raise CountertrackError("holds zero samples of audio", path)
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
        raise CountertrackError(f"contains NaN or Inf samples (first at sample {first})", path)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of (channels, samples) into (1, samples)."""
    return samples.mean(axis=0, keepdims=True, dtype=np.float32)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample (channels, samples) with pedalboard's windowed-sinc resampler, latency compensated.

    The result has ``round(samples * to_hz / from_hz)`` samples and stays time-aligned with the input.
    """
    if from_hz == to_hz:
        return samples
    resampler = StreamResampler(float(from_hz), float(to_hz), int(samples.shape[0]))
    body = resampler.process(np.ascontiguousarray(samples, dtype=np.float32))
    tail = resampler.process(None)
    out = np.concatenate([body, tail], axis=1)
    expected = int(round(samples.shape[1] * to_hz / from_hz))
    if out.shape[1] < expected:
        out = np.pad(out, ((0, 0), (0, expected - out.shape[1])))
    return np.ascontiguousarray(out[:, :expected], dtype=np.float32)


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
    the input to keep its bit depth. Integer formats are clipped to [-1, 1] rather than wrapped.
    """
    path = Path(path)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[0] > 8:
        raise CountertrackError(f"cannot write audio shaped {samples.shape}; expected (channels, samples)", path)
    check_finite(samples, path)
    extension = path.suffix.lower()
    if extension not in AUDIO_EXTENSIONS:
        raise CountertrackError(f"unsupported output format {extension or '(none)'}; use one of {', '.join(AUDIO_EXTENSIONS)}", path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if extension in _LOSSLESS_FORMATS:
            fmt = _LOSSLESS_FORMATS[extension]
            if fmt == "FLAC" and subtype not in _FLAC_SUBTYPES:
                subtype = "PCM_24"
            data = samples if subtype == "FLOAT" else np.clip(samples, -1.0, 1.0)
            try:
                soundfile.write(str(tmp), data.T, int(sample_rate), subtype=subtype, format=fmt)
            except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
                raise CountertrackError(f"cannot write audio ({_short(exc)})", path) from exc
        else:
            with AudioFile(str(tmp), "w", float(sample_rate), int(samples.shape[0])) as f:
                f.write(np.clip(samples, -1.0, 1.0))


def list_audio_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Audio files directly inside ``folder`` (by extension), sorted by name for reproducibility."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def _check_shape(info: AudioInfo, max_channels: int) -> None:
    if info.num_samples <= 0:
        raise CountertrackError("holds zero samples of audio", info.path)
    if not 1 <= info.num_channels <= max_channels:
        raise CountertrackError(
            f"has {info.num_channels} channels; countertrack reads 1 to {max_channels} (mix it down first)", info.path
        )
    if info.sample_rate < 8000 or info.sample_rate > 384000:
        raise CountertrackError(f"unsupported sample rate {info.sample_rate} Hz", info.path)


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
        raise CountertrackError(f"truncated: the header promises {info.num_samples} samples, the file holds {present}", info.path)


def _short(exc: BaseException) -> str:
    """One line of an exception's message, without the path pedalboard repeats."""
    text = " ".join(str(exc).split())
    return text.replace("Failed to open audio file: ", "")[:200]

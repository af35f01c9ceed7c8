"""Build a memory from B recordings: cut each on its own grid (its own beats for a beat-segmented
bundle: from its MIDI tempo map when it has one, else estimated from its audio), label the grains
with the bundle's perception and response codebook, describe each (loudness, pitch, onsets), and
write memory.wav + grains.json."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.engine.memory import GrainTable
from plugin_core.errors import ConfigurationError
from plugin_core.io.atomic import write_json_atomic
from plugin_core.io.audio import Audio, read_audio, to_mono, write_audio
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.descriptors import describe_segments
from plugin_core.perception.dsp import rms_db
from plugin_core.perception.labeller import PerceptionSession, encoder_input
from plugin_core.perception.segmentation import SegmentationConfig, make_grid


@dataclass(frozen=True)
class MemorySource:
    """A B recording for the memory, and the MIDI file whose tempo map gives its beats (if any)."""

    path: Path
    tempo_map: Path | None = None


@dataclass(frozen=True)
class MemoryTrack:
    """One recording placed in the memory file."""

    name: str
    start: int  # samples in memory.wav
    end: int


def build_memory(
    sources: Iterable[MemorySource | str | os.PathLike[str]],
    perception: PerceptionSession,
    response_codebook: Codebook,
    out_dir: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    limit_s: float | None = None,
    subtype: str = "PCM_16",
) -> tuple[GrainTable, list[MemoryTrack], int, int]:
    """Label ``paths`` and write the memory into ``out_dir``. Tracks are kept at one rate (the first
    track's, unless given) and mono unless all are stereo; ``limit_s`` caps the total duration.
    Returns the grain table, the tracks, the rate and the channel count."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    memory_sources = [s if isinstance(s, MemorySource) else MemorySource(Path(s)) for s in sources]
    paths = [s.path for s in memory_sources]
    if not paths:
        raise ConfigurationError("no memory recordings given")
    audios: list[Audio] = []
    total = 0
    for path in paths:
        audio = read_audio(path)
        rate = sample_rate or (audios[0].sample_rate if audios else audio.sample_rate)
        if audio.sample_rate != rate:
            audio = read_audio(path, sample_rate=rate)
        audios.append(audio)
        total += audio.num_samples
        if limit_s is not None and total >= limit_s * rate:
            break
    rate = audios[0].sample_rate
    channels = 2 if all(a.num_channels == 2 for a in audios) else 1
    columns: dict[str, list] = {k: [] for k in ("track", "start", "end", "label", "loudness_db", "pitch_classes", "onsets", "pitch_midi")}
    tracks, pieces, offset = [], [], 0
    budget = None if limit_s is None else int(limit_s * rate)
    for index, (source, audio) in enumerate(zip(memory_sources, audios)):
        path = source.path
        samples = audio.samples if channels == 2 else to_mono(audio.samples)
        if budget is not None:
            samples = samples[:, : max(0, budget - offset)]
        if samples.shape[1] == 0:
            break
        mono = to_mono(samples)
        boundaries = make_grid(samples.shape[1], rate, own_grid(perception.spec.segmentation, source), mono)
        clipped = type(audio)(samples=samples, sample_rate=rate, info=audio.info)
        at_rate, spans = encoder_input(clipped, boundaries, perception.spec)
        _, embeddings = perception.label_spans(at_rate, spans)
        labels = response_codebook.assign(embeddings)
        descriptors = describe_segments(mono[0], rate, boundaries)
        for (start, stop), label, descriptor in zip(zip(boundaries[:-1], boundaries[1:]), labels, descriptors):
            columns["track"].append(index)
            columns["start"].append(offset + int(start))
            columns["end"].append(offset + int(stop))
            columns["label"].append(int(label))
            columns["loudness_db"].append(round(rms_db(mono[0, start:stop]), 3))
            columns["pitch_classes"].append(descriptor.pitch_classes)
            columns["onsets"].append(descriptor.onsets)
            columns["pitch_midi"].append(descriptor.pitch_midi if np.isfinite(descriptor.pitch_midi) else -1.0)
        tracks.append(MemoryTrack(name=path.name, start=offset, end=offset + samples.shape[1]))
        pieces.append(samples)
        offset += samples.shape[1]
    write_audio(out / "memory.wav", np.concatenate(pieces, axis=1), rate, subtype=subtype)
    table = GrainTable(
        track=np.asarray(columns["track"], np.int64),
        start=np.asarray(columns["start"], np.int64),
        end=np.asarray(columns["end"], np.int64),
        label=np.asarray(columns["label"], np.int64),
        loudness_db=np.asarray(columns["loudness_db"], np.float32),
        pitch_classes=np.stack(columns["pitch_classes"]).astype(np.float32),
        onsets=np.stack(columns["onsets"]).astype(np.float32),
        pitch_midi=np.asarray(columns["pitch_midi"], np.float32),
    )
    write_json_atomic(out / "grains.json", table.to_json())
    return table, tracks, rate, channels


def own_grid(segmentation: SegmentationConfig, source: MemorySource) -> SegmentationConfig:
    """The grid a memory recording is cut on: beats from its own tempo map when it has one (a
    recording's beats are its own, not A's), else the bundle's segmentation as it stands (for beats
    without a BPM: estimated from the recording)."""
    if segmentation.strategy != "beats":
        return segmentation
    if source.tempo_map is not None:
        return SegmentationConfig.from_dict({**segmentation.to_dict(), "tempo_map": str(source.tempo_map), "bpm": None})
    return SegmentationConfig.from_dict({**segmentation.to_dict(), "tempo_map": None})

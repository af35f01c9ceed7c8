"""Build a memory from B recordings: segment, label with the bundle's perception and response
codebook, describe each grain (loudness, chroma), and write memory.wav + grains.json."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.atomic import write_json_atomic
from plugin_core.audio import read_audio, to_mono, write_audio
from plugin_core.codebook import Codebook
from plugin_core.dsp import chroma_vector, rms_db
from plugin_core.errors import CountertrackError
from plugin_core.memory import GrainTable
from plugin_core.perception import PerceptionSession, encoder_input
from plugin_core.segmentation import make_grid


@dataclass(frozen=True)
class MemoryTrack:
    """One recording placed in the memory file."""

    name: str
    start: int  # samples in memory.wav
    end: int


def build_memory(
    paths: Iterable[str | os.PathLike[str]],
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
    paths = [Path(p) for p in paths]
    if not paths:
        raise CountertrackError("no memory recordings given")
    audios = []
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
    columns: dict[str, list] = {k: [] for k in ("track", "start", "end", "label", "loudness_db", "chroma")}
    tracks, pieces, offset = [], [], 0
    budget = None if limit_s is None else int(limit_s * rate)
    for index, (path, audio) in enumerate(zip(paths, audios)):
        samples = audio.samples if channels == 2 else to_mono(audio.samples)
        if budget is not None:
            samples = samples[:, : max(0, budget - offset)]
        if samples.shape[1] == 0:
            break
        mono = to_mono(samples)
        boundaries = make_grid(samples.shape[1], rate, perception.spec.segmentation, mono)
        clipped = type(audio)(samples=samples, sample_rate=rate, info=audio.info)
        at_rate, spans = encoder_input(clipped, boundaries, perception.spec)
        _, embeddings = perception.label_spans(at_rate, spans)
        labels = response_codebook.assign(embeddings)
        for (start, stop), label in zip(zip(boundaries[:-1], boundaries[1:]), labels):
            columns["track"].append(index)
            columns["start"].append(offset + int(start))
            columns["end"].append(offset + int(stop))
            columns["label"].append(int(label))
            columns["loudness_db"].append(round(rms_db(mono[0, start:stop]), 3))
            columns["chroma"].append(chroma_vector(mono[0, start:stop], rate))
        tracks.append(MemoryTrack(name=path.name, start=offset, end=offset + samples.shape[1]))
        pieces.append(samples)
        offset += samples.shape[1]
    write_audio(out / "memory.wav", np.concatenate(pieces, axis=1), rate, subtype=subtype)
    table = GrainTable(track=np.asarray(columns["track"], np.int64), start=np.asarray(columns["start"], np.int64),
                       end=np.asarray(columns["end"], np.int64), label=np.asarray(columns["label"], np.int64),
                       loudness_db=np.asarray(columns["loudness_db"], np.float32), chroma=np.stack(columns["chroma"]).astype(np.float32))
    write_json_atomic(out / "grains.json", table.to_json())
    return table, tracks, rate, channels

"""Offline rendering: a DAW bounce of A in, B out with A's length, rate, channel layout and bit
depth, sample-aligned with A (the effect's latency removed). It runs the same SidechainEffect a
stream would (inside the preset's chain), fed the whole file, so offline and streaming renders
are the same samples."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_core.audio import Audio, read_audio, write_audio
from plugin_core.bundle import Bundle
from plugin_core.errors import CountertrackError
from plugin_core.segmentation import SegmentationConfig, make_grid
from plugin_core.chain import Chain
from plugin_core.sidechain import Decision
from plugin_core.presets import Preset

BLOCK = 1 << 16


@dataclass(frozen=True)
class Rendered:
    """A rendered B aligned with A, and what was decided for each segment."""

    samples: np.ndarray  # (channels, A's samples)
    sample_rate: int
    decisions: list[Decision]
    boundaries: np.ndarray


def render_audio(bundle: Bundle, a: Audio, *, seed: int = 0, preset: Preset | None = None,
                 segmentation: SegmentationConfig | None = None, automation: list[tuple[int, dict, dict]] = (),
                 boundaries: np.ndarray | None = None, forced_tokens: np.ndarray | None = None) -> Rendered:
    """B for the whole of ``a``: grid from the bundle's segmentation (or ``segmentation``, or the
    given ``boundaries``), then the chain (preset effects around the sidechain effect) fed block by
    block and flushed; latency removed. ``forced_tokens`` replace the decisions (the oracle)."""
    if boundaries is None:
        config = segmentation or bundle.perception.spec.segmentation
        boundaries = make_grid(a.num_samples, a.sample_rate, config, a.samples.mean(axis=0, keepdims=True))
    chain = Chain(bundle, a.sample_rate, a.num_channels, preset=preset, seed=seed, boundaries=boundaries, forced_tokens=forced_tokens)
    for position, sampling, engine in automation:
        chain.effect.schedule(position, sampling, engine)
    pieces = [chain.process(a.samples[:, start : start + BLOCK]) for start in range(0, a.num_samples, BLOCK)]
    pieces.append(chain.flush())
    out = np.concatenate(pieces, axis=1)[:, chain.latency_samples : chain.latency_samples + a.num_samples]
    return Rendered(samples=out, sample_rate=a.sample_rate, decisions=chain.effect.decisions, boundaries=boundaries)


def render_file(bundle: Bundle, a_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, seed: int = 0,
                preset: Preset | None = None, segmentation: SegmentationConfig | None = None,
                mix_path: str | os.PathLike[str] | None = None, force: bool = False,
                automation: list[tuple[int, dict, dict]] = ()) -> Rendered:
    """Render B for the file ``a_path`` into ``out_path`` (and A + B into ``mix_path``), atomically.

    Existing outputs are refused unless ``force``; nothing is written when anything fails.
    """
    out_path = Path(out_path)
    targets = [p for p in (out_path, Path(mix_path) if mix_path else None) if p is not None]
    if Path(a_path).resolve() in {p.resolve() for p in targets}:
        raise CountertrackError("output would overwrite the input", out_path)
    if not force:
        for target in targets:
            if target.exists():
                raise CountertrackError("already exists (use --force to overwrite)", target)
    a = read_audio(a_path)
    rendered = render_audio(bundle, a, seed=seed, preset=preset, segmentation=segmentation, automation=automation)
    subtype = a.info.subtype if out_path.suffix.lower() in (".wav", ".aif", ".aiff", ".flac") else "PCM_24"
    write_audio(out_path, rendered.samples, a.sample_rate, subtype=subtype)
    if mix_path:
        mix = a.samples + rendered.samples
        peak = float(np.abs(mix).max())
        write_audio(mix_path, mix / peak if peak > 1.0 else mix, a.sample_rate, subtype=subtype)
    return rendered

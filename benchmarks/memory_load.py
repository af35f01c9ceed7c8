"""A 1-hour memory: time to load it, resident-memory growth, and the peak memory of rendering with
it, against its PCM size.

The memory is read by position, so loading should cost the grain table, not the audio, and a render
should touch only the grains it plays. Run: python -m benchmarks.memory_load
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.report import print_targets
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.engine.memory import GrainTable, load_memory
from plugin_core.io.atomic import write_json_atomic
from plugin_core.io.audio import Audio
from plugin_core.io.cache import cache_at
from plugin_core.perception.descriptors import RHYTHM_BINS
from plugin_core.render.offline import render_audio


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def build_memory(folder: Path, seconds: float, rate: int = 44100, grain_s: float = 0.5, vocab: int = 16) -> int:
    """An hour of 16-bit mono noise-like audio with a 0.5 s grain table (labels below ``vocab``);
    returns the PCM bytes."""
    frames = int(seconds * rate)
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(folder / "memory.wav", "w", rate, 1, subtype="PCM_16") as handle:
        for start in range(0, frames, rate * 60):
            handle.write((0.1 * rng.standard_normal(min(rate * 60, frames - start))).astype(np.float32))
    grain = int(grain_s * rate)
    starts = np.arange(0, frames - grain + 1, grain)
    table = GrainTable(
        track=np.zeros(starts.size, np.int64),
        start=starts,
        end=starts + grain,
        label=rng.integers(0, vocab, starts.size),
        loudness_db=np.full(starts.size, -20.0, np.float32),
        pitch_classes=np.full((starts.size, 12), 1 / 12, np.float32),
        onsets=np.zeros((starts.size, RHYTHM_BINS), np.float32),
        pitch_midi=np.full(starts.size, -1.0, np.float32),
    )
    write_json_atomic(folder / "grains.json", table.to_json())
    return frames * 2


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def render_peak_growth(memory_folder: str, rate: int, seconds: float = 180.0) -> int:
    """In a fresh process: render ``seconds`` of stereo A at ``rate`` with the shipped bundle, then
    again with its memory swapped for ``memory_folder``; the second render's peak RSS above the first
    is what the large memory costs (the A, B and render buffers are the same in both). At a rate
    other than the memory's, this includes resampling the whole memory into the cache (first use)."""
    from benchmarks.render_speed import melody

    bundle = load_bundle(default_bundle_path())
    a = Audio(samples=melody(seconds, rate), sample_rate=rate, info=None)
    render_audio(bundle, a)
    shipped = peak_rss_bytes()
    render_audio(dataclasses.replace(bundle, memory=load_memory(memory_folder)), a)
    return peak_rss_bytes() - shipped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="length of the memory")
    parser.add_argument("--render-seconds", type=float, default=180.0, help="length of the A rendered with it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pcm_bytes = build_memory(folder, args.seconds)
        before = rss_bytes()
        started = time.perf_counter()
        memory = load_memory(folder)
        load_s = time.perf_counter() - started
        growth = rss_bytes() - before
        memory.read(memory.frames // 2, memory.frames // 2 + 44100)  # a read touches only its pages
        after_read = rss_bytes() - before
        spawn = multiprocessing.get_context("spawn")
        render_growth = {}
        with cache_at(folder / "cache"):  # the memory resampled to 48 kHz goes there, and away after
            for rate in (44100, 48000):
                with spawn.Pool(1) as pool:  # a fresh process each: peak RSS only grows
                    render_growth[rate] = pool.apply(render_peak_growth, (str(folder), rate, args.render_seconds))
    rows = [
        ("load time (s)", load_s, 2.0, load_s <= 2.0),
        ("RSS growth after load (% of PCM size)", 100 * growth / pcm_bytes, 25.0, growth <= 0.25 * pcm_bytes),
        ("RSS growth after a 1 s read (% of PCM size)", 100 * after_read / pcm_bytes, 25.0, after_read <= 0.25 * pcm_bytes),
    ]
    for rate, extra in render_growth.items():
        rows.append(
            (
                f"peak RSS of a {args.render_seconds / 60:g} min render, A at {rate / 1000:g} kHz, over the shipped memory's (% of PCM size)",
                100 * extra / pcm_bytes,
                25.0,
                extra <= 0.25 * pcm_bytes,
            )
        )
    print(f"memory of {args.seconds / 60:.0f} min, 16-bit mono 44.1 kHz ({pcm_bytes / 1e6:.0f} MB of PCM), {len(memory.grains)} grains")
    print_targets(rows)


if __name__ == "__main__":
    main()

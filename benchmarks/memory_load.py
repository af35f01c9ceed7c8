"""Loading a 1-hour memory: time to load it and resident-memory growth, against its PCM size.

The memory is memory-mapped, so loading should cost the grain table, not the audio.
Run: python -m benchmarks.memory_load
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.report import print_targets
from plugin_core.atomic import write_json_atomic
from plugin_core.memory import GrainTable, load_memory


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def build_memory(folder: Path, seconds: float, rate: int = 44100, grain_s: float = 0.5) -> int:
    """An hour of 16-bit mono noise-like audio with a 0.5 s grain table; returns the PCM bytes."""
    frames = int(seconds * rate)
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(folder / "memory.wav", "w", rate, 1, subtype="PCM_16") as handle:
        for start in range(0, frames, rate * 60):
            handle.write((0.1 * rng.standard_normal(min(rate * 60, frames - start))).astype(np.float32))
    grain = int(grain_s * rate)
    starts = np.arange(0, frames - grain + 1, grain)
    table = GrainTable(track=np.zeros(starts.size, np.int64), start=starts, end=starts + grain, label=rng.integers(0, 64, starts.size),
                       loudness_db=np.full(starts.size, -20.0, np.float32), chroma=np.full((starts.size, 12), 1 / 12, np.float32))
    write_json_atomic(folder / "grains.json", table.to_json())
    return frames * 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0)
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
    rows = [("load time (s)", load_s, 2.0, load_s <= 2.0),
            ("RSS growth after load (% of PCM size)", 100 * growth / pcm_bytes, 25.0, growth <= 0.25 * pcm_bytes),
            ("RSS growth after a 1 s read (% of PCM size)", 100 * after_read / pcm_bytes, 25.0, after_read <= 0.25 * pcm_bytes)]
    print(f"memory of {args.seconds / 60:.0f} min, 16-bit mono 44.1 kHz ({pcm_bytes / 1e6:.0f} MB of PCM), {len(memory.grains)} grains")
    print_targets(rows)


if __name__ == "__main__":
    main()

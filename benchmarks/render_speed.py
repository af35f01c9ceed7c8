"""Offline render speed: a 3-minute 48 kHz stereo A through a bundle, as a real-time factor, and the
streaming per-block cost at 256-sample blocks on the caller's thread, fed in real time (a stream
needs A's tempo: the test melody's 120 qpm). Median of several offline runs; targets printed beside.
For an anticipating bundle (``--lookahead anticipate``) the reported streaming latency is a figure
too, with the play-along target of 50 ms.
Run: python -m benchmarks.render_speed [--bundle presets/default.ctbundle]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.report import print_targets
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.io.audio import Audio
from plugin_core.perception.labeller import encoder_input
from plugin_core.perception.segmentation import with_tempo
from plugin_core.render.offline import render_audio
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain

MELODY_QPM = 120.0  # notes of 0.25 s: eighth notes at this tempo


def melody(seconds: float, rate: int) -> np.ndarray:
    """A stereo test A: a random diatonic melody of decaying harmonic tones (deterministic), eighth
    notes at MELODY_QPM."""
    rng = np.random.default_rng(0)
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    note = int(0.25 * rate)
    t = np.arange(note) / rate
    for start in range(0, out.size - note, note):
        hz = 440.0 * 2 ** (rng.choice([0, 2, 3, 5, 7, 8, 10, 12]) / 12)
        out[start : start + note] += (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(4 * np.pi * hz * t)) * np.exp(-4 * t)
    return np.stack([out, 0.8 * out])


def stream_in_real_time(effect, clip: np.ndarray, rate: int, block: int) -> np.ndarray:
    """Feed ``clip`` to ``effect`` the way a host's audio callback does, one block per block duration
    (sleeping until each block is due), and return each call's cost on this thread in seconds."""
    period = block / rate
    costs = []
    started = time.perf_counter()
    for index, start in enumerate(range(0, clip.shape[1] - block + 1, block)):
        due = started + index * period
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        called = time.perf_counter()
        effect.process(clip[:, start : start + block])
        costs.append(time.perf_counter() - called)
    return np.asarray(costs)


def measure(
    bundle_path: str, repeats: int, offline_target: float = 100.0, stream_seconds: float = 15.0, log=print, seconds: float = 180.0
) -> list[tuple[str, float, float, bool]]:
    """Offline real-time factor for ``seconds`` (3 minutes) of 48 kHz stereo, and the per-block cost
    on the caller's thread of streaming ``stream_seconds`` of it in real time, in 256-sample blocks,
    through ``ThreadedSidechain`` (perception and decision on a worker thread, the bundle on one
    onnxruntime thread so the caller keeps a core); as (figure, measured, target, met) rows."""
    bundle = load_bundle(bundle_path)
    rate = 48000
    a = Audio(samples=melody(seconds, rate), sample_rate=rate, info=None)
    render_audio(bundle, Audio(samples=a.samples[:, : rate * 2], sample_rate=rate, info=None))  # warm-up
    times, encoder_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        rendered = render_audio(bundle, a, seed=0)
        times.append(time.perf_counter() - started)
        # the encoder alone on the same segments, in the same run, its fastest way here: every segment
        # at once, side by side (faster than batches of 16 on two threads: 2.9 s against 3.7 s for 60 segments)
        started = time.perf_counter()
        bundle.perception.label_spans(*encoder_input(a, rendered.boundaries, bundle.perception.spec))
        encoder_times.append(time.perf_counter() - started)
    offline = seconds / statistics.median(times)
    encoder_share = statistics.median(encoder_times) / statistics.median(times)  # render speed / encoder speed
    block = 256
    live = load_bundle(bundle_path, threads=1)
    segmentation = with_tempo(live.perception.spec.segmentation, MELODY_QPM, 0.0)
    with ThreadedSidechain(SidechainEffect(live, rate, 2, seed=0, segmentation=segmentation)) as effect:
        costs = stream_in_real_time(effect, a.samples[:, : int(rate * stream_seconds)], rate, block)
        latency_ms = 1000.0 * effect.latency_samples / rate
        log(
            f"streaming latency {effect.latency_samples / rate:.3f} s, of which {effect.extra_latency_samples / rate:.3f} s for the worker thread"
        )
    budget = block / rate
    p50, p99, worst = (float(np.percentile(costs, q)) / budget for q in (50, 99, 100))
    rows = [
        ("offline render, 3 min 48 kHz stereo (x real time)", offline, offline_target, offline >= offline_target),
        ("streaming 256-sample blocks, p50 (share of block)", p50, 0.5, p50 <= 0.5),
        ("streaming 256-sample blocks, p99 (share of block)", p99, 0.5, p99 <= 0.5),
        ("streaming 256-sample blocks, max (share of block)", worst, 1.0, worst <= 1.0),
    ]
    if bundle.perception.spec.encoder.get("backend", "spectral") != "spectral":  # a neural encoder: the render is its speed
        rows.append(("offline render speed / its encoder alone, same run", encoder_share, 0.85, encoder_share >= 0.85))
    if bundle.decision_config.anticipates:
        rows.append(("anticipating: reported latency through the worker thread (ms)", latency_ms, 50.0, latency_ms <= 50.0))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(default_bundle_path()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = measure(args.bundle, args.repeats)
    print(f"render speed, bundle {Path(args.bundle).name}, median of {args.repeats}")
    print_targets(rows)


if __name__ == "__main__":
    main()

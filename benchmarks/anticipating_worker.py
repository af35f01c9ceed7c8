"""The anticipating worker's budget: what a beat's work costs on the worker, cold and warm, and how
often a real-time stream through ``ThreadedSidechain`` waits for it at each extra latency.

At 48 kHz and 256-sample blocks the worker has floor(E / 256) blocks after the block holding A's beat
arrives (docs/bundle-format.md, "Threads"): one block (5.3 ms) at the default E of 480 samples.
Run: python -m benchmarks.anticipating_worker BUNDLE [--seconds 40] [--extra 480 512]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.render_speed import MELODY_QPM, melody, stream_in_real_time
from plugin_core.bundle.load import load_bundle
from plugin_core.perception.segmentation import with_tempo
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain

RATE, BLOCK = 48000, 256


def block_costs_ms(effect: SidechainEffect, a: np.ndarray) -> np.ndarray:
    """Each 256-sample block's cost on this thread, synchronously (what the worker runs), in ms."""
    costs = []
    for start in range(0, a.shape[1] - BLOCK + 1, BLOCK):
        began = time.perf_counter()
        effect.process(a[:, start : start + BLOCK])
        costs.append(time.perf_counter() - began)
    return 1000.0 * np.asarray(costs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="an anticipating bundle")
    parser.add_argument("--seconds", type=float, default=40.0, help="of each real-time stream (default 40)")
    parser.add_argument("--extra", type=int, nargs="+", default=[480, 512], help="extra latencies to stream with (samples)")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.bundle, threads=1)
    segmentation = with_tempo(bundle.perception.spec.segmentation, MELODY_QPM, 0.0)
    a = melody(30.0, RATE)
    make = lambda: SidechainEffect(bundle, RATE, 2, seed=0, segmentation=segmentation)  # noqa: E731
    cold = block_costs_ms(make(), a)  # a fresh bundle: its first beats pay for first-time work
    warm = block_costs_ms(make(), a)
    beat = int(round(60.0 / MELODY_QPM * RATE)) // BLOCK  # the block that completes the first beat
    heavy = warm[warm > 1.0]  # blocks that labelled a beat or looked again
    print(f"bundle {args.bundle}, 48 kHz stereo, {BLOCK}-sample blocks ({1000 * BLOCK / RATE:.2f} ms), beats at {MELODY_QPM:g} qpm")
    print(f"first beat's block: cold {cold[beat]:.2f} ms, warm {warm[beat]:.2f} ms")
    print(
        f"blocks with a beat's work, warm: median {np.median(heavy):.2f} ms, p99.9 {np.percentile(heavy, 99.9):.2f} ms, "
        f"max {heavy.max():.2f} ms; over one block: {int((warm > 1000 * BLOCK / RATE).sum())} of {warm.size}"
    )
    clip = melody(args.seconds, RATE)
    for extra in args.extra:
        with ThreadedSidechain(make(), extra_latency_samples=extra) as threaded:
            shares = stream_in_real_time(threaded, clip, RATE, BLOCK) / (BLOCK / RATE)
            latency_ms = 1000.0 * threaded.latency_samples / RATE
        print(
            f"extra {extra} samples (latency {latency_ms:.1f} ms), {args.seconds:g} s in real time: callback p99 "
            f"{np.percentile(shares, 99):.2f}, max {shares.max():.2f} of a block; blocks that waited for the worker: {int((shares > 1).sum())}"
        )


if __name__ == "__main__":
    main()

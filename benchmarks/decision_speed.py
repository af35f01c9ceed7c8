"""Per-segment decision latency: the ONNX step graph with caches vs PyTorch re-run over the whole
prefix (the paper's greedy loop), at 32, 128 and 512 segments. Median of repeated calls.
Run: python -m benchmarks.decision_speed [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from export.decision_export import export_step_graph
from export.train import TrainConfig
from export.decision_model import DecisionModel
from plugin_core.decision import DecisionState, OnnxStepper, decode_step

LENGTHS = (32, 128, 512)


def _median_ms(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--vocab", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = TrainConfig(corpus="-", vocab=args.vocab).decision()
    torch.manual_seed(0)
    model = DecisionModel(config).eval()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "decision.onnx"
        spec = export_step_graph(model, path)
        stepper = OnnxStepper(path, spec, threads=args.threads)
        for length in LENGTHS:
            a = rng.integers(0, args.vocab, length + config.lookahead + 1)
            state = DecisionState(spec)
            for _ in range(length - 1):  # warm the caches up to the position measured
                decode_step(stepper, state, a, lambda logits: int(np.argmax(logits)))
            frozen = (state.caches, state.previous, state.position)

            def one_step() -> None:
                state.caches, state.previous, state.position = frozen
                decode_step(stepper, state, a, lambda logits: int(np.argmax(logits)))

            a_prefix = torch.from_numpy(np.concatenate([a[:length], np.full(config.lookahead, config.pad)]))[None]
            b_prefix = torch.from_numpy(rng.integers(0, args.vocab, length))[None]

            def full_rerun() -> None:
                with torch.inference_mode():
                    model(a_prefix, b_prefix)[0, -1]

            step_ms = _median_ms(one_step, args.repeats)
            rerun_ms = _median_ms(full_rerun, args.repeats)
            rows.append((length, step_ms, rerun_ms))
    print(f"decision latency per segment, d_model {config.d_model}, {config.layers} layers, context {config.context}, "
          f"vocabulary {args.vocab}, {args.threads} thread(s), median of {args.repeats}")
    print(f"| {'segments':>8} | {'ONNX step + caches (ms)':>24} | {'PyTorch full re-run (ms)':>25} | {'speed-up':>8} |")
    print(f"|{'-' * 10}|{'-' * 26}|{'-' * 27}|{'-' * 10}|")
    for length, step_ms, rerun_ms in rows:
        print(f"| {length:>8} | {step_ms:>24.3f} | {rerun_ms:>25.3f} | {rerun_ms / step_ms:>7.1f}x |")


if __name__ == "__main__":
    main()

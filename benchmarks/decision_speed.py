"""Per-segment decision latency at 32, 128 and 512 segments: one step with caches, in PyTorch eager
and in onnxruntime (the same model), against PyTorch re-running the whole prefix (the paper's
greedy loop). Median of repeated calls; the caching target is checked at 128 segments.
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

from benchmarks.report import print_targets
from export.model.decision_model import DecisionModel
from export.onnx.decision_export import TorchStepper, export_step_graph
from export.train.run import TrainConfig
from plugin_core.decision.session import DecisionState, OnnxStepper, decode_step

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
        torch_stepper = TorchStepper(model)
        for length in LENGTHS:
            a = rng.integers(0, args.vocab, length + config.lookahead + 1)
            state = DecisionState(spec)
            for _ in range(length - 1):  # warm the caches up to the position measured
                decode_step(stepper, state, a, lambda logits: int(np.argmax(logits)))
            frozen = (state.caches, state.previous, state.position)

            def one_step(stepper=stepper) -> None:
                state.caches, state.previous, state.position = frozen
                decode_step(stepper, state, a, lambda logits: int(np.argmax(logits)))

            a_prefix = torch.from_numpy(np.concatenate([a[:length], np.full(config.lookahead, config.pad)]))[None]
            b_prefix = torch.from_numpy(rng.integers(0, args.vocab, length))[None]

            def full_rerun() -> None:
                with torch.inference_mode():
                    model(a_prefix, b_prefix)[0, -1]

            onnx_ms = _median_ms(one_step, args.repeats)
            torch_ms = _median_ms(lambda: one_step(torch_stepper), args.repeats)
            rerun_ms = _median_ms(full_rerun, args.repeats)
            rows.append((length, torch_ms, onnx_ms, rerun_ms))
    print(
        f"decision latency per segment, d_model {config.d_model}, {config.layers} layers, context {config.context}, "
        f"vocabulary {args.vocab}, {args.threads} thread(s), median of {args.repeats}"
    )
    print(
        f"| {'segments':>8} | {'PyTorch step + caches (ms)':>26} | {'ONNX step + caches (ms)':>23} | {'PyTorch full re-run (ms)':>24} "
        f"| {'ONNX vs PyTorch step':>20} | {'ONNX step vs re-run':>19} |"
    )
    print(f"|{'-' * 10}|{'-' * 28}|{'-' * 25}|{'-' * 26}|{'-' * 22}|{'-' * 21}|")
    for length, torch_ms, onnx_ms, rerun_ms in rows:
        print(
            f"| {length:>8} | {torch_ms:>26.3f} | {onnx_ms:>23.3f} | {rerun_ms:>24.3f} | {torch_ms / onnx_ms:>19.1f}x | {rerun_ms / onnx_ms:>18.1f}x |"
        )
    _, torch_ms, onnx_ms, rerun_ms = next(row for row in rows if row[0] == 128)
    print()
    print_targets(
        [
            ("PyTorch: full re-run / step with caches, 128 segments (x)", rerun_ms / torch_ms, 3.0, rerun_ms / torch_ms >= 3.0),
            ("runtime: PyTorch full re-run / ONNX step with caches, 128 segments (x)", rerun_ms / onnx_ms, 3.0, rerun_ms / onnx_ms >= 3.0),
        ]
    )


if __name__ == "__main__":
    main()

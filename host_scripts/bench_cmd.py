"""``countertrack bench``: run the speed benchmarks of benchmarks/ and print their tables."""

from __future__ import annotations

import argparse
import os
import platform
import time


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measure render, streaming, decision, memory, encoder and training speed on this machine",
                                description="Run benchmarks/render_speed, decision_speed, memory_load, encoder_speed, wav2vec2_bundle and "
                                            "train_speed; each prints a table of medians beside their targets (met or MISSED).")
    bench.add_argument("--bundle", help="bundle for the render figures (default: the shipped default bundle)")
    bench.add_argument("--skip-encoders", action="store_true",
                       help="skip the encoder and Wav2Vec2 bundle figures (they build a base-size model: about three minutes)")
    bench.add_argument("--skip-training", action="store_true", help="skip training the default recipe (about four minutes)")
    bench.add_argument("--corpus", help="an already rendered copy of the default recipe's corpus, for the training figure")
    bench.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    import onnxruntime
    import torch

    from benchmarks import decision_speed, encoder_speed, memory_load, render_speed, train_speed, wav2vec2_bundle
    from host_scripts.render_cmd import bundle_path

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    sections = [("render", lambda: render_speed.main(["--bundle", bundle_path(args)])),
                ("decision", lambda: decision_speed.main([])),
                ("memory", lambda: memory_load.main([]))]
    if not args.skip_encoders:
        sections += [("encoders", lambda: encoder_speed.main([])), ("wav2vec2 bundle", lambda: wav2vec2_bundle.main([]))]
    if not args.skip_training:
        sections.append(("training", lambda: train_speed.main(["--corpus", args.corpus] if args.corpus else [])))
    started = time.perf_counter()
    for name, run in sections:
        section_started = time.perf_counter()
        run()
        print(f"({name}: {time.perf_counter() - section_started:.0f} s)\n")
    print(f"bench finished in {time.perf_counter() - started:.0f} s")
    return 0

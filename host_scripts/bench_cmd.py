"""``countertrack bench``: run the speed benchmarks of benchmarks/ and print their tables."""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import platform
import sys
import time


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure render, streaming, decision, memory, encoder and training speed on this machine",
        description="Run benchmarks/render_speed, decision_speed, memory_load, encoder_speed, wav2vec2_bundle, "
        "train_speed, ray_batch and train_distributed, each in a fresh process; each prints a table of "
        "medians beside their targets (met or MISSED).",
    )
    inputs = bench.add_argument_group("inputs")
    inputs.add_argument("--bundle", help="bundle for the render figures (default: the shipped default bundle)")
    skips = bench.add_argument_group("sections to skip")
    skips.add_argument(
        "--skip-encoders",
        action="store_true",
        help="skip the encoder and Wav2Vec2 bundle figures (they build a base-size model: about three minutes)",
    )
    skips.add_argument("--skip-training", action="store_true", help="skip training the default recipe (about five minutes)")
    inputs.add_argument("--corpus", help="an already rendered copy of the default recipe's corpus, for the training figure")
    skips.add_argument(
        "--skip-cluster",
        action="store_true",
        help="skip the Ray batch overhead and the 2-process training figures (a few minutes; Ray needs the cluster extra)",
    )
    bench.set_defaults(run=_bench)


def _run_section(module: str, argv: list[str]) -> None:
    importlib.import_module(f"benchmarks.{module}").main(argv)
    sys.stdout.flush()


def _bench(args: argparse.Namespace) -> int:
    from importlib.metadata import PackageNotFoundError, version

    from host_scripts.extras import import_benchmarks
    from host_scripts.render_cmd import bundle_path

    import_benchmarks()

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"onnxruntime {installed('onnxruntime')}, torch {installed('torch')}",
        flush=True,
    )
    sections = [("render_speed", ["--bundle", bundle_path(args)]), ("decision_speed", []), ("memory_load", [])]
    if not args.skip_encoders:
        sections += [("encoder_speed", []), ("wav2vec2_bundle", [])]
    if not args.skip_training:
        sections.append(("train_speed", ["--corpus", args.corpus] if args.corpus else []))
    if not args.skip_cluster:
        from host_scripts.extras import missing_modules

        if missing_modules(("ray",)):
            print("(ray_batch skipped: the cluster extra is not installed)", flush=True)
        else:
            sections.append(("ray_batch", ["--bundle", bundle_path(args)]))
        if not args.skip_training:
            sections.append(("train_distributed", []))
    spawn = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    failed = []
    for module, argv in sections:
        section_started = time.perf_counter()
        process = spawn.Process(target=_run_section, args=(module, argv))  # a fresh process: no state from the last section
        process.start()
        process.join()
        if process.exitcode:
            failed.append(module)
        print(f"({module}: {time.perf_counter() - section_started:.0f} s)\n", flush=True)
    print(f"bench finished in {time.perf_counter() - started:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0

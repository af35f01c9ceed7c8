"""``countertrack bench``: run the speed benchmarks of benchmarks/ and print their tables."""

from __future__ import annotations

import argparse
import os
import platform


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measure render, decision and encoder speed on this machine",
                                description="Run benchmarks/render_speed, decision_speed, memory_load and encoder_speed; each prints a table of "
                                            "medians with targets where the project has them.")
    bench.add_argument("--bundle", help="bundle for the render figures (default: the shipped default bundle)")
    bench.add_argument("--skip-encoders", action="store_true",
                       help="skip the Wav2Vec2 figures (they build a base-size model and a bundle with it: about three minutes)")
    bench.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    from benchmarks import decision_speed, encoder_speed, memory_load, render_speed, wav2vec2_bundle
    from host_scripts.render_cmd import bundle_path

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    render_speed.main(["--bundle", bundle_path(args)])
    print()
    decision_speed.main([])
    print()
    memory_load.main([])
    if not args.skip_encoders:
        print()
        encoder_speed.main([])
        print()
        wav2vec2_bundle.main([])
    return 0

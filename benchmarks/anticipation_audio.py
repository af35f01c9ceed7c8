"""Does playing along keep the answer musical? An anticipating run's audio report (``eval --audio``'s
measures: B onsets on A's beats, consonance with A) beside a lookahead bundle's on the same songs,
with the target: within 10 % of the lookahead bundle's, on both measures.

RUN is an anticipating run (``countertrack train CORPUS -o RUN --lookahead anticipate``), exported with
its training B as memory as ``eval --audio`` exports it, and rendered with its exported engine
settings, then with the late look off (``late_look_s`` 0), with each ``--harmony`` given (how the
anticipating default was chosen: ``--split validation --harmony 4,8,12,16,24``) and each
``--late-look`` length (seconds). REFERENCE (default:
the shipped bundle) renders the same songs: RUN's test songs, or its validation songs.

Run: python -m benchmarks.anticipation_audio RUN CORPUS [--reference BUNDLE] [--split test|validation]
     [--harmony 8,16] [--late-look 0.05,0.08]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.report import print_targets
from export.evaluation.audio_report import audio_report
from export.onnx.bundle_export import export_bundle
from export.train.run import load_run
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.errors import CountertrackError
from plugin_core.io.corpus import load_corpus

TARGET_SHARE = 0.9  # of the lookahead bundle's on-beat share and consonance


def _cells(summary: dict) -> str:
    """On-beat share and consonance of the model's render and of the oracle's (true B tokens forced)."""
    return " | ".join(
        f"{100 * summary[measure]['mean'][kind]:.1f} %" for kind in ("model", "oracle") for measure in ("on_beat", "consonance")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an anticipating run")
    parser.add_argument("corpus", help="the run's training corpus")
    parser.add_argument("--reference", default=str(default_bundle_path()), help="the lookahead bundle to compare with")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--harmony", default="", help="comma-separated harmony weights to render with as well")
    parser.add_argument("--late-look", default="", help="comma-separated late look lengths (s) to render with as well")
    parser.add_argument("--memory-limit", type=float, default=200.0, help="seconds of training B in the exported memory")
    args = parser.parse_args(argv)
    run = load_run(args.run)
    if not run.model.config.anticipates:
        raise CountertrackError("is not an anticipating run (train it with --lookahead anticipate)", args.run)
    corpus = load_corpus(args.corpus)
    wanted = set(run.split.test if args.split == "test" else run.split.validation)
    songs = [p.id for p in corpus.pairs if p.id in wanted]
    if not songs:
        raise CountertrackError(f"holds none of the run's {args.split} songs", corpus.root)
    reference = audio_report(load_bundle(args.reference), corpus, songs, seed=0)["summary"]
    settings: list[tuple[str, dict]] = [("as exported", {}), ("late look off", {"late_look_s": 0.0})]
    settings += [(f"harmony {h}", {"harmony": float(h)}) for h in args.harmony.split(",") if h]
    settings += [(f"late look {s} s", {"late_look_s": float(s)}) for s in args.late_look.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="countertrack-anticipation-") as tmp:
        bundle = load_bundle(export_bundle(run, Path(tmp) / "anticipating.ctbundle", memory_limit_s=args.memory_limit, log=lambda _: None))
        exported = bundle.engine_defaults
        print(
            f"{len(songs)} {args.split} songs; anticipating bundle: harmony {exported.harmony:g}, late look "
            f"{1000 * exported.late_look_s:g} ms\n\n| render | B onsets on A's beats | consonance | oracle tokens: on beat | oracle: consonance |"
            "\n|---|---:|---:|---:|---:|"
        )
        ref_beat, ref_consonance = reference["on_beat"]["mean"]["model"], reference["consonance"]["mean"]["model"]
        print(f"| reference ({Path(args.reference).name}) | {_cells(reference)} |")
        results = {}
        for name, parameters in settings:
            summary = audio_report(bundle, corpus, songs, seed=0, render_args={"parameters": parameters} if parameters else None)["summary"]
            results[name] = summary
            print(f"| {name} | {_cells(summary)} |")
        true, chance = reference["consonance"]["mean"]["true"], reference["consonance"]["mean"]["chance"]
        print(f"\nconsonance of the true B {100 * true:.1f} %, chance (B shifted in time) {100 * chance:.1f} %\n")
    exported_summary = results["as exported"]
    beat = exported_summary["on_beat"]["mean"]["model"] / ref_beat
    consonance = exported_summary["consonance"]["mean"]["model"] / ref_consonance
    print_targets(
        [
            ("anticipating on-beat share / the reference's", beat, TARGET_SHARE, beat >= TARGET_SHARE),
            ("anticipating consonance / the reference's", consonance, TARGET_SHARE, consonance >= TARGET_SHARE),
        ]
    )


if __name__ == "__main__":
    main()

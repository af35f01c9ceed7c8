"""Training on 2 processes (torchrun, gloo, CPU) against 1: the same small recipe on 24 chorales
(soprano -> bass, beats), best validation greedy TPP of each (target: within 1 point) and the speed
ratio of the decision model's epochs (median seconds per epoch, 1 process over 2). The embedding
cache is warmed first, so both time the same work; the 2-process wall time, torchrun's start
included, is printed too. Needs the train extra and FluidSynth; a few minutes on 2 cores.
Run: python -m benchmarks.train_distributed [--corpus DIR] [--chorales 24] [--epochs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import print_targets
from plugin_core.io.cache import cache_at

TARGET_POINTS = 1.0  # the issue's: 2 processes reach the 1-process validation TPP within 1 point
ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--vocab",
    "16",
    "--d-model",
    "64",
    "--heads",
    "4",
    "--layers",
    "2",
    "--context",
    "16",
    "--batch-size",
    "16",
    "--segmentation",
    "beats",
]


def build_corpus(folder: Path, chorales: int) -> None:
    """``chorales`` Bach chorales rendered to soprano (flute) -> bass (acoustic bass), unless already there."""
    from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works

    if not (folder / "corpus.json").is_file():
        request = ScoreCorpusRequest(
            sources=tuple(music21_works("bach")), guide_parts=("soprano",), response_parts=("bass",), limit=chorales
        )
        build_from_scores(request, folder, jobs=os.cpu_count() or 1)


def train_once(corpus: Path, run: Path, epochs: int, nproc: int) -> float:
    """Train with ``countertrack train`` on ``nproc`` processes in a fresh process; its wall time in seconds."""
    command = [
        sys.executable,
        "-m",
        "host_scripts",
        "train",
        str(corpus),
        "-o",
        str(run),
        *SMALL,
        "--epochs",
        str(epochs),
        "--patience",
        str(epochs),
        "--nproc",
        str(nproc),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode:
        raise SystemExit(f"training on {nproc} process(es) failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def summary(run: Path) -> tuple[float, float, list[float]]:
    """(best validation greedy TPP in %, median seconds per epoch, the TPP curve in %) of a finished run."""
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = json.loads((run / "checkpoint.json").read_text())["best_score"]
    return 100 * best, statistics.median(e["seconds"] for e in epochs), [100 * e["validation_greedy_tpp"] for e in epochs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="an already rendered corpus (default: render --chorales of them)")
    parser.add_argument("--chorales", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = Path(args.corpus) if args.corpus else folder / "corpus"
        build_corpus(corpus, args.chorales)
        with cache_at(folder / "cache"):  # the training processes inherit it
            train_once(corpus, folder / "warm", 1, 1)  # fills the embedding cache: both runs below read it
            one_s = train_once(corpus, folder / "one", args.epochs, 1)
            two_s = train_once(corpus, folder / "two", args.epochs, 2)
        one, two = summary(folder / "one"), summary(folder / "two")
    print(f"{args.chorales} chorales, {args.epochs} epochs, d_model 64, 2 layers, batch 16, 1 torch thread per process")
    print(
        f"1 process:   best TPP {one[0]:.1f} %, {one[1]:.2f} s per epoch, {one_s:.0f} s in all; TPP by epoch "
        + " ".join(f"{v:.0f}" for v in one[2])
    )
    print(
        f"2 processes: best TPP {two[0]:.1f} %, {two[1]:.2f} s per epoch, {two_s:.0f} s in all (torchrun's start included); "
        f"TPP by epoch " + " ".join(f"{v:.0f}" for v in two[2])
    )
    difference = abs(one[0] - two[0])
    print(f"speed ratio (1-process epoch time / 2-process epoch time): {one[1] / two[1]:.2f}x; wall time ratio {one_s / two_s:.2f}x")
    print_targets([("validation greedy TPP, |1 process - 2 processes| (points)", difference, TARGET_POINTS, difference <= TARGET_POINTS)])


if __name__ == "__main__":
    main()

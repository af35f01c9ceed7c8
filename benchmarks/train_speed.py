"""Training time of the shipped default bundle's recipe (80 chorales, soprano -> bass): encoding,
codebook and decision training from an empty embedding cache, on the recipe's two torch threads.
Rendering the corpus is data preparation and is timed apart. Needs the train extra and FluidSynth.
Run: python -m benchmarks.train_speed [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.report import print_targets
from export.default_bundle import RECIPE, build_corpus
from export.train.run import TrainConfig, train
from plugin_core.io.cache import cache_at

TARGET_S = 300.0  # the project's own: a corpus this size retrains in a coffee break on 2 cores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="an already rendered copy of the recipe's corpus (default: render one, about a minute)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)  # as export.default_bundle does
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        corpus_dir = Path(args.corpus) if args.corpus else folder / "corpus"
        corpus = build_corpus(corpus_dir)
        corpus_s = time.perf_counter() - started
        with cache_at(folder / "cache"):  # encoding is part of training: start cold
            started = time.perf_counter()
            train(TrainConfig(corpus=str(corpus_dir), **RECIPE), folder / "run", log=lambda _: None)
            train_s = time.perf_counter() - started
        epochs = [json.loads(line) for line in (folder / "run" / "metrics.jsonl").read_text().splitlines()]
    print(
        f"training the default bundle's recipe: {len(corpus.pairs)} chorales (rendered in {corpus_s:.0f} s, not counted), "
        f"{len(epochs)} epochs to early stop, {sum(e['seconds'] for e in epochs) / len(epochs):.2f} s per epoch, 2 torch threads"
    )
    print_targets([("encode + codebook + train, from a cold cache (s)", train_s, TARGET_S, train_s <= TARGET_S)])


if __name__ == "__main__":
    main()

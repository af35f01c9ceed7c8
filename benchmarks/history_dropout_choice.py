"""How far apart a run's history-dropout candidates are, against their noise: each candidate's greedy
TPP on the validation songs (what ``train`` chooses on) and on the test songs (what it was not told),
with the paired song-level standard error of the difference (``export.train.run.paired_standard_error``).
The recipe keeps the candidate that hides all of B's history unless the other is better on
validation by more than that error.

Run: python -m benchmarks.history_dropout_choice RUN CORPUS   (RUN trained with --history-dropout auto)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from export.data.features import encode_corpus
from export.model.encoders import EncoderSpec, build_encoder
from export.train.run import Run, greedy_counts, load_run, paired_standard_error, token_pairs
from plugin_core.io.corpus import load_corpus
from plugin_core.perception.segmentation import SegmentationConfig


def song_counts(runs: dict[str, Run], corpus: str, part: str) -> dict[str, np.ndarray]:
    """(hits, segments) of greedy generation per song of the split's ``part``, for each candidate."""
    first = next(iter(runs.values()))
    spec = EncoderSpec.from_dict(first.config.encoder)
    features = encode_corpus(
        load_corpus(corpus), build_encoder(spec), spec.to_dict(), SegmentationConfig.from_dict(first.config.segmentation)
    )
    ids = list(getattr(first.split, part))
    counts = {}
    for name, run in runs.items():
        pairs = {pair.pair_id: pair for pair in token_pairs(features, run.codebooks)}
        counts[name] = np.array([greedy_counts(run.model, [pairs[i]]) for i in ids], dtype=np.float64)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run trained with --history-dropout auto (its candidates/ kept)")
    parser.add_argument("corpus")
    args = parser.parse_args(argv)
    runs = {folder.name: load_run(folder) for folder in sorted((Path(args.run) / "candidates").iterdir())}
    print("| songs | " + " | ".join(runs) + " | difference | paired standard error |\n|---|" + "---:|" * (len(runs) + 2))
    for part in ("validation", "test"):
        counts = song_counts(runs, args.corpus, part)
        (first, a), (second, b) = list(counts.items())[:2]
        tpp = {name: 100 * c[:, 0].sum() / c[:, 1].sum() for name, c in counts.items()}
        error = 100 * paired_standard_error(a[:, 0], b[:, 0], a[:, 1])
        cells = " | ".join(f"{tpp[name]:.2f} %" for name in runs)
        print(f"| {part} ({len(a)}) | {cells} | {tpp[first] - tpp[second]:+.2f} points | {error:.2f} points |")


if __name__ == "__main__":
    main()

"""What B's tokens would be about on each corpus: the choice ``train --response-features auto`` makes
(held-out bits of each B token that A's same-time token tells, for B's sound and rhythm codebooks),
without training a model. Embeddings come from the training cache (encoded on the first run).

Run: python -m benchmarks.response_features CORPUS [CORPUS ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from export.data.features import encode_corpus
from export.data.token_data import split_by_song
from export.model.encoders import EncoderSpec, build_encoder
from export.train.config import TrainConfig
from export.train.run import fit_run_codebooks
from plugin_core.io.corpus import load_corpus
from plugin_core.perception.segmentation import SegmentationConfig


def choice(corpus: str) -> dict:
    """The choice ``train`` makes on ``corpus`` with the default recipe (its split, codebook setting, seed)."""
    config = TrainConfig(corpus=corpus)
    spec = EncoderSpec.from_dict(config.encoder)
    encoder = build_encoder(spec)
    features = encode_corpus(load_corpus(corpus), encoder, spec.to_dict(), SegmentationConfig.from_dict(config.segmentation))
    split = split_by_song([f.pair_id for f in features], config.seed, config.validation_fraction, config.test_fraction)
    _, _, made = fit_run_codebooks(features, split, config, encoder.feature_groups)
    assert made is not None
    return made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+")
    args = parser.parse_args(argv)
    print("| corpus | B's sound tokens (bits) | B's rhythm tokens (bits) | kept |\n|---|---:|---:|---|")
    for corpus in args.corpora:
        made = choice(corpus)
        bits = made["validation_bits"]
        print(f"| {Path(corpus).name} | {bits['sound']:.2f} | {bits['rhythm']:.2f} | {made['chosen']} |", flush=True)


if __name__ == "__main__":
    main()

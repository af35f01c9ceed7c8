"""Render speed with a base-size Wav2Vec 2.0 encoder (config only, random weights: the speed is the
same): builds a small bundle from two rendered chorales, then measures it like render_speed.
Needs the train extra and FluidSynth. Run: python -m benchmarks.wav2vec2_bundle
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.encoder_speed import base_wav2vec2_folder
from benchmarks.render_speed import measure
from benchmarks.report import print_targets
from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works
from export.model.encoders import EncoderSpec
from export.onnx.bundle_export import export_bundle
from export.train.run import TrainConfig, train
from plugin_core.perception.segmentation import SegmentationConfig


def build_bundle(folder: Path) -> Path:
    corpus = folder / "corpus"
    build_from_scores(
        ScoreCorpusRequest(sources=tuple(music21_works("bach")), guide_parts=("soprano",), response_parts=("bass",), limit=2), corpus
    )
    encoder = EncoderSpec(backend="wav2vec2", path=str(base_wav2vec2_folder(folder / "w2v")), layer=None)
    config = TrainConfig(
        corpus=str(corpus),
        encoder=encoder.to_dict(),
        segmentation=SegmentationConfig("uniform", hop_s=0.5).to_dict(),  # the uniform windows its earlier figures were measured on
        vocab=16,
        epochs=1,
        d_model=64,
        layers=2,
        heads=4,
        ffn=128,
    )
    run = train(config, folder / "run", log=lambda _: None)
    return export_bundle(run, folder / "w2v.ctbundle", memory_limit_s=30.0, log=lambda _: None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(Path(tmp))
        rows = measure(str(bundle), args.repeats, offline_target=8.0)
    print(f"render speed, bundle with a base-size Wav2Vec2 encoder, median of {args.repeats}")
    print_targets(rows)


if __name__ == "__main__":
    main()

"""Encoder throughput on 60 s of audio: spectral and base-size Wav2Vec2, PyTorch vs onnxruntime.

Prints a table of real-time factors (seconds of audio per second of compute, higher is faster),
median of several repetitions, with the thread count fixed for both runtimes.
Run: python -m benchmarks.encoder_speed [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from export.model.encoders import ENCODER_SAMPLE_RATE, EncoderSpec, build_encoder
from export.onnx.perception_export import encode_spans
from plugin_core.bundle.onnx_session import open_session
from plugin_core.perception.labeller import segment_batches

AUDIO_S = 30.0
SEGMENT_S = 0.5


def _median_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _onnx_session(encoder: torch.nn.Module, folder: Path, threads: int):
    path = folder / "encoder.onnx"
    example = torch.zeros((2, int(SEGMENT_S * ENCODER_SAMPLE_RATE)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder,
            (example,),
            str(path),
            input_names=["audio"],
            output_names=["embedding"],
            dynamic_axes={"audio": {0: "batch", 1: "samples"}, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return open_session(path, threads)  # the runtime's own settings


def base_wav2vec2_folder(folder: Path) -> Path:
    """A base-size Wav2Vec2 (94 M parameters) from its config with random weights: speed does not
    depend on the weights, and nothing is downloaded."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config()).save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(AUDIO_S * ENCODER_SAMPLE_RATE))).astype(np.float32)
    hop = int(SEGMENT_S * ENCODER_SAMPLE_RATE)
    spans = [(start, min(start + hop, audio.size)) for start in range(0, audio.size, hop)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            "spectral": EncoderSpec.new(),
            "wav2vec2-base": EncoderSpec(backend="wav2vec2", path=str(base_wav2vec2_folder(Path(tmp) / "w2v")), layer=None),
        }
        for name, spec in specs.items():
            encoder = build_encoder(spec)
            session = _onnx_session(encoder, Path(tmp), args.threads)
            batches = segment_batches(audio, spans, encoder.min_samples)
            torch_s = _median_seconds(lambda: encode_spans(encoder, audio, spans), args.repeats)
            onnx_s = _median_seconds(lambda: [session.run(None, {"audio": block}) for _, block in batches], args.repeats)
            rows.append((name, AUDIO_S / torch_s, AUDIO_S / onnx_s, torch_s / onnx_s))
    print(f"encoder throughput, {AUDIO_S:.0f} s of audio in {SEGMENT_S} s segments, {args.threads} threads, median of {args.repeats}")
    print(f"| {'encoder':<14} | {'PyTorch (x real time)':>22} | {'onnxruntime (x real time)':>26} | {'ORT speed-up':>12} |")
    print(f"|{'-' * 16}|{'-' * 24}|{'-' * 28}|{'-' * 14}|")
    for name, torch_rtf, onnx_rtf, ratio in rows:
        print(f"| {name:<14} | {torch_rtf:>22.1f} | {onnx_rtf:>26.1f} | {ratio:>11.2f}x |")


if __name__ == "__main__":
    main()

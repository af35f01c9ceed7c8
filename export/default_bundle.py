"""Rebuild the shipped default bundle from scratch, deterministically: Bach chorales from music21's
corpus rendered to stems (soprano on flute -> bass on acoustic bass), each at its own steady tempo
between 70 and 160 qpm so the bundle learns beats, not one tempo; cut on each score's beats, trained,
evaluated (tokens and audio), exported.

    python -m export.default_bundle [--work DIR] [--output BUNDLE] [--example FILE]

Writes presets/default.ctbundle of the source tree it runs from (with how it was made, the eval table
and a golden test vector in its manifest and folder) and presets/example_a.flac, a melody from a
chorale outside the corpus; its scratch folder is ./out/default-build. Run from an installed copy,
--output and --example are required (the installed shipped data is not rewritten).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.data.midi_parts import at_constant_tempo, extract_part, load_score
from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works
from export.data.synth import SynthSettings, find_soundfont, render_midi
from export.evaluation.audio_report import audio_report_for_run, markdown_audio_table
from export.evaluation.paper_metrics import evaluate, markdown_table
from export.onnx.bundle_export import export_bundle, portable_config
from export.train.run import TrainConfig, train
from plugin_core.bundle.shipped import DEFAULT_BUNDLE, EXAMPLE_A, source_tree_path
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import write_audio
from plugin_core.io.corpus import Corpus, load_corpus
from plugin_core.perception.segmentation import SegmentationConfig

CHORALES = 160
TEMPO_RANGE_QPM = (70.0, 160.0)
SEED = 0
# segments of one beat and vocabulary 16: the sweep's choice (see BENCHMARKS.md)
RECIPE: dict[str, Any] = dict(
    vocab=16, seed=SEED, segmentation=SegmentationConfig(strategy="beats").to_dict(), sequence_length=32, epochs=40, patience=10
)  # training sequences of 32 beats (a chorale is 40-100): more of them, a shorter run
MEMORY_LIMIT_S = 240.0  # 21 MB of 16-bit memory audio: the bundle stays under 30 MB with its golden vectors
EXAMPLE_QPM = 100.0  # the example melody is at a tempo no training song was rendered at exactly
EXAMPLE_S = 24.0


def build(work: Path, out_bundle: Path, example_path: Path, log=print) -> None:
    torch.set_num_threads(2)  # fixed thread counts (encoding on 2, the decision model on 1): the same weights every time
    started = time.perf_counter()
    works = music21_works("bach")
    corpus_dir = work / "corpus"
    corpus = build_corpus(corpus_dir)
    used = {p.provenance["source"] for p in corpus.pairs}
    log(f"corpus: {len(corpus.pairs)} chorales ({time.perf_counter() - started:.0f} s)")

    example_source = next(w for w in works[works.index(sorted(used, key=works.index)[-1]) + 1 :] if w not in used)
    _render_example(example_source, example_path)
    run_dir = work / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run = train(TrainConfig(corpus=str(corpus_dir), **RECIPE), run_dir, log=log)
    log(f"trained ({time.perf_counter() - started:.0f} s)")
    result = evaluate(run, str(corpus_dir), seed=SEED)
    table = markdown_table(result)
    log(table)
    audio = audio_report_for_run(run, str(corpus_dir), seed=SEED, memory_limit_s=MEMORY_LIMIT_S)
    audio_table = markdown_audio_table(audio)
    log(audio_table)
    export_bundle(
        run,
        out_bundle,
        memory_limit_s=MEMORY_LIMIT_S,
        golden_input=example_path,
        force=True,
        log=log,
        extra_manifest={
            "recipe": {
                "chorales": CHORALES,
                "tempo_range_qpm": list(TEMPO_RANGE_QPM),
                "guide": "soprano (GM 73 flute)",
                "response": "bass (GM 32 acoustic bass)",
                "train": portable_config(run.config),
                "command": "python -m export.default_bundle",
            },
            "corpus": [{"id": p.id, "source": p.provenance["source"]} for p in corpus.pairs],
            "example": {"file": example_path.name, "source": example_source},
            "eval": {
                "table_markdown": table,
                "scores": result["scores"],
                "held_out": result["held_out"],
                "audio": {"table_markdown": audio_table, "summary": audio["summary"]},
            },
        },
    )
    size = sum(p.stat().st_size for p in out_bundle.rglob("*") if p.is_file())
    log(f"default bundle: {out_bundle} ({size / 1e6:.1f} MB), built in {time.perf_counter() - started:.0f} s")


def build_corpus(corpus_dir: Path) -> Corpus:
    """The recipe's corpus (CHORALES chorales, soprano -> bass), rendered unless already there."""
    if not (corpus_dir / "corpus.json").is_file():
        request = ScoreCorpusRequest(
            sources=tuple(music21_works("bach")),
            guide_parts=("soprano",),
            response_parts=("bass",),
            limit=CHORALES,
            tempo_range_qpm=TEMPO_RANGE_QPM,
        )
        build_from_scores(request, corpus_dir, jobs=os.cpu_count() or 1)  # the same files for any number of jobs
    return load_corpus(corpus_dir)


def _render_example(source: str, path: Path) -> None:
    """The soprano of a chorale outside the corpus at EXAMPLE_QPM, on flute, first EXAMPLE_S seconds, as FLAC."""
    score = at_constant_tempo(load_score(source), EXAMPLE_QPM)
    settings = SynthSettings(soundfont=str(find_soundfont()))
    audio = render_midi(extract_part(score, score.find_part("soprano"), 73), settings)[:, : int(EXAMPLE_S * settings.sample_rate)]
    fade = int(0.05 * settings.sample_rate)
    audio[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    write_audio(path, audio, settings.sample_rate, subtype="PCM_16")


WORK = Path("out", "default-build")  # relative to the working folder (the repository root when rebuilding the shipped bundle)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options; the outputs default to the shipped bundle and example A of the source
    tree this runs from (``source_tree_path``), and are required where there is none."""
    bundle, example = source_tree_path(DEFAULT_BUNDLE), source_tree_path(EXAMPLE_A)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK, help=f"scratch folder (corpus, run) (default: ./{WORK.as_posix()})")
    parser.add_argument("--output", type=Path, default=bundle, required=bundle is None, help=f"bundle folder to write (default: {bundle})")
    parser.add_argument("--example", type=Path, default=example, required=example is None, help=f"example A to write (default: {example})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        build(args.work.resolve(), args.output, args.example, log=lambda m: print(m, file=sys.stderr))
    except CountertrackError as exc:
        print(f"countertrack: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The paper's sweep: train and evaluate every (window size, vocabulary) configuration on one corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from export.evaluate import evaluate, write_reports
from export.train import TrainConfig, load_run, train
from plugin_core.atomic import write_bytes_atomic, write_json_atomic
from plugin_core.errors import CountertrackError
from plugin_core.segmentation import SegmentationConfig


def segmentation_for(segment: str) -> SegmentationConfig:
    """'0.35' -> uniform 0.35 s segments; 'beat' / 'half-beat' -> each pair's own beats (or halves)."""
    if segment in ("beat", "half-beat"):
        return SegmentationConfig(strategy="beats", subdivision=1 if segment == "beat" else 2)
    try:
        return SegmentationConfig(strategy="uniform", hop_s=float(segment))
    except ValueError:
        raise CountertrackError(f"segment {segment!r} is neither a length in seconds nor beat / half-beat") from None


def sweep(corpus: str, out_dir: str, *, segments: list[str], vocabs: list[int], epochs: int, seed: int = 0,
          log: Callable[[str], None] = print, base: TrainConfig | None = None) -> str:
    """Train one run per configuration under ``out_dir`` (resuming finished ones), evaluate each on
    its held-out songs, and write sweep.md / sweep.json. Returns the Markdown table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = base or TrainConfig(corpus=corpus)
    rows = []
    for segment in segments:
        for vocab in vocabs:
            name = f"segment-{segment}_vocab{vocab}"
            config = replace(base, corpus=corpus, vocab=vocab, epochs=epochs, seed=seed, segmentation=segmentation_for(segment).to_dict())
            folder = out / name
            log(f"sweep: {name}")
            run = load_run(folder) if (folder / "model.safetensors").is_file() and _finished(folder, epochs) else train(config, folder, resume=(folder / "checkpoint.json").is_file(), log=log)
            result = evaluate(run, corpus, seed=seed)
            write_reports(result, str(folder / "eval.json"), str(folder / "eval.png"), str(folder / "eval.md"))
            scores = {s["name"]: s for s in result["scores"]}
            greedy = scores["model, greedy"]
            table = scores["table p(B|A) argmax"]
            sampled = next(s for n, s in scores.items() if n.startswith("model, top-p") and "constrained" not in n)
            rows.append({"segment": segment, "vocab": vocab, "greedy_tpp": greedy["tpp"], "greedy_lcp": greedy["lcp"],
                         "table_tpp": table["tpp"], "table_lcp": table["lcp"], "sampled_tpp": sampled["tpp"],
                         "unigram_tpp": scores["unigram of B"]["tpp"], "uniform_tpp": scores["uniform random"]["tpp"],
                         "entropy_bits": sampled["entropy_bits"], "segments": result["segments"]})
    lines = ["| segment | vocab | greedy TPP % | table argmax TPP % | greedy LCP | table LCP | top-p TPP % | unigram TPP % | uniform TPP % | entropy bits |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['segment']} | {r['vocab']} | {r['greedy_tpp']:.1f} | {r['table_tpp']:.1f} | {r['greedy_lcp']:.2f} | {r['table_lcp']:.2f} | "
                     f"{r['sampled_tpp']:.1f} | {r['unigram_tpp']:.1f} | {r['uniform_tpp']:.1f} | {r['entropy_bits']:.2f} |")
    table_text = "\n".join(lines) + "\n"
    write_json_atomic(out / "sweep.json", rows)
    write_bytes_atomic(out / "sweep.md", table_text.encode("utf-8"))
    return table_text


def _finished(folder: Path, epochs: int) -> bool:
    """A run is finished when it reached its epochs or stopped early (checkpoint.json says which)."""
    state = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8")) if (folder / "checkpoint.json").is_file() else {}
    return state.get("epoch", 0) >= epochs or bool(state.get("stopped_early"))

"""The paper's sweep: train and evaluate every (segment length, vocabulary) configuration on one corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from export.evaluation.paper_metrics import evaluate, write_reports
from export.train.run import TrainConfig, load_run, run_started, train
from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import write_bytes_atomic, write_json_atomic
from plugin_core.perception.segmentation import SegmentationConfig


def segmentation_for(segment: str) -> SegmentationConfig:
    """'0.35' -> uniform 0.35 s segments; 'beat' / 'half-beat' -> each pair's own beats (or halves)."""
    if segment in ("beat", "half-beat"):
        return SegmentationConfig(strategy="beats", subdivision=1 if segment == "beat" else 2)
    try:
        return SegmentationConfig(strategy="uniform", hop_s=float(segment))
    except ValueError:
        raise CountertrackError(f"segment {segment!r} is neither a length in seconds nor beat / half-beat") from None


@dataclass(frozen=True)
class Swept:
    """A sweep's Markdown table and the paths it wrote (a run folder among them), in order."""

    table: str
    written: list[Path]


def sweep(
    corpus: str,
    out_dir: str,
    *,
    segments: list[str],
    vocabs: list[int],
    epochs: int,
    seed: int = 0,
    log: Callable[[str], None] = print,
    base: TrainConfig | None = None,
) -> Swept:
    """Train one run per configuration under ``out_dir`` (resuming finished ones), evaluate each on
    its held-out songs, and write sweep.md / sweep.json / sweep.png. Returns the Markdown table and
    what was written: each configuration's run folder and eval.json/png/md, then the sweep's files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if base is None:
        from export.default_bundle import RECIPE  # the default's recipe, but for segments, vocabulary and epochs

        base = TrainConfig(corpus=corpus, **RECIPE)
    rows = []
    written: list[Path] = []
    for segment in segments:
        for vocab in vocabs:
            name = f"segment-{segment}_vocab{vocab}"
            config = replace(base, corpus=corpus, vocab=vocab, epochs=epochs, seed=seed, segmentation=segmentation_for(segment).to_dict())
            folder = out / name
            log(f"sweep: {name}")
            run = (
                load_run(folder)
                if (folder / "model.safetensors").is_file() and _finished(folder, epochs)
                else train(config, folder, resume=run_started(folder), log=log)
            )
            result = evaluate(run, corpus, seed=seed)
            reports = [folder / "eval.json", folder / "eval.png", folder / "eval.md"]
            write_reports(result, *(str(path) for path in reports))
            written += [folder, *reports]
            scores = {s["name"]: s for s in result["scores"]}
            greedy = scores["model, greedy"]
            table = scores["table p(B|A) argmax"]
            sampled = next(s for n, s in scores.items() if n.startswith("model, top-p") and "constrained" not in n)
            rows.append(
                {
                    "segment": segment,
                    "vocab": vocab,
                    "greedy_tpp": greedy["tpp"],
                    "greedy_lcp": greedy["lcp"],
                    "table_tpp": table["tpp"],
                    "table_lcp": table["lcp"],
                    "sampled_tpp": sampled["tpp"],
                    "unigram_tpp": scores["unigram of B"]["tpp"],
                    "uniform_tpp": scores["uniform random"]["tpp"],
                    "entropy_bits": sampled["entropy_bits"],
                    "segment_count": result["segment_count"],
                }
            )
    lines = [
        "| segment | vocab | greedy TPP % | table argmax TPP % | greedy LCP | table LCP | top-p TPP % | unigram TPP % | uniform TPP % | entropy bits |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['segment']} | {r['vocab']} | {r['greedy_tpp']:.1f} | {r['table_tpp']:.1f} | {r['greedy_lcp']:.2f} | {r['table_lcp']:.2f} | "
            f"{r['sampled_tpp']:.1f} | {r['unigram_tpp']:.1f} | {r['uniform_tpp']:.1f} | {r['entropy_bits']:.2f} |"
        )
    table_text = "\n".join(lines) + "\n"
    write_json_atomic(out / "sweep.json", rows)
    write_bytes_atomic(out / "sweep.md", table_text.encode("utf-8"))
    plot_sweep(rows, out / "sweep.png")
    written += [out / "sweep.json", out / "sweep.md", out / "sweep.png"]
    return Swept(table_text, written)


def plot_sweep(rows: list[dict], path: Path) -> None:
    """The paper's figure: TPP and LCP per segment length, one group of bars per vocabulary, the
    model (greedy) beside the context-free table and the uniform baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from plugin_core.io.atomic import atomic_path

    segments = list(dict.fromkeys(r["segment"] for r in rows))
    vocabs = list(dict.fromkeys(r["vocab"] for r in rows))
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / (len(vocabs) * 2)
    for axis, metric, table_metric, label in (
        (axes[0], "greedy_tpp", "table_tpp", "TPP (%)"),
        (axes[1], "greedy_lcp", "table_lcp", "LCP (segments)"),
    ):
        for j, vocab in enumerate(vocabs):
            values = [next((r[metric] for r in rows if r["segment"] == s and r["vocab"] == vocab), 0.0) for s in segments]
            tables = [next((r[table_metric] for r in rows if r["segment"] == s and r["vocab"] == vocab), 0.0) for s in segments]
            x = np.arange(len(segments)) + (2 * j - len(vocabs)) * width
            axis.bar(x, values, width, label=f"model, vocab {vocab}")
            axis.bar(x + width, tables, width, color="#bbbbbb", label="context-free table" if j == 0 else None)
        if metric == "greedy_tpp":
            for j, vocab in enumerate(vocabs):
                uniform = [next((r["uniform_tpp"] for r in rows if r["segment"] == s and r["vocab"] == vocab), 0.0) for s in segments]
                axis.scatter(
                    np.arange(len(segments)) + (2 * j - len(vocabs)) * width,
                    uniform,
                    marker="_",
                    color="black",
                    s=80,
                    label="uniform random" if j == 0 else None,
                )
        axis.set_xticks(np.arange(len(segments)), [f"{s} s" if s[0].isdigit() else s for s in segments])
        axis.set_ylabel(label)
        axis.set_xlabel("segment")
    axes[0].legend(fontsize=8)
    figure.suptitle("countertrack sweep: held-out songs, greedy decoding against the context-free table")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def _finished(folder: Path, epochs: int) -> bool:
    """A run is finished when it reached its epochs or stopped early (checkpoint.json says which)."""
    state = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8")) if (folder / "checkpoint.json").is_file() else {}
    return state.get("epoch", 0) >= epochs or bool(state.get("stopped_early"))

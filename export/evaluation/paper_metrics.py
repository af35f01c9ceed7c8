"""Evaluate a run on held-out songs with the paper's metrics, against baselines fitted on training songs.

The task is re-generation: from A of a held-out pair, predict B's tokens. TPP is the percentage of
positions where the prediction equals the true token; LCP at a position is the length of the run
of matches starting there (0 on a mismatch), averaged over positions. Like is compared with like:
greedy decoding against the argmax baselines (majority label, the context-free table p(B | A at
the same position)), sampling against the sampled ones (uniform, B's unigram, the table sampled).
The table knows the harmony of one segment; only context can beat it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from export.data.features import encode_corpus
from export.data.token_data import TokenPair
from export.model.encoders import EncoderSpec, build_encoder
from export.onnx.decision_export import TorchStepper
from export.train.run import Run, one_torch_thread, token_pairs
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import generate
from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import atomic_path, write_bytes_atomic, write_json_atomic
from plugin_core.io.corpus import Corpus, load_corpus
from plugin_core.perception.segmentation import SegmentationConfig


@dataclass(frozen=True)
class Score:
    name: str
    kind: str  # "argmax" or "sampled"
    tpp: float  # percent
    lcp: float  # mean run length of matches from each position
    entropy_bits: float  # of the predicted tokens: diversity


def longest_common_prefix_runs(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per position: how many consecutive matches start there (0 where the prediction is wrong)."""
    runs = np.zeros(true.size, dtype=np.int64)
    following = 0
    for i in range(true.size - 1, -1, -1):
        following = following + 1 if predicted[i] == true[i] else 0
        runs[i] = following
    return runs


def entropy_bits(tokens: np.ndarray, vocab: int) -> float:
    counts = np.bincount(tokens, minlength=vocab)
    p = counts[counts > 0] / max(1, counts.sum())
    return float(abs(-(p * np.log2(p)).sum()))


def score(name: str, kind: str, predictions: list[np.ndarray], truths: list[np.ndarray], vocab: int) -> Score:
    predicted, true = np.concatenate(predictions), np.concatenate(truths)
    runs = np.concatenate([longest_common_prefix_runs(p, t) for p, t in zip(predictions, truths)])
    return Score(
        name=name,
        kind=kind,
        tpp=100.0 * float((predicted == true).mean()),
        lcp=float(runs.mean()),
        entropy_bits=entropy_bits(predicted, vocab),
    )


class Baselines:
    """Context-free predictors fitted on the training songs' tokens only."""

    def __init__(self, train: list[TokenPair], vocab: int):
        self.vocab = vocab
        b = np.concatenate([p.response for p in train])
        self.unigram = np.bincount(b, minlength=vocab) / b.size
        self.table = np.zeros((vocab, vocab))
        for pair in train:
            np.add.at(self.table, (pair.guide, pair.response), 1.0)
        seen = self.table.sum(axis=1, keepdims=True)
        self.table = np.where(seen > 0, self.table / np.maximum(seen, 1), self.unigram)  # unseen A token -> unigram

    def predict(self, name: str, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if name == "uniform random":
            return rng.integers(0, self.vocab, a.size)
        if name == "unigram of B":
            return rng.choice(self.vocab, size=a.size, p=self.unigram)
        if name == "majority label":
            return np.full(a.size, int(np.argmax(self.unigram)))
        if name == "table p(B|A) argmax":
            return np.argmax(self.table[a], axis=1)
        if name == "table p(B|A) sampled":
            cumulative = np.cumsum(self.table[a], axis=1)
            draws = rng.random(a.size)[:, None]
            return np.minimum((cumulative < draws).sum(axis=1), self.vocab - 1)
        raise ValueError(name)


BASELINES = (
    ("majority label", "argmax"),
    ("table p(B|A) argmax", "argmax"),
    ("uniform random", "sampled"),
    ("unigram of B", "sampled"),
    ("table p(B|A) sampled", "sampled"),
)


def run_tokens(run: Run, corpus: Corpus, ids: set[str]) -> list[TokenPair]:
    """Tokens of the pairs ``ids`` of ``corpus`` with the run's perception (embeddings from the cache)."""
    subset = replace(corpus, pairs=tuple(p for p in corpus.pairs if p.id in ids))
    spec = EncoderSpec.from_dict(run.config.encoder)
    features = encode_corpus(subset, build_encoder(spec), spec.to_dict(), SegmentationConfig.from_dict(run.config.segmentation))
    return token_pairs(features, run.codebooks)


def held_out_ids(run: Run, corpus: Corpus) -> list[str]:
    """The run's test songs when ``corpus`` is its training corpus; else every song it never saw."""
    if corpus.root.resolve() == load_corpus(run.config.corpus).root.resolve():
        ids = [p.id for p in corpus.pairs if p.id in run.split.test]
    else:
        seen = set(run.split.train) | set(run.split.validation)
        ids = [p.id for p in corpus.pairs if p.id not in seen]
    if not ids:
        raise CountertrackError("has no held-out pairs for this run (all were used in training or validation)", corpus.root)
    return ids


def evaluate(run: Run, corpus_dir: str, seed: int = 0, top_p: float = 0.8) -> dict:
    """Scores of the model and every baseline on the held-out pairs, as a JSON-able dict."""
    with one_torch_thread():
        return _evaluate(run, corpus_dir, seed, top_p)


def _evaluate(run: Run, corpus_dir: str, seed: int, top_p: float) -> dict:
    corpus = load_corpus(corpus_dir)
    ids = held_out_ids(run, corpus)
    held_out = run_tokens(run, corpus, set(ids))
    train_pairs = run_tokens(run, load_corpus(run.config.corpus), set(run.split.train))
    vocab = run.model.config.vocab_size
    truths = [p.response for p in held_out]
    stepper = TorchStepper(run.model)
    scores = [
        score("model, greedy", "argmax", [generate(stepper, p.guide, SamplingConfig(greedy=True), seed) for p in held_out], truths, vocab),
        score(
            f"model, top-p {top_p}",
            "sampled",
            [generate(stepper, p.guide, SamplingConfig(top_p=top_p), seed + i) for i, p in enumerate(held_out)],
            truths,
            vocab,
        ),
        score(
            f"model, top-p {top_p}, constrained to B's labels",
            "sampled",
            [
                generate(stepper, p.guide, SamplingConfig(top_p=top_p), seed + i, allowed=np.unique(p.response))
                for i, p in enumerate(held_out)
            ],
            truths,
            vocab,
        ),
    ]
    baselines = Baselines(train_pairs, vocab)
    rng = np.random.default_rng(seed)
    for name, kind in BASELINES:
        scores.append(score(name, kind, [baselines.predict(name, p.guide, rng) for p in held_out], truths, vocab))
    return {
        "run": str(run.folder),
        "corpus": str(corpus_dir),
        "held_out": ids,
        "segment_count": int(sum(t.size for t in truths)),
        "vocab": vocab,
        "segments": segments_described(run.config.segmentation),
        "lookahead": run.model.config.lookahead,
        "scores": [asdict(s) for s in scores],
    }


def segments_described(segmentation: dict) -> str:
    """'1 beat', 'half a beat', '0.5 s' or 'onsets': what one segment of a run is."""
    if segmentation.get("strategy") == "beats":
        return {1: "1 beat", 2: "half a beat"}.get(int(segmentation.get("subdivision", 1)), f"1/{segmentation.get('subdivision')} beat")
    if segmentation.get("strategy") == "onsets":
        return "onsets"
    return f"{segmentation.get('hop_s', 0.5):g} s"


def markdown_table(result: dict) -> str:
    """The scores as a Markdown table, each model row followed by its margin over the best baseline of its kind."""
    scores = result["scores"]
    lines = [
        f"Held-out pairs: {len(result['held_out'])} ({result['segment_count']} segments of {result['segments']}), "
        f"vocabulary {result['vocab']}, lookahead {result['lookahead']}",
        "",
        "| predictor | kind | TPP % | LCP | entropy (bits) |",
        "|---|---|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(f"| {s['name']} | {s['kind']} | {s['tpp']:.1f} | {s['lcp']:.2f} | {s['entropy_bits']:.2f} |")
    lines.append("")
    for s in scores:
        if not s["name"].startswith("model"):
            continue
        rivals = [b for b in scores if b["kind"] == s["kind"] and not b["name"].startswith("model")]
        best = max(rivals, key=lambda b: b["tpp"])
        lines.append(
            f"- {s['name']}: TPP {s['tpp'] - best['tpp']:+.1f} points vs {best['name']} ({best['tpp']:.1f} %), "
            f"LCP {s['lcp'] - best['lcp']:+.2f} vs {best['lcp']:.2f}"
        )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str | Path) -> None:
    """Bar charts of TPP and LCP per predictor, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = result["scores"]
    names = [s["name"] for s in scores]
    colours = ["#1f77b4" if s["name"].startswith("model") else ("#999999" if s["kind"] == "sampled" else "#555555") for s in scores]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, key, label in ((axes[0], "tpp", "TPP (%)"), (axes[1], "lcp", "LCP (segments)")):
        axis.barh(range(len(scores)), [s[key] for s in scores], color=colours)
        axis.set_yticks(range(len(scores)), names if axis is axes[0] else [""] * len(scores))
        axis.invert_yaxis()
        axis.set_xlabel(label)
    figure.suptitle(f"countertrack eval: vocabulary {result['vocab']}, {len(result['held_out'])} held-out pairs")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def write_reports(
    result: dict,
    json_path: str | os.PathLike[str] | None,
    plot_path: str | os.PathLike[str] | None,
    markdown_path: str | os.PathLike[str] | None = None,
    audio_plot_path: str | os.PathLike[str] | None = None,
) -> str:
    """Markdown table (with the audio table when the result has one), JSON, PNG of the scores and
    PNG of the audio measures (default: beside the scores' as NAME.audio.png)."""
    table = markdown_table(result)
    if "audio" in result:
        from export.evaluation.audio_report import markdown_audio_table, plot_audio_report

        table += "\n" + markdown_audio_table(result["audio"])
    if json_path:
        write_json_atomic(json_path, result)
    if plot_path:
        plot(result, Path(plot_path))
    if "audio" in result and plot_path:
        plot_audio_report(result["audio"], Path(audio_plot_path) if audio_plot_path else Path(plot_path).with_suffix(".audio.png"))
    elif "audio" in result and audio_plot_path:
        plot_audio_report(result["audio"], Path(audio_plot_path))
    if markdown_path:
        write_bytes_atomic(markdown_path, table.encode("utf-8"))
    return table

"""Train a run: segment and encode the corpus, fit the codebook, train the decision model.

A run folder holds config.json (everything needed to rebuild it), the codebook(s), the learned A/B
compatibility (compatibility.npz), metrics.jsonl
(one line per epoch), checkpoint.safetensors + checkpoint.json (model and optimiser after the last
finished epoch, for --resume) and model.safetensors (the best weights by validation score). With
history dropout "auto" (the default) each candidate trains in ``candidates/history-dropout-X/`` and
the one ``choose_history_dropout`` keeps is copied into the run folder; config.json records the choice.
Weights are safetensors: loading never unpickles. Randomness flows from the seed: the same
corpus, settings and seed give the same run.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from export.data.features import PairFeatures, encode_corpus
from export.data.token_data import IGNORE, Split, TokenPair, make_sequences, split_by_song
from export.model.codebook_fit import RESPONSE_FEATURES, CodebookReport, fit_codebooks
from export.model.compatibility_fit import fit_compatibility
from export.model.decision_model import DecisionModel, table_prior
from export.model.encoders import EncoderSpec, build_encoder
from export.onnx.decision_export import TorchStepper
from export.train.config import AUTO, EXTENDABLE, HISTORY_DROPOUT_CANDIDATES, RUN_SCHEMA, TrainConfig
from plugin_core.decision.config import ANTICIPATE, DecisionConfig
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import generate, guide_as_heard
from plugin_core.engine.compatibility import Compatibility
from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import atomic_path, read_json, write_bytes_atomic, write_json_atomic
from plugin_core.io.corpus import load_corpus
from plugin_core.io.records import checked_schema_version
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.segmentation import SegmentationConfig

if TYPE_CHECKING:  # imported when a group is given: one process never loads torch.distributed's machinery
    from export.train.distributed import Distributed


@dataclass
class Run:
    """A trained (or training) run loaded from its folder."""

    folder: Path
    config: TrainConfig
    split: Split
    codebooks: dict[str, Codebook]
    model: DecisionModel
    compatibility: Compatibility | None = None


def token_pairs(features: list[PairFeatures], codebooks: dict[str, Codebook]) -> list[TokenPair]:
    return [TokenPair(f.pair_id, codebooks["guide"].assign(f.guide), codebooks["response"].assign(f.response)) for f in features]


STARVED_SHARE = 0.5  # "auto": a role whose tokens carry less than this share of log2(vocab) bits gets its own codebook


def fit_run_codebooks(
    features: list[PairFeatures], split: Split, config: TrainConfig, groups, log: Callable[[str], None] = lambda _: None
) -> tuple[dict[str, Codebook], dict[str, CodebookReport], dict[str, Any] | None]:
    """The run's codebooks, fitted on the training songs, and how B's features were chosen (None when
    there was no choice).

    Shared, per role, or ("auto") shared unless that starves a role: when A's segments and B's sound
    so unlike that one role falls into a few of the shared tokens (drums against a bass: 1.2 of 4
    bits), each role gets a codebook of its own. B's tokens are about its sound (timbre, register,
    pitch) or its rhythm; "auto" fits both and keeps the one A's tokens tell most about on the
    validation songs (``held_out_information``): a melody tells a bass's pitch, drums tell its rhythm
    but not the key each song is in."""
    train_ids = set(split.train)
    guide = np.concatenate([f.guide for f in features if f.pair_id in train_ids])
    response = np.concatenate([f.response for f in features if f.pair_id in train_ids])
    views = response_feature_candidates(config.response_features, groups, config.codebook)
    fitted = {view: _fit_codebooks_for(view, guide, response, config, groups, log) for view in views}
    chosen, choice = views[0], None  # type: tuple[str, dict[str, Any] | None]
    if len(views) > 1:
        scores = {view: held_out_information(books, features, split, config.vocab) for view, (books, _) in fitted.items()}
        chosen = max(views, key=lambda view: scores[view])  # a tie keeps the earlier: sound
        log(
            f"response features: {chosen} (A's tokens tell "
            + ", ".join(f"{scores[view]:.2f} bits of B's {view} tokens" for view in views)
            + " on the validation songs)"
        )
        choice = {"chosen": chosen, "validation_bits": {view: round(scores[view], 6) for view in views}}
    books, reports = fitted[chosen]
    return books, reports, choice


def response_feature_candidates(setting: str, groups: dict[str, tuple[int, int]] | None, codebook: str = AUTO) -> list[str]:
    """The response features to fit: the one named, or ("auto") each the encoder's output has (only
    sound when A and B must share one codebook: any other view is B's own)."""
    available = [view for view, weights in RESPONSE_FEATURES.items() if view == "sound" or set(weights) <= set(groups or {})]
    if setting == AUTO:
        return available if codebook != "shared" else ["sound"]
    if setting not in available:
        raise CountertrackError(f"response features {setting!r} need the spectral encoder (this encoder has {', '.join(available)})")
    return [setting]


def _fit_codebooks_for(
    view: str, guide: np.ndarray, response: np.ndarray, config: TrainConfig, groups, log: Callable[[str], None]
) -> tuple[dict[str, Codebook], dict[str, CodebookReport]]:
    if view != "sound":  # B's own codebook, weighing its features for this view
        fitted = fit_codebooks(
            guide, response, config.vocab, config.seed, shared=False, groups=groups, response_weights=RESPONSE_FEATURES[view]
        )
    else:
        fitted = fit_codebooks(guide, response, config.vocab, config.seed, shared=config.codebook != "per-role", groups=groups)
        if config.codebook == "auto":
            starved = [role for role, (_, report) in fitted.items() if report.entropy_bits < STARVED_SHARE * np.log2(config.vocab)]
            if starved:
                log(
                    f"codebook: the shared one gives the {' and '.join(starved)} "
                    f"{min(fitted[r][1].entropy_bits for r in starved):.1f} of {np.log2(config.vocab):.0f} bits; one codebook per role"
                )
                fitted = fit_codebooks(guide, response, config.vocab, config.seed, shared=False, groups=groups)
    return {role: book for role, (book, _) in fitted.items()}, {role: report for role, (_, report) in fitted.items()}


def held_out_information(codebooks: dict[str, Codebook], features: list[PairFeatures], split: Split, vocab: int) -> float:
    """Bits that A's token tells of B's token at the same segment, on the validation songs: the mean of
    log2 p(b | a) - log2 p(b) over their segments, both counted on the training songs (add-one)."""
    counts = np.ones((vocab, vocab))
    held_out: list[tuple[np.ndarray, np.ndarray]] = []
    train_ids, validation_ids = set(split.train), set(split.validation)
    for f in features:
        if f.pair_id in train_ids or f.pair_id in validation_ids:
            a, b = codebooks["guide"].assign(f.guide), codebooks["response"].assign(f.response)
            n = min(a.size, b.size)
            if f.pair_id in train_ids:
                np.add.at(counts, (a[:n], b[:n]), 1.0)
            else:
                held_out.append((a[:n], b[:n]))
    if not held_out or not sum(b.size for _, b in held_out):
        return 0.0
    conditional = np.log2(counts / counts.sum(axis=1, keepdims=True))
    marginal = np.log2(counts.sum(axis=0) / counts.sum())
    a, b = (np.concatenate(parts) for parts in zip(*held_out))
    return float(np.mean(conditional[a, b] - marginal[b]))


def shares_codebook(codebooks: dict[str, Codebook]) -> bool:
    """Whether A and B are labelled by one codebook (its B tokens then start the model's token table)."""
    guide, response = codebooks["guide"], codebooks["response"]
    return guide is response or (
        guide.centroids.shape == response.centroids.shape and bool(np.array_equal(guide.centroids, response.centroids))
    )


CODEBOOKS_FITTED = "codebooks.json"  # written after the codebooks: they are whole, and how they were chosen


def save_codebooks(folder: Path, codebooks: dict[str, Codebook], how: dict[str, Any] | None = None) -> None:
    """Save the run's codebooks, then (last, so a run killed meanwhile refits them on resume) how they
    were fitted: B's features choice and the codebook reports."""
    (folder / CODEBOOKS_FITTED).unlink(missing_ok=True)
    for role, book in codebooks.items():
        book.save(folder / f"codebook_{role}.npz")
    write_json_atomic(folder / CODEBOOKS_FITTED, how or {})


def codebooks_fitted(folder: Path, previous: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the codebooks saved in ``folder`` were fitted, if they are whole (None: fit them again). A
    run from before that record holds its codebooks whole once its config.json is written."""
    if (folder / CODEBOOKS_FITTED).is_file():
        return read_json(folder / CODEBOOKS_FITTED, "not a readable codebook record")
    if previous is not None and all((folder / f"codebook_{role}.npz").is_file() for role in ("guide", "response")):
        return {key: previous[key] for key in ("response_features_choice", "codebook_reports") if key in previous}
    return None


def load_codebooks(folder: Path) -> dict[str, Codebook]:
    return {role: Codebook.load(folder / f"codebook_{role}.npz") for role in ("guide", "response")}


MIN_TRAINING_SONGS = 8  # below this a held-out score says little and the table prior dominates
MIN_TRAINING_SEGMENTS = 2000  # about 17 minutes of beats at 120 qpm


def too_little_data(train_pairs: list[TokenPair], sequence_length: int) -> str:
    """Why the training songs are too few to learn A -> B reliably ("" when they are enough): with a
    handful of songs the model overfits in a few epochs and can score below the baselines."""
    segments = sum(int(p.response.size) for p in train_pairs)
    if len(train_pairs) >= MIN_TRAINING_SONGS and segments >= MIN_TRAINING_SEGMENTS:
        return ""
    return (
        f"only {len(train_pairs)} training song(s), {segments} segments ({max(1, segments // sequence_length)} sequences of {sequence_length}): "
        f"too little to learn how B answers A reliably (at least {MIN_TRAINING_SONGS} songs and {MIN_TRAINING_SEGMENTS} segments "
        "are advised); expect held-out scores near the baselines"
    )


def warmup_steps(asked: int, total: int) -> int:
    """The learning-rate warm-up: ``asked`` steps, but a small corpus has few steps, so at most a
    tenth of the ``total`` (and at least one)."""
    return max(1, min(asked, total // 10))


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """The learning rate's share at ``step``: a linear warm-up over ``warmup`` steps, then a cosine
    down to 5% at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


def greedy_accuracy(model: DecisionModel, pairs: list[TokenPair]) -> float:
    """Token accuracy of greedy generation (the TPP of the re-generation task) over ``pairs``."""
    hits, total = greedy_counts(model, pairs)
    return hits / max(1, total)


def greedy_counts(model: DecisionModel, pairs: list[TokenPair]) -> tuple[int, int]:
    """Tokens greedy generation got right, and tokens in all, over ``pairs`` (ranks add theirs up)."""
    stepper = TorchStepper(model)
    hits = total = 0
    for pair in pairs:
        predicted = generate(stepper, pair.guide, SamplingConfig(greedy=True), seed=0)
        hits += int(np.count_nonzero(predicted == pair.response))
        total += pair.response.size
    return hits, total


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors


def _load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: Callable[[Any, str, int], Any] = lambda it, desc, total: it,
    group: Distributed | None = None,
) -> Run:
    """Train (or resume) a run into ``run_dir`` and return it with its best weights loaded.

    With ``group`` (several processes under torchrun, ``export.train.distributed``) each rank encodes its
    share of the corpus into the shared cache, rank 0 fits the codebooks and writes the run, and the
    decision model trains with DistributedDataParallel; without it nothing distributed is touched."""
    folder = Path(run_dir)
    writer = group is None or group.main
    if not writer:
        log, progress = (lambda message: None), (lambda it, desc, total: it)
    if config.history_dropout == AUTO:
        return _train_choosing_history_dropout(config, folder, resume=resume, log=log, progress=progress, group=group)
    torch.manual_seed(config.seed)
    corpus = load_corpus(config.corpus)
    if len(corpus.pairs) < 2:
        raise CountertrackError(
            f"training needs at least 2 songs (one held out for validation); the corpus has {len(corpus.pairs)}", corpus.root
        )
    folder.mkdir(parents=True, exist_ok=True)
    existing = folder / "config.json"
    previous = read_json(existing, "not a readable run") if resume and existing.is_file() else None
    if previous is not None:
        version = checked_schema_version(previous.get("schema_version", 1), RUN_SCHEMA, "run", existing, error=CountertrackError)
        saved = asdict(TrainConfig.from_dict(previous["train"], version, existing))
        if config.response_features == AUTO:  # "auto" resumes whatever the run was fitted with (a run from before the choice: sound)
            config = replace(config, response_features=saved["response_features"])
        asked = asdict(config)
        changed = sorted(k for k in set(saved) | set(asked) if k not in EXTENDABLE and saved.get(k) != asked.get(k))
        if changed:
            differences = "; ".join(f"{k}: the run has {saved.get(k)!r}, this asks {asked.get(k)!r}" for k in changed)
            raise CountertrackError(f"cannot resume: settings differ from the run's ({differences}); give the run's settings", existing)
    elif not resume:
        _refuse_an_existing_run(folder)
    if group is not None:
        group.barrier()  # every rank has checked the folder before rank 0 writes in it

    encoder_spec = EncoderSpec.from_dict(config.encoder)
    segmentation = SegmentationConfig.from_dict(config.segmentation)
    encoder = build_encoder(encoder_spec)
    if group is not None:  # this rank's share into the cache; then every rank reads all of it from there
        share = replace(corpus, pairs=tuple(group.shard(corpus.pairs)))
        encode_corpus(
            share,
            encoder,
            encoder_spec.to_dict(),
            segmentation,
            progress=lambda pairs: progress(pairs, "encoding (this rank's share)", len(share.pairs)),
        )
        group.barrier()
    features = encode_corpus(
        corpus, encoder, encoder_spec.to_dict(), segmentation, progress=lambda pairs: progress(pairs, "encoding", len(corpus.pairs))
    )
    split = split_by_song([f.pair_id for f in features], config.seed, config.validation_fraction, config.test_fraction)
    response_choice = previous.get("response_features_choice") if previous is not None else None
    previous_reports = previous.get("codebook_reports") if previous is not None else None
    fitted = codebooks_fitted(folder, previous) if resume else None
    if fitted is not None:
        codebooks, reports = load_codebooks(folder), dict[str, CodebookReport]()
        response_choice, previous_reports = fitted.get("response_features_choice"), fitted.get("codebook_reports")
    elif writer:
        codebooks, reports, response_choice = fit_run_codebooks(features, split, config, getattr(encoder, "feature_groups", None), log)
        save_codebooks(
            folder, codebooks, {"response_features_choice": response_choice, "codebook_reports": {r: asdict(x) for r, x in reports.items()}}
        )
        for role, report in reports.items():
            log(f"{role}: {report.describe()}")
    if writer and not (resume and (folder / "compatibility.npz").is_file()):
        # A and B at the same moment, for every lookahead: an anticipating bundle's late look hears A's segment itself
        fit_compatibility([f for f in features if f.pair_id in set(split.train)], config.seed).save(folder / "compatibility.npz")
    if group is not None:
        group.barrier()  # rank 0's codebooks are on disk
        if not writer:
            codebooks, reports = load_codebooks(folder), dict[str, CodebookReport]()
    pairs = {p.pair_id: p for p in token_pairs(features, codebooks)}
    train_pairs = [pairs[i] for i in split.train]
    validation_pairs = [pairs[i] for i in split.validation]
    warning = too_little_data(train_pairs, config.sequence_length)
    if warning:
        log(f"warning: {warning}")
    if writer:
        recorded: dict[str, Any] = {
            "schema_version": RUN_SCHEMA,
            "train": asdict(config),
            "decision": config.decision().to_dict(),
            "split": split.to_dict(),
            "codebook_reports": {role: asdict(r) for role, r in reports.items()} or previous_reports,
            "corpus_pairs": [{"id": p.id, "source": p.provenance.get("source", p.guide)} for p in corpus.pairs],
        }
        if response_choice is not None:
            recorded["response_features_choice"] = response_choice
        if previous is not None and "history_dropout_choice" in previous:  # resumed with the share "auto" chose: still how it was chosen
            recorded["history_dropout_choice"] = previous["history_dropout_choice"]
        write_json_atomic(existing, recorded)

    token_init = codebooks["response"].centroids if shares_codebook(codebooks) else None
    fit_decision(
        config, train_pairs, validation_pairs, folder, resume=resume, log=log, progress=progress, token_init=token_init, group=group
    )
    return load_run(folder)


def _refuse_an_existing_run(folder: Path) -> None:
    """A run folder is never trained over without --resume."""
    if (folder / "checkpoint.json").exists():
        raise CountertrackError("already holds a run; pass --resume to continue it or choose another folder", folder)


def run_started(folder: str | Path) -> bool:
    """Whether a run was started in ``folder`` (so ``train`` must resume it, not start again): a
    checkpoint of its own, or of one of its history-dropout candidates."""
    folder = Path(folder)
    return (folder / "checkpoint.json").is_file() or _candidates_started(folder)


def _candidates_started(folder: Path) -> bool:
    """Whether any history-dropout candidate run of ``folder`` has a checkpoint."""
    return any((folder / "candidates").glob("*/checkpoint.json"))


def _train_choosing_history_dropout(
    config: TrainConfig,
    folder: Path,
    *,
    resume: bool,
    log: Callable[[str], None],
    progress: Callable[[Any, str, int], Any],
    group: Distributed | None,
) -> Run:
    """Train one candidate run per history dropout of HISTORY_DROPOUT_CANDIDATES (each resumable in
    its own folder) and copy the one ``choose_history_dropout`` keeps into ``folder``. Which is better depends on the music: a B line that moves with A's harmony
    gains from its own history; one that holds long notes and rests is predicted better from A
    alone, since a wrong guess fed back as history keeps it wrong."""
    if not resume:
        _refuse_an_existing_run(folder)
    recorded_run = read_json(folder / "config.json", "not a readable run") if resume and (folder / "config.json").is_file() else None
    if recorded_run is not None and "history_dropout_choice" not in recorded_run:
        share = recorded_run.get("train", {}).get("history_dropout")
        raise CountertrackError(
            f"cannot resume: settings differ from the run's (history_dropout: it trained {share}, not auto; "
            f"pass --history-dropout {share} to resume it)",
            folder / "config.json",
        )
    if recorded_run is not None and not _candidates_started(folder):
        # the candidates were deleted after the choice (they double the run's size): resume the chosen one
        chosen_share = float(recorded_run["history_dropout_choice"]["chosen"])
        log(f"history dropout {chosen_share} was chosen and its candidates are gone: resuming the chosen run")
        return train(replace(config, history_dropout=chosen_share), folder, resume=True, log=log, progress=progress, group=group)
    checkpoints: dict[float, dict[str, Any]] = {}
    for share in HISTORY_DROPOUT_CANDIDATES:
        candidate = folder / "candidates" / f"history-dropout-{share}"
        log(f"history dropout {share}: a candidate run in {candidate}")
        again = resume and (candidate / "checkpoint.json").is_file()
        train(replace(config, history_dropout=share), candidate, resume=again, log=log, progress=progress, group=group)
        checkpoints[share] = read_json(candidate / "checkpoint.json", "not a readable checkpoint")
    chosen, choice = choose_history_dropout(checkpoints)
    log(
        f"history dropout {chosen} chosen: validation greedy TPP "
        + ", ".join(f"{100 * checkpoints[share]['best_score']:.1f} % at {share}" for share in HISTORY_DROPOUT_CANDIDATES)
        + (
            f" (a model that hears more of its own guesses must be better by one standard error, {100 * choice['standard_error']:.1f} points)"
            if "standard_error" in choice
            else ""
        )
    )
    if group is None or group.main:
        source = folder / "candidates" / f"history-dropout-{chosen}"
        recorded = read_json(source / "config.json", "not a readable run")
        recorded["history_dropout_choice"] = choice
        (folder / "config.json").unlink(missing_ok=True)  # an earlier choice's: until the new one is written, the folder is incomplete
        for path in sorted(source.iterdir()):
            if path.is_file() and path.name != "config.json":
                write_bytes_atomic(folder / path.name, path.read_bytes())
        write_json_atomic(folder / "config.json", recorded)  # last: a run folder with a config.json is complete
    if group is not None:
        group.barrier()  # rank 0 has copied the chosen run
    return load_run(folder)


def choose_history_dropout(checkpoints: dict[float, dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """The history dropout to keep, and the record of why. The one-standard-error rule (Breiman et al.
    1984): the candidate that hides most of B's history (it cannot compound its own wrong guesses) is
    kept unless one that hears more of it scores better on the validation songs by more than the
    standard error of the difference, from the songs' paired greedy hits (a validation score differs
    by a segment or two from one candidate to the next by chance). Checkpoints without per-song
    counts (a run from before them, or trained on several processes) fall back to the higher score."""
    shares = sorted(checkpoints, reverse=True)  # most history hidden first
    scores = {share: float(checkpoints[share]["best_score"]) for share in shares}
    record: dict[str, Any] = {"validation_greedy_tpp": {str(k): scores[k] for k in sorted(checkpoints)}}
    counts = {share: np.asarray(checkpoints[share].get("best_song_counts", []), dtype=np.float64).reshape(-1, 2) for share in shares}
    totals = {share: counts[share][:, 1] for share in shares}
    paired = all(totals[share].size > 1 and np.array_equal(totals[share], totals[shares[0]]) for share in shares)
    if not paired:
        chosen = max(sorted(checkpoints), key=lambda share: scores[share])  # a tie keeps the earlier
        return chosen, {"chosen": chosen, **record}
    chosen = shares[0]
    for share in shares[1:]:
        error = paired_standard_error(counts[share][:, 0], counts[chosen][:, 0], totals[share])
        record["standard_error"] = error
        if scores[share] - scores[chosen] > error:
            chosen = share
    return chosen, {"chosen": chosen, **record, "rule": "one standard error"}


def paired_standard_error(hits: np.ndarray, other_hits: np.ndarray, totals: np.ndarray) -> float:
    """Standard error of the difference of two accuracies measured on the same songs: the songs'
    paired hit differences as a ratio estimate (songs, not segments, are the independent units)."""
    songs, segments = totals.size, float(totals.sum())
    if songs < 2:
        return float("nan")  # one song: no spread to measure
    difference = hits - other_hits
    residual = difference - totals * difference.sum() / segments
    return float(np.sqrt(songs / (songs - 1) * np.sum(residual**2)) / segments)


def fit_decision(
    config: TrainConfig,
    train_pairs: list[TokenPair],
    validation_pairs: list[TokenPair],
    folder: Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: Callable[[Any, str, int], Any] = lambda it, desc, total: it,
    token_init: np.ndarray | None = None,
    group: Distributed | None = None,
) -> tuple[DecisionModel, dict[str, Any]]:
    """Train the decision model on token pairs; checkpoints each epoch, keeps the best weights by
    greedy TPP on the validation songs, stops early. Returns the best model and the final state.
    With ``group``, every rank takes its share of each batch (``export.train.distributed_step``).

    Runs on one torch thread: the model is small, and two threads that must wait for each other
    were 15-20x slower whenever anything else used a core (measured on 2 cores). One fixed count
    also keeps the float reductions, hence the weights, the same on every machine."""
    with one_torch_thread():
        return _fit_decision(
            config, train_pairs, validation_pairs, folder, resume=resume, log=log, progress=progress, token_init=token_init, group=group
        )


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the decision model on one torch thread for the block (see ``fit_decision``), then restore."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def own_history(
    model: DecisionModel, a: torch.Tensor, b_in: torch.Tensor, share: float, pad: int, generator: torch.Generator
) -> torch.Tensor:
    """Parallel scheduled sampling (Duckworth et al. 2019): a ``share`` of the B-history tokens
    (never the first, BOS or the true token before the sequence) replaced by what the model itself
    would have played there, its greedy guess from the true history, so training sees the kind of
    history free-running generation feeds it."""
    with torch.no_grad():
        guess = model(a, b_in).argmax(-1)
    swap = torch.rand(b_in.shape, generator=generator) < share
    swap[:, 0] = False
    swap &= b_in != pad
    own = torch.cat([b_in[:, :1], guess[:, :-1]], dim=1)
    return torch.where(swap, own, b_in)


def _fit_decision(
    config: TrainConfig,
    train_pairs: list[TokenPair],
    validation_pairs: list[TokenPair],
    folder: Path,
    *,
    resume: bool,
    log: Callable[[str], None],
    progress: Callable[[Any, str, int], Any],
    token_init: np.ndarray | None,
    group: Distributed | None = None,
) -> tuple[DecisionModel, dict[str, Any]]:
    torch.manual_seed(config.seed)
    writer = group is None or group.main
    if group is not None:
        from export.train import distributed_step
    decision = config.decision()
    late = 1 if decision.lookahead == ANTICIPATE else 0  # an anticipating model's prior pairs A at t-1 with B at t
    prior = (
        table_prior([p.guide[: p.guide.size - late] for p in train_pairs], [p.response[late:] for p in train_pairs], decision)
        if config.table_prior
        else None
    )
    model = DecisionModel(decision, token_init=token_init, prior=prior)
    net = model if group is None else distributed_step.wrap(model, group)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    heard_train, heard_validation = (
        [replace(p, guide=guide_as_heard(p.guide, decision.lookahead, decision.bos)) for p in pairs]
        for pairs in (train_pairs, validation_pairs)
    )
    sequences = make_sequences(
        heard_train, config.sequence_length, max(1, config.sequence_length // 4), decision.ahead, decision.bos, decision.pad
    )
    validation_sequences = make_sequences(
        heard_validation, config.sequence_length, config.sequence_length, decision.ahead, decision.bos, decision.pad
    )
    steps_per_epoch = math.ceil(sequences["a"].shape[0] / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = warmup_steps(config.warmup_steps, total_steps)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best_score": -1.0, "best_epoch": 0, "bad_epochs": 0}
    if resume and (folder / "checkpoint.json").is_file():
        state = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "checkpoint.safetensors"))
        model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
        _load_optimizer_tensors(optimizer, {k: v for k, v in tensors.items() if k.startswith("optim.")})
        log(f"resuming after epoch {state['epoch']}")
    if writer:
        _trim_metrics(folder / "metrics.jsonl", state["epoch"])
    loss_function = torch.nn.CrossEntropyLoss(ignore_index=IGNORE, label_smoothing=config.label_smoothing)
    summed = torch.nn.CrossEntropyLoss(ignore_index=IGNORE, label_smoothing=config.label_smoothing, reduction="sum")
    epochs = progress(range(state["epoch"], config.epochs), "training", config.epochs - state["epoch"])
    for epoch in epochs:
        if state["bad_epochs"] >= config.patience:
            log(f"early stop after epoch {epoch}: no better validation score for {config.patience} epochs")
            state["stopped_early"] = True
            if writer:
                write_json_atomic(folder / "checkpoint.json", state)
            break
        started = time.perf_counter()
        torch.manual_seed(config.seed * 1000 + epoch)  # dropout masks: a resumed epoch replays exactly
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        model.train()
        order = torch.randperm(sequences["a"].shape[0], generator=generator)
        losses, hits, counted, loss_sum = [], 0, 0, 0.0
        for batch_start in range(0, order.numel(), config.batch_size):
            index = order[batch_start : batch_start + config.batch_size]
            a, b_in, target = sequences["a"][index], sequences["b_in"][index].clone(), sequences["target"][index]
            if config.scheduled_sampling > 0:
                b_in = own_history(model, a, b_in, config.scheduled_sampling, decision.pad, generator)
            drop = torch.rand(b_in.shape, generator=generator) < config.history_share
            b_in[drop & (b_in != decision.pad)] = decision.mask
            for param_group in optimizer.param_groups:
                param_group["lr"] = config.learning_rate * _lr_factor(state["step"], warmup, total_steps)
            if group is None:
                logits = model(a, b_in)
                loss = loss_function(logits.reshape(-1, decision.vocab_size), target.reshape(-1))
            else:
                loss, logits, target, local_sum = distributed_step.sharded_loss(net, a, b_in, target, group, summed, decision.vocab_size)
                loss_sum += local_sum
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            state["step"] += 1
            valid = target != IGNORE
            hits += int((logits.argmax(-1)[valid] == target[valid]).sum())
            counted += int(valid.sum())
            losses.append(float(loss.detach()))
        model.eval()
        if config.history_share >= 1.0:
            model.read_history_as_mask()
        if group is None:
            with torch.no_grad():
                validation_logits = model(validation_sequences["a"], validation_sequences["b_in"])
                validation_loss = float(
                    loss_function(validation_logits.reshape(-1, decision.vocab_size), validation_sequences["target"].reshape(-1))
                )
            song_counts = [greedy_counts(model, [pair]) for pair in validation_pairs]
            score = sum(h for h, _ in song_counts) / max(1, sum(t for _, t in song_counts))
            train_loss = float(np.mean(losses))
        else:  # every rank's share added up: train loss per token (not the mean of batch means), accuracy over all
            song_counts = None  # per song only in one process (the choice of history dropout then compares totals)
            validation_loss, score = distributed_step.sharded_validation(
                model, validation_sequences, validation_pairs, group, summed, decision.vocab_size
            )
            loss_sum, tokens, all_hits, all_counted = group.sum(loss_sum, counted, hits, counted)
            hits, counted = int(all_hits), int(all_counted)
            train_loss = loss_sum / max(1.0, tokens)
        record = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_accuracy": hits / max(1, counted),
            "validation_loss": validation_loss,
            "validation_greedy_tpp": score,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - started,
        }
        if hasattr(epochs, "set_postfix"):
            epochs.set_postfix(loss=f"{record['train_loss']:.3f}", acc=f"{record['train_accuracy']:.3f}", val_tpp=f"{score:.3f}")
        if getattr(epochs, "disable", True):  # no progress bar shows it (stderr is a file or a pipe): one line per epoch
            log(
                f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.3f}, accuracy {record['train_accuracy']:.3f}; "
                f"validation loss {validation_loss:.3f}, greedy TPP {100 * score:.1f} % ({record['seconds']:.1f} s)"
            )
        state["epoch"] = epoch + 1
        if score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
            state.pop("best_song_counts", None)
            if song_counts is not None:
                state["best_song_counts"] = [list(counts) for counts in song_counts]  # for the choice of history dropout
            if writer:
                _save_weights(folder / "model.safetensors", {f"{k}": v for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        if writer:
            _append_metrics(folder / "metrics.jsonl", record)
            _save_weights(
                folder / "checkpoint.safetensors",
                {**{f"model.{k}": v for k, v in model.state_dict().items()}, **_optimizer_tensors(optimizer)},
            )
            write_json_atomic(folder / "checkpoint.json", state)
    log(f"best validation greedy TPP {100 * state['best_score']:.1f} % at epoch {state['best_epoch']}")
    if group is not None:
        group.barrier()  # rank 0 has written the best weights
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval(), state


def _save_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))


def _trim_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the checkpoint (a run killed between the two writes)."""
    if path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kept = [line for line in lines if json.loads(line).get("epoch", 0) <= last_epoch]
        if kept != lines:
            write_bytes_atomic(path, "".join(line + "\n" for line in kept).encode("utf-8"))


def _append_metrics(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _with_prior(weights: dict[str, torch.Tensor], model: DecisionModel) -> dict[str, torch.Tensor]:
    """Weights of a run trained before the table prior existed read with a zero (neutral) prior."""
    return weights if "prior" in weights else {**weights, "prior": torch.zeros_like(model.prior)}


def load_run(run_dir: str | Path) -> Run:
    """Load a run's settings, split, codebooks and best weights (safetensors; nothing unpickled)."""
    folder = Path(run_dir)
    path = folder / "config.json"
    data = read_json(path, "not a readable run")
    if not isinstance(data, dict):
        raise CountertrackError("not a readable run (not an object)", path)
    version = checked_schema_version(data.get("schema_version", 1), RUN_SCHEMA, "run", path, error=CountertrackError)
    config = TrainConfig.from_dict(data["train"], version, path)
    split = Split(**{k: tuple(v) for k, v in data["split"].items()})
    model = DecisionModel(DecisionConfig.from_dict(data["decision"]))
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise CountertrackError("has no trained weights yet (model.safetensors)", folder)
    model.load_state_dict(_with_prior(load_file(str(weights)), model))
    compatibility = Compatibility.load(folder / "compatibility.npz") if (folder / "compatibility.npz").is_file() else None
    return Run(folder=folder, config=config, split=split, codebooks=load_codebooks(folder), model=model.eval(), compatibility=compatibility)

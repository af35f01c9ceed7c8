"""``countertrack train`` and ``countertrack eval``: thin wrappers over export.train.run and export.evaluation.paper_metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from export.model.codebook_fit import MAX_VOCAB, MIN_VOCAB
from export.train.config import CODEBOOKS, RESPONSE_FEATURES, default
from host_scripts.extras import needs_train_extra
from host_scripts.options import seed, share_or_auto
from host_scripts.progress import log, progress


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="learn how B answers A from a corpus",
        description="Segment and encode a corpus (cached), fit the codebook, and train the decision Transformer. "
        "Validation and test songs are held out by song. A killed run continues with --resume.",
    )
    train.add_argument("corpus", metavar="CORPUS", help="corpus folder (corpus.json and its pairs)")
    output = train.add_argument_group("output")
    output.add_argument("-o", "--output", required=True, metavar="RUN", help="run folder to write")
    output.add_argument("--resume", action="store_true", help="continue the run in RUN from its last checkpoint")
    add_training_options(train)
    processes = train.add_argument_group("processes")
    processes.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train on N processes of this machine with torchrun and "
        "DistributedDataParallel (gloo on CPU, NCCL on GPUs); the same recipe, each batch shared out (default: 1)",
    )
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "eval",
        help="score a run on held-out songs against baselines",
        description="Re-generation task: predict the true B tokens from A on held-out pairs. Reports TPP and LCP "
        "against uniform, unigram, majority and context-free table baselines fitted on the training songs.",
    )
    evaluate.add_argument("run_dir", metavar="RUN", nargs="?", help="a trained run (not needed with --sweep)")
    data = evaluate.add_argument_group("data")
    data.add_argument("--corpus", required=True, help="corpus holding the held-out pairs (the run's own corpus: its test songs)")
    output = evaluate.add_argument_group("output")
    output.add_argument("--json", metavar="OUT.json", help="write the scores as JSON")
    output.add_argument("--plot", metavar="OUT.png", help="write a bar chart of the scores")
    output.add_argument("--markdown", metavar="OUT.md", help="write the table as Markdown")
    output.add_argument("--force", action="store_true", help="overwrite existing --json/--plot/--markdown files")
    scoring = evaluate.add_argument_group("scoring")
    scoring.add_argument("--seed", type=seed, default=0, help="random seed of the sampled rows and the renders")
    scoring.add_argument("--top-p", type=float, default=0.8, help="nucleus for the sampled rows (default 0.8, the paper's)")
    audio = evaluate.add_argument_group("audio report")
    audio.add_argument(
        "--audio",
        action="store_true",
        help="also render the held-out songs (model and oracle tokens) and measure "
        "the audio: B onsets on A's beats, consonance with A, seams",
    )
    audio.add_argument("--bundle", help="with --audio: the bundle to render with (default: the run exported with its training B as memory)")
    sweep = evaluate.add_argument_group("sweep (instead of RUN)")
    sweep.add_argument(
        "--sweep",
        metavar="DIR",
        help="train and evaluate the paper's sweep (segments 0.25/0.35/0.5 s, a beat and half a "
        "beat x vocabulary 16/64/256) on --corpus, runs and tables under DIR (default: evaluate RUN only)",
    )
    sweep.add_argument("--epochs", type=int, default=30, help="at most this many epochs per configuration")
    sweep.add_argument(
        "--segments", default="0.25,0.35,0.5,beat,half-beat", help="segment lengths in seconds, or beat / half-beat, comma-separated"
    )
    sweep.add_argument("--vocabs", default="16,64,256", help="vocabulary sizes, comma-separated")
    evaluate.set_defaults(run=_eval)


def add_training_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data: how songs are cut into segments")
    data.add_argument(
        "--segmentation",
        choices=("uniform", "beats", "onsets"),
        default=default("segmentation")["strategy"],
        help="segments: beats (each pair's own, from its score MIDI or found in A), a uniform hop, or onsets",
    )
    data.add_argument(
        "--hop",
        type=float,
        default=default("segmentation")["hop_s"],
        metavar="SECONDS",
        help="uniform: segment length (the hop between segments)",
    )
    data.add_argument("--bpm", type=float, help="beats: one steady tempo for every pair (default: each pair's own beats)")
    data.add_argument(
        "--tempo-map", help="beats: a MIDI file, or 'pair' for each pair's own score MIDI (required then) (default: each pair's own beats)"
    )
    data.add_argument("--subdivision", type=int, default=default("segmentation")["subdivision"], help="beats: segments per beat")
    model = parser.add_argument_group("model: perception and decision")
    model.add_argument("--encoder", choices=("spectral", "wav2vec2"), default="spectral", help="perception backend")
    model.add_argument(
        "--encoder-path", metavar="DIR", help="wav2vec2: local model folder for from_pretrained (default: none; required with wav2vec2)"
    )
    model.add_argument("--layer", type=int, help="wav2vec2: hidden state to pool (default: last)")
    model.add_argument(
        "--vocab", type=int, default=default("vocab"), help=f"codebook size, {MIN_VOCAB}..{MAX_VOCAB} (the paper used 16..1024)"
    )
    model.add_argument(
        "--codebook",
        choices=CODEBOOKS,
        default=default("codebook"),
        help="one codebook for A and B (shared, the paper's), one each (per-role), or shared unless a role "
        "would use only a few of its tokens (auto)",
    )
    model.add_argument(
        "--response-features",
        choices=RESPONSE_FEATURES,
        default=default("response_features"),
        help="what B's tokens are about: its sound (timbre, register, pitch), its rhythm (its level and how "
        "that moves over the segment: attacks, rests, held notes; blind to pitch and timbre: what drums tell of a bass), or the one A's tokens tell most about on the "
        "validation songs (auto)",
    )
    model.add_argument(
        "--lookahead",
        default=str(default("lookahead")),
        help="future A segments the model may hear: its latency in segments "
        "(0 = causal; 'anticipate' = B for a segment chosen from A before it, to play along "
        "live; 'offline' = as many as the context)",
    )
    model.add_argument("--context", type=int, default=default("context"), help="segments of history attended to")
    model.add_argument("--d-model", type=int, default=default("d_model"), help="Transformer width")
    model.add_argument("--layers", type=int, default=default("layers"), help="decoder layers")
    model.add_argument("--heads", type=int, default=default("heads"), help="attention heads (must divide --d-model)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=default("epochs"), help="at most this many epochs (early stopping may end sooner)")
    training.add_argument(
        "--sequence-length",
        type=int,
        default=default("sequence_length"),
        help="segments per training sequence (the model's context when it learns)",
    )
    training.add_argument("--batch-size", type=int, default=default("batch_size"), help="training sequences per step")
    training.add_argument(
        "--learning-rate", type=float, default=default("learning_rate"), help="peak learning rate (warm-up, then cosine decay)"
    )
    training.add_argument(
        "--history-dropout",
        type=share_or_auto,
        default=default("history_dropout"),
        help="share of B-history tokens hidden in training (exposure bias cure), or auto: 0.5 and 1.0 each trained, "
        "1.0 kept unless 0.5 is better on the validation songs by more than one standard error (twice the training time; RUN/candidates/ may be deleted afterwards, "
        "--resume then continues the chosen run)",
    )
    training.add_argument(
        "--scheduled-sampling",
        type=float,
        default=default("scheduled_sampling"),
        help="share of B-history tokens replaced in training by the model's own greedy guess (exposure bias cure)",
    )
    training.add_argument(
        "--patience", type=int, default=default("patience"), help="early stop after this many epochs without a better validation score"
    )
    training.add_argument("--seed", type=seed, default=default("seed"), help="random seed of the split, codebook and training")


def training_config(args: argparse.Namespace, corpus: str):
    from export.model.encoder_spec import EncoderSpec
    from export.train.config import TrainConfig
    from plugin_core.decision.config import ANTICIPATE
    from plugin_core.errors import CountertrackError
    from plugin_core.perception.segmentation import SegmentationConfig

    segmentation = SegmentationConfig(
        strategy=args.segmentation, hop_s=args.hop, bpm=args.bpm, tempo_map=args.tempo_map, subdivision=args.subdivision
    )
    encoder = EncoderSpec.new(backend=args.encoder, path=args.encoder_path, layer=args.layer)
    if args.lookahead == "offline":
        lookahead = args.context - 1
    elif args.lookahead == "anticipate":
        lookahead = ANTICIPATE
    else:
        try:
            lookahead = int(args.lookahead)
        except ValueError:
            raise CountertrackError(f"--lookahead takes a number of segments, 'anticipate' or 'offline', not {args.lookahead!r}") from None
    return TrainConfig(
        corpus=corpus,
        encoder=encoder.to_dict(),
        segmentation=segmentation.to_dict(),
        vocab=args.vocab,
        codebook=args.codebook,
        response_features=args.response_features,
        d_model=args.d_model,
        heads=args.heads,
        layers=args.layers,
        context=args.context,
        lookahead=lookahead,
        epochs=args.epochs,
        sequence_length=args.sequence_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        history_dropout=args.history_dropout,
        scheduled_sampling=args.scheduled_sampling,
        patience=args.patience,
        seed=args.seed,
    )


def _log(message: str) -> None:
    log(message)


@needs_train_extra("train", "torch", "safetensors", "sklearn")
def _train(args: argparse.Namespace) -> int:
    from export.train.distributed import from_environment, leave
    from export.train.run import train

    config = training_config(args, args.corpus)
    if args.nproc and args.nproc != 1:
        from host_scripts.torchrun import launch

        return launch(args.argv, args.nproc)
    group = from_environment()  # several processes when torchrun started this one, else None
    try:
        run = train(
            config,
            args.output,
            resume=args.resume,
            log=_log,
            group=group,
            progress=lambda items, description, total: progress(items, description, total=total, unit="step"),
        )
    finally:
        leave(group)
    if group is None or group.main:
        where = f" on {group.world} processes" if group else ""
        print(f"trained run in {run.folder}{where}: vocabulary {config.vocab}, lookahead {config.lookahead} segments")
        for path in sorted(Path(run.folder).iterdir()):
            print(f"wrote {path}{'/' if path.is_dir() else ''}")
    return 0


@needs_train_extra("eval", "torch", "safetensors", "sklearn")
def _eval(args: argparse.Namespace) -> int:
    from export.evaluation.paper_metrics import evaluate, write_reports
    from export.train.run import load_run
    from plugin_core.errors import CountertrackError
    from plugin_core.io.outputs import plan_outputs

    if args.sweep:
        from export.evaluation.sweep import sweep

        swept = sweep(
            args.corpus,
            args.sweep,
            segments=args.segments.split(","),
            vocabs=[int(v) for v in args.vocabs.split(",")],
            epochs=args.epochs,
            seed=args.seed,
            log=_log,
        )
        print(swept.table)
        for written in swept.written:  # on stderr, as for one run's eval: stdout is the table
            log(f"wrote {written}{'/' if written.is_dir() else ''}")
        return 0
    if not args.run_dir:
        raise CountertrackError("name a RUN to evaluate, or pass --sweep DIR")
    run = load_run(args.run_dir)
    audio_plot = str(Path(args.plot).with_suffix(".audio.png")) if args.audio and args.plot else None
    reports = (args.json, args.plot, args.markdown, audio_plot)
    inputs = [
        args.run_dir,
        *Path(args.run_dir).rglob("*"),
        args.corpus,
        *(Path(args.corpus).rglob("*") if Path(args.corpus).is_dir() else []),
    ]
    with plan_outputs(reports, inputs, force=args.force) as outputs:  # all checked before the work
        result = evaluate(run, args.corpus, seed=args.seed, top_p=args.top_p)
        if args.audio:
            from export.evaluation.audio_report import audio_report_for_run

            result["audio"] = audio_report_for_run(
                run,
                args.corpus,
                bundle=args.bundle,
                seed=args.seed,
                progress=lambda items, description, total: progress(items, description, total=total, unit="song"),
            )
        table = write_reports(result, *(outputs.staged(path) if path else None for path in reports))
        outputs.commit()
    print(table)
    for path in reports:
        if path:
            log(f"wrote {path}")  # on stderr: stdout is the table, as the Markdown file holds it
    return 0

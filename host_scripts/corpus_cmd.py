"""``countertrack corpus``: build corpora of (A, B) pairs from stems or scores, and inspect them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from host_scripts.extras import needs_train_extra
from host_scripts.options import capped_jobs
from host_scripts.progress import progress
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import probe_audio
from plugin_core.io.corpus import load_corpus

LAYOUT_NAMES = ("folders", "moisesdb", "musdb", "slakh")  # export.data.datasets.LAYOUTS, named without importing it


def register(commands: argparse._SubParsersAction) -> None:
    corpus = commands.add_parser(
        "corpus",
        help="build or inspect a corpus of (A, B) pairs",
        description="Build or inspect a corpus: a folder of (guide A, response B) pairs and its corpus.json.",
    )
    sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    stems = sub.add_parser(
        "from-stems",
        help="pair the stems of song folders or of MoisesDB, MUSDB18-HQ, Slakh2100",
        description="Pair the stems of every song under DIR: plain song folders, or a data set in its own "
        "layout (MoisesDB, MUSDB18's WAV layout, Slakh2100), detected or named with --layout. "
        "A song lacking a chosen stem, whose files differ in rate, channels or length, or whose "
        "A or B is silent is reported and skipped.",
    )
    stems.add_argument("stems_dir", metavar="DIR", help="folder of song folders, or the root of a data set")
    pairing = stems.add_argument_group("data: which stems make A and B")
    pairing.add_argument(
        "--guide",
        required=True,
        metavar="SELECTOR",
        help="stem(s) for A, comma-separated globs: file names in song folders and MUSDB18 ('drums*', "
        "'drums.wav'), stem types in MoisesDB ('guitar,piano'), instrument classes in Slakh2100 "
        "('Piano' or 'class:Piano'); 'others' = every stem that is not the response (the paper's A); "
        "several stems are summed",
    )
    pairing.add_argument("--response", required=True, metavar="SELECTOR", help="stem(s) for B, e.g. 'bass*', bass, class:Bass")
    pairing.add_argument(
        "--layout",
        choices=["auto", *LAYOUT_NAMES],
        default="auto",
        help="how DIR is laid out (default: detected; song folders when no data set fits)",
    )
    pairing.add_argument("--tolerance-ms", type=float, default=1.0, help="largest length difference accepted between stems (default 1 ms)")
    stems_output = stems.add_argument_group("output")
    stems_output.add_argument("-o", "--output", required=True, metavar="CORPUS", help="corpus folder to write (new or empty)")
    stems_output.add_argument("--force", action="store_true", help="replace an existing corpus folder")
    stems.set_defaults(run=_from_stems)

    scores = sub.add_parser(
        "from-scores",
        help="render multi-part scores to aligned stems",
        description="Render the guide and response parts of multi-part scores (MIDI, MusicXML, or "
        "music21's bundled corpus) to separated, sample-aligned stems with FluidSynth.",
    )
    scores.add_argument("scores", nargs="*", metavar="SCORE", help="MIDI/MusicXML files, or music21 corpus names such as bach/bwv66.6")
    chosen = scores.add_argument_group("data: which scores and parts")
    chosen.add_argument(
        "--composer", help="add the works of this composer from music21's corpus (e.g. bach; default: only the SCOREs named)"
    )
    chosen.add_argument("--limit", type=_positive_int, help="stop after this many pairs (default: no limit)")
    chosen.add_argument(
        "--guide", required=True, metavar="PARTS", help="part(s) for A by name or 0-based index, comma-separated (e.g. soprano)"
    )
    chosen.add_argument("--response", required=True, metavar="PARTS", help="part(s) for B, e.g. bass")
    rendering = scores.add_argument_group("rendering (FluidSynth)")
    rendering.add_argument("--guide-program", type=_gm_program, default=73, help="GM program for A's parts (default 73, flute)")
    rendering.add_argument("--response-program", type=_gm_program, default=32, help="GM program for B's parts (default 32, acoustic bass)")
    rendering.add_argument("--sample-rate", type=int, default=44100, help="rendering rate in Hz (default 44100)")
    rendering.add_argument("--soundfont", help="General MIDI SoundFont (default: FluidR3_GM, else pretty_midi's TimGM6mb)")
    rendering.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="scores rendered at once (default: one per core; the corpus is the same for any number)",
    )
    scores_output = scores.add_argument_group("output")
    scores_output.add_argument("-o", "--output", required=True, metavar="CORPUS", help="corpus folder to write (new or empty)")
    scores_output.add_argument("--force", action="store_true", help="replace an existing corpus folder")
    scores.set_defaults(run=_from_scores)

    info = sub.add_parser(
        "info",
        help="summarise a corpus and check its files",
        description="List a corpus's pairs and total duration, and check that every file is readable and aligned. "
        "Exits 1 when it lists a problem (a file changed or unreadable, or a song skipped when the corpus was built).",
    )
    info.add_argument("corpus", metavar="CORPUS")
    info.set_defaults(run=_info)


def _from_stems(args: argparse.Namespace) -> int:
    from export.data.stems_corpus import build_from_stems

    corpus, problems = build_from_stems(
        args.stems_dir,
        _split(args.guide),
        _split(args.response),
        args.output,
        tolerance_s=args.tolerance_ms / 1000.0,
        layout=None if args.layout == "auto" else args.layout,
        force=args.force,
        progress=lambda songs: progress(songs, "pairing stems", unit="song"),
    )
    _report(corpus.root, len(corpus.pairs), corpus.duration_s, problems)
    return 0


@needs_train_extra("corpus from-scores", "music21")
def _from_scores(args: argparse.Namespace) -> int:
    from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works

    sources = list(args.scores)
    if args.composer:
        sources += music21_works(args.composer)
    if not sources:
        raise CountertrackError("no scores given: name files, corpus works, or --composer")
    _check_corpus_folder(args.output, sources)
    request = ScoreCorpusRequest(
        sources=tuple(sources),
        guide_parts=_split(args.guide),
        response_parts=_split(args.response),
        guide_program=args.guide_program,
        response_program=args.response_program,
        limit=args.limit,
        sample_rate=args.sample_rate,
        soundfont=args.soundfont,
    )
    total = min(len(sources), args.limit) if args.limit else len(sources)
    corpus, problems = build_from_scores(
        request,
        args.output,
        progress=lambda items: progress(items, "rendering scores", total=total, unit="score"),
        jobs=capped_jobs(args.jobs),
        force=args.force,
    )
    _report(corpus.root, len(corpus.pairs), corpus.duration_s, problems)
    return 0


def _info(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus)
    problems = list(corpus.problems)
    print(f"corpus {corpus.root}: guide {corpus.guide!r} -> response {corpus.response!r}")
    for pair in corpus.pairs:
        status = "ok"
        for path in (corpus.path_of(pair.guide), corpus.path_of(pair.response)):
            try:
                info = probe_audio(path)
                if info.num_samples < pair.num_samples or info.sample_rate != pair.sample_rate:
                    raise CountertrackError("no longer matches the manifest (length or sample rate changed)", path)
            except CountertrackError as exc:
                problems.append(str(exc))
                status = "PROBLEM"
        print(f"  {pair.id:<32} {pair.duration_s:8.1f} s  {pair.sample_rate} Hz  {status}")
    print(f"{len(corpus.pairs)} pairs, {corpus.duration_s / 60:.1f} min in all, {len(problems)} problem(s)")
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else 0  # a script can tell a corpus with problems from a sound one


def _check_corpus_folder(output: str, inputs: list[str]) -> None:
    """Before any work: the corpus folder is a folder (or new) and none of the inputs."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise CountertrackError("exists and is not a folder", out)
    for item in inputs:
        if os.path.lexists(item) and out.resolve() == Path(item).resolve():
            raise CountertrackError("is also an input; write the corpus into another folder", out)


def _report(root: Path, count: int, duration_s: float, problems: list[str]) -> None:
    for problem in problems:
        print(f"countertrack: skipped: {problem}", file=sys.stderr)
    print(f"wrote {count} pair(s), {duration_s / 60:.1f} min, to {root / 'corpus.json'}; {len(problems)} skipped")


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _gm_program(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 127:
        raise argparse.ArgumentTypeError(f"a GM program is 0..127, got {value}")
    return value

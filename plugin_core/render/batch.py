"""Batch rendering: many A tracks in worker processes, resumable, one bad file never stops the rest.

Each worker loads the bundle once. Outputs that already exist are skipped, so a batch that was
interrupted (or whose worker died) finishes by running it again; every output is written
atomically, so none is ever half-written. The summary says what succeeded, was skipped or failed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.atomic import sweep_stale, write_json_atomic
from plugin_core.io.stopping import init_worker, run_task, worker_pool

_worker_bundle = None
_worker_preset = None
_worker_error = ""  # why this worker could not load the bundle or preset (each task reports it)

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff")


@dataclass(frozen=True)
class BatchOptions:
    """What every file of a batch is rendered with: the render command's choices, applied to each."""

    seed: int | None = None  # None: the preset's seed, else 0
    preset: str | None = None
    force: bool = False  # render again over outputs that exist (each replaced only when its render succeeds)
    mix: bool = False  # also NAME.mix.EXT: A + B
    midi: bool = False  # also NAME.mid: the answer as notes on A's tempo
    bpm: float | None = None
    beat_offset: float = 0.0
    tempo_map: str | None = None  # one MIDI tempo map for every input (takes of one song)
    parameters: dict[str, Any] = field(default_factory=dict)  # by runtime name, over the preset's


@dataclass(frozen=True)
class BatchTargets:
    """The files one input renders to: B, and A + B and the MIDI answer when asked for."""

    b: Path
    mix: Path | None = None
    midi: Path | None = None

    def all(self) -> list[Path]:
        return [p for p in (self.b, self.mix, self.midi) if p is not None]


@dataclass
class BatchSummary:
    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # every file the succeeded inputs rendered to

    def done(self, path: Path, targets: BatchTargets) -> None:
        """Record an input rendered, with the files it was written to."""
        self.succeeded.append(str(path))
        self.written.extend(str(target) for target in targets.all())

    def to_dict(self) -> dict:
        return {"succeeded": self.succeeded, "skipped": self.skipped, "failed": self.failed, "written": self.written}


def output_path(input_path: Path, out_dir: Path) -> Path:
    """B's file for ``input_path`` (a path relative to the batch's inputs) in ``out_dir``: the same
    name and sub-folders, a lossless format kept, anything else written as WAV."""
    suffix = input_path.suffix.lower() if input_path.suffix.lower() in AUDIO_SUFFIXES else ".wav"
    return out_dir / input_path.with_suffix(suffix)


def targets_for(relative: Path, out_dir: Path, options: BatchOptions) -> BatchTargets:
    b = output_path(relative, out_dir)
    return BatchTargets(
        b=b, mix=b.with_name(f"{b.stem}.mix{b.suffix}") if options.mix else None, midi=b.with_suffix(".mid") if options.midi else None
    )


def relative_inputs(inputs: list[Path]) -> list[Path]:
    """Each input below the folder all of them share, so ``songs/*/melody.wav`` keeps its song folders
    in the output names instead of writing every song to one ``melody.wav``."""
    if not inputs:
        return []
    absolute = [Path(os.path.abspath(p)) for p in inputs]
    base = Path(os.path.commonpath([p.parent for p in absolute]))
    return [p.relative_to(base) for p in absolute]


def _init_worker(bundle_path: str, preset_name: str | None, cores: int) -> None:
    global _worker_bundle, _worker_preset, _worker_error
    init_worker()
    from plugin_core.bundle.load import load_bundle
    from plugin_core.stream.presets import load_preset

    try:
        _worker_bundle = load_bundle(bundle_path, cores=cores)  # its share of the cores, not all of them
        _worker_preset = load_preset(preset_name) if preset_name else None
    except CountertrackError as exc:  # e.g. changed since the parent checked it: said per file, not "a worker died"
        _worker_error = str(exc)


def render_with_options(bundle: Any, preset: Any, input_path: Path, targets: BatchTargets, options: BatchOptions) -> None:
    """One file of a batch, with the batch's options."""
    from plugin_core.perception.segmentation import with_tempo
    from plugin_core.render.offline import render_file

    segmentation = with_tempo(bundle.perception.spec.segmentation, options.bpm, options.beat_offset, options.tempo_map)
    render_file(
        bundle,
        input_path,
        targets.b,
        seed=options.seed,
        preset=preset,
        segmentation=segmentation,
        mix_path=targets.mix,
        midi_path=targets.midi,
        force=options.force,
        parameters=options.parameters or None,
    )


def _render_one(input_path: str, targets: BatchTargets, options: BatchOptions) -> str:
    if _worker_error:
        return _worker_error
    try:
        render_with_options(_worker_bundle, _worker_preset, Path(input_path), targets, options)
    except CountertrackError as exc:
        return str(exc)
    return ""


def worker_count(jobs: int) -> int:
    """The workers a batch runs: ``jobs``, at most one per core (more only compete for them)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigurationError(f"--jobs must be a whole number of at least 1, not {jobs!r}")
    return min(jobs, os.cpu_count() or 1)


def run_batch(
    inputs: list[Path],
    bundle_path: str,
    out_dir: Path,
    *,
    jobs: int = 2,
    options: BatchOptions | None = None,
    summary_path: Path | None = None,
    on_done: Callable[[], None] = lambda: None,
) -> BatchSummary:
    """Render every input into ``out_dir`` (below it, the sub-folders the inputs have below the folder
    they share); returns (and writes) the summary. The bundle, preset and tempo map are checked here
    first, so a bad one is one line before any worker starts; ``jobs`` is capped at the cores
    (``worker_count``). Stopped (Ctrl-C, SIGTERM), it cancels what has not started and stops its
    workers, which remove their temporary files."""
    options = options or BatchOptions()
    jobs = worker_count(jobs)
    check_batch_inputs(bundle_path, options)
    check_summary_replaceable(summary_path or out_dir / "batch-summary.json", options.force)
    with removing_empty_folders_made() as made:
        summary, todo = plan_batch(inputs, out_dir, options, on_done, made=made)
        _render_in_pool(todo, bundle_path, jobs, options, summary, on_done)
        return finish_batch(summary, summary_path or out_dir / "batch-summary.json")


@contextlib.contextmanager
def removing_empty_folders_made() -> Iterator[list[Path]]:
    """A list for the folders a batch makes; those still empty when it ends (its songs failed, or it was
    stopped before them) are removed, deepest first: a batch leaves no empty folder of its own behind."""
    made: list[Path] = []
    try:
        yield made
    finally:
        for folder in sorted(made, key=lambda path: len(path.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty (or gone): kept
                folder.rmdir()


def _make_folder(folder: Path, made: list[Path]) -> None:
    """``folder`` and the parents it lacks, each recorded in ``made``."""
    folder = Path(os.path.abspath(folder))  # "new/../data" is data: never counted as made when new/ is missing
    missing = [parent for parent in [folder, *folder.parents] if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    made.extend(missing)


def _render_in_pool(
    todo: list[tuple[Path, BatchTargets]],
    bundle_path: str,
    jobs: int,
    options: BatchOptions,
    summary: BatchSummary,
    on_done: Callable[[], None],
) -> None:
    if todo:
        with worker_pool(
            jobs, initializer=_init_worker, initargs=(bundle_path, options.preset, max(1, (os.cpu_count() or 1) // max(1, jobs)))
        ) as pool:
            futures = {pool.submit(run_task, _render_one, str(path), targets, options): (path, targets) for path, targets in todo}
            for future in concurrent.futures.as_completed(futures):
                path, targets = futures[future]
                try:
                    error = future.result()
                except BrokenProcessPool:
                    error = "a worker process died; run the batch again to finish it"
                except Exception as exc:  # an unexpected failure in one file must not stop the batch
                    error = f"{type(exc).__name__}: {exc}"
                if error:
                    summary.failed.append({"input": str(path), "error": error})
                else:
                    summary.done(path, targets)
                on_done()


def check_batch_inputs(bundle_path: str, options: BatchOptions) -> Any:
    """Load the bundle (a zip extracted once), the preset and the tempo map before any worker or
    output: a bad one is one line. Returns the loaded preset (None without one)."""
    from plugin_core.bundle.load import load_bundle
    from plugin_core.perception.segmentation import with_tempo
    from plugin_core.stream.presets import load_preset

    bundle = load_bundle(bundle_path, threads=1)
    preset = load_preset(options.preset) if options.preset else None
    with_tempo(bundle.perception.spec.segmentation, options.bpm, options.beat_offset, options.tempo_map)
    if options.tempo_map:
        from plugin_core.io.midi_read import read_midi

        read_midi(options.tempo_map)  # a bad map is one line here, not one per file
    return preset


def plan_batch(
    inputs: list[Path],
    out_dir: Path,
    options: BatchOptions | None = None,
    on_done: Callable[[], None] = lambda: None,
    *,
    made: list[Path] | None = None,
) -> tuple[BatchSummary, list[tuple[Path, BatchTargets]]]:
    """Create ``out_dir`` and decide each input's fate before any work: (input, its targets) to render;
    inputs whose B exists are skipped (unless ``options.force``) and two inputs that would write one
    output fail. Shared by the local pool and the Ray batch (``plugin_core.render.ray_batch``), so both
    resume the same way."""
    options = options or BatchOptions()
    made = [] if made is None else made
    if out_dir.exists() and not out_dir.is_dir():
        raise CountertrackError("exists and is not a folder", out_dir)
    try:
        _make_folder(out_dir, made)
    except OSError as exc:
        raise CountertrackError(f"cannot create the output folder ({exc.strerror})", out_dir) from exc
    sweep_stale(out_dir)  # temporary files of a batch that was killed mid-write
    summary = BatchSummary()
    todo: list[tuple[Path, BatchTargets]] = []
    seen: set[Path] = set()
    for path, relative in zip(inputs, relative_inputs(inputs), strict=True):
        targets = targets_for(relative, out_dir, options)
        clash = next((t for t in targets.all() if t in seen), None)
        if clash is not None:
            summary.failed.append({"input": str(path), "error": f"another input also renders to {clash}"})
            continue
        seen.update(targets.all())
        present = [t for t in targets.all() if t.exists()]
        if len(present) == len(targets.all()) and not options.force:
            summary.skipped.append(str(path))
            on_done()
        elif present and not options.force:  # one render writes them all: it would replace what is there
            missing = [t.name for t in targets.all() if t not in present]
            summary.failed.append(
                {
                    "input": str(path),
                    "error": f"partly rendered before ({', '.join(t.name for t in present)} in {targets.b.parent}, "
                    f"not {', '.join(missing)}): --force renders it again",
                }
            )
            on_done()
        else:
            try:
                _make_folder(targets.b.parent, made)
            except OSError as exc:
                summary.failed.append({"input": str(path), "error": f"cannot create {targets.b.parent} ({exc.strerror})"})
                continue
            todo.append((path, targets))
    return summary, todo


def check_summary_replaceable(summary_path: Path, force: bool) -> None:
    """A batch rewrites its own summary (a rerun updates it), never a file that is not one unless ``force``."""
    if force or not (summary_path.exists() or summary_path.is_symlink()):
        return
    try:
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    required = {"succeeded", "skipped", "failed"}  # what every version wrote ("written" came later)
    if not (isinstance(data, dict) and required <= set(data) <= set(BatchSummary().to_dict())):
        raise CountertrackError("exists and is not a batch summary (use --force to replace it)", summary_path)


def finish_batch(summary: BatchSummary, summary_path: Path) -> BatchSummary:
    """Sort the summary (the order of completion is not reproducible) and write it atomically."""
    summary.succeeded.sort()
    summary.written.sort()
    summary.failed.sort(key=lambda item: item["input"])
    write_json_atomic(summary_path, summary.to_dict())
    return summary

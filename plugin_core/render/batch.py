"""Batch rendering: many A tracks in worker processes, resumable, one bad file never stops the rest.

Each worker loads the bundle once. Outputs that already exist are skipped, so a batch that was
interrupted (or whose worker died) finishes by running it again; every output is written
atomically, so none is ever half-written. The summary says what succeeded, was skipped or failed.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from plugin_core.io.atomic import sweep_stale, write_json_atomic
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.stopping import init_worker, run_task, worker_pool

_worker_bundle = None
_worker_preset = None
_worker_error = ""  # why this worker could not load the bundle or preset (each task reports it)


@dataclass
class BatchSummary:
    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"succeeded": self.succeeded, "skipped": self.skipped, "failed": self.failed}


def output_path(input_path: Path, out_dir: Path) -> Path:
    suffix = input_path.suffix.lower() if input_path.suffix.lower() in (".wav", ".flac", ".aif", ".aiff") else ".wav"
    return out_dir / f"{input_path.stem}{suffix}"


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


def _render_one(input_path: str, output: str, seed: int) -> str:
    from plugin_core.render.offline import render_file

    if _worker_error:
        return _worker_error
    try:
        render_file(_worker_bundle, input_path, output, seed=seed, preset=_worker_preset, force=False)
    except CountertrackError as exc:
        return str(exc)
    return ""


def worker_count(jobs: int) -> int:
    """The workers a batch runs: ``jobs``, at most one per core (more only compete for them)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigurationError(f"--jobs must be a whole number of at least 1, not {jobs!r}")
    return min(jobs, os.cpu_count() or 1)


def run_batch(inputs: list[Path], bundle_path: str, out_dir: Path, *, jobs: int = 2, seed: int = 0, preset: str | None = None,
              summary_path: Path | None = None, on_done: Callable[[], None] = lambda: None) -> BatchSummary:
    """Render every input into ``out_dir``; returns (and writes) the summary. The bundle and preset are
    loaded here first, so a bad one is one line before any worker starts; ``jobs`` is capped at the
    cores (``worker_count``). Stopped (Ctrl-C, SIGTERM), it cancels what has not started and stops its
    workers, which remove their temporary files."""
    jobs = worker_count(jobs)
    check_bundle_and_preset(bundle_path, preset)
    summary, todo = plan_batch(inputs, out_dir, on_done)
    if todo:
        with worker_pool(jobs, initializer=_init_worker,
                         initargs=(bundle_path, preset, max(1, (os.cpu_count() or 1) // max(1, jobs)))) as pool:
            futures = {pool.submit(run_task, _render_one, str(path), str(target), seed): path for path, target in todo}
            for future in concurrent.futures.as_completed(futures):
                path = futures[future]
                try:
                    error = future.result()
                except BrokenProcessPool:
                    error = "a worker process died; run the batch again to finish it"
                except Exception as exc:  # an unexpected failure in one file must not stop the batch
                    error = f"{type(exc).__name__}: {exc}"
                if error:
                    summary.failed.append({"input": str(path), "error": error})
                else:
                    summary.succeeded.append(str(path))
                on_done()
    return finish_batch(summary, summary_path or out_dir / "batch-summary.json")


def check_bundle_and_preset(bundle_path: str, preset: str | None) -> None:
    """Load the bundle (a zip extracted once) and the preset before any worker or output: a bad one is one line."""
    from plugin_core.bundle.load import load_bundle
    from plugin_core.stream.presets import load_preset

    load_bundle(bundle_path, threads=1)
    if preset:
        load_preset(preset)


def plan_batch(inputs: list[Path], out_dir: Path, on_done: Callable[[], None] = lambda: None) -> tuple[BatchSummary, list[tuple[Path, Path]]]:
    """Create ``out_dir`` and decide each input's fate before any work: (input, output) pairs to render;
    inputs whose output exists are skipped and two inputs that would write one output fail. Shared by
    the local pool and the Ray batch (``plugin_core.render.ray_batch``), so both resume the same way."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CountertrackError("exists and is not a folder", out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CountertrackError(f"cannot create the output folder ({exc.strerror})", out_dir) from exc
    sweep_stale(out_dir)  # temporary files of a batch that was killed mid-write
    summary = BatchSummary()
    todo: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for path in inputs:
        target = output_path(path, out_dir)
        if target in seen:
            summary.failed.append({"input": str(path), "error": f"another input also renders to {target.name}"})
            continue
        seen.add(target)
        if target.exists():
            summary.skipped.append(str(path))
            on_done()
        else:
            todo.append((path, target))
    return summary, todo


def finish_batch(summary: BatchSummary, summary_path: Path) -> BatchSummary:
    """Sort the summary (the order of completion is not reproducible) and write it atomically."""
    summary.succeeded.sort()
    summary.failed.sort(key=lambda item: item["input"])
    write_json_atomic(summary_path, summary.to_dict())
    return summary

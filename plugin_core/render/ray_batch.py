"""Batch rendering on a Ray cluster: the local batch's contract (skip finished outputs, one bad file
never stops the rest, atomic outputs, a summary JSON) with the work spread over a cluster.

The driver (this process) reads each A track, sends its bytes to a task, and writes the B bytes that
come back with the same output transaction as a local render, so the machines need not share a file
system and the outputs are the same bytes as the local pool's. The bundle goes into the object store
once (``ray.put``); each worker process fetches and loads it the first time it needs it
(``plugin_core.render.ray_worker``). At most ``max_in_flight`` files are read and pending at a time, so a
catalogue of any size keeps the driver's memory bounded. Ray is optional (the ``cluster`` extra) and
imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from plugin_core.errors import CountertrackError
from plugin_core.io.outputs import plan_outputs
from plugin_core.render.batch import (
    BatchOptions,
    BatchSummary,
    BatchTargets,
    check_batch_inputs,
    check_summary_replaceable,
    finish_batch,
    plan_batch,
    removing_empty_folders_made,
)
from plugin_core.render.ray_worker import RayJob, bundle_payload, render_bytes

DEFAULT_TIMEOUT_S = 3600.0  # no result from the cluster for this long: it is stuck, stop waiting


@contextlib.contextmanager
def connected(address: str) -> Iterator[Any]:
    """Ray connected to ``address`` ("auto": the cluster running here or at $RAY_ADDRESS; "local": a
    new one for this command only; else "HOST:PORT" or "ray://HOST:PORT") for the block. A connection
    the caller already made (``ray.init`` before) is used and left open."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, **options)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError: Ray's message, on one line
        detail = " ".join(str(exc).split())[:200]
        raise CountertrackError(
            f"cannot connect to the Ray cluster at {address!r} ({detail}); start one with 'ray start --head' or pass its address"
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in one line, within ``timeout_s``, when HOST:PORT does not answer: Ray itself retries for
    minutes, logging as it goes."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise CountertrackError(f"--ray takes auto, local or HOST:PORT, not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise CountertrackError(
            f"cannot connect to the Ray cluster at {address!r} ({exc.strerror or 'no answer'}); start one with "
            "'ray start --head' or pass its address"
        ) from exc


def run_batch_ray(
    inputs: list[Path],
    bundle_path: str,
    out_dir: Path,
    *,
    address: str = "auto",
    options: BatchOptions | None = None,
    summary_path: Path | None = None,
    on_done: Callable[[], None] = lambda: None,
    max_in_flight: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> BatchSummary:
    """Render every input into ``out_dir`` on the Ray cluster at ``address``; returns (and writes) the
    summary, like ``plugin_core.render.batch.run_batch``, with the same options and output names.
    ``timeout_s`` bounds the wait for any one result: past it the files still out are reported as
    failed (run the batch again to finish them)."""
    options = options or BatchOptions()
    loaded_preset = check_batch_inputs(bundle_path, options)  # read on the driver: its files need not be on the workers
    tempo_map = Path(options.tempo_map).read_bytes() if options.tempo_map else None
    payload = bundle_payload(bundle_path)
    check_summary_replaceable(summary_path or out_dir / "batch-summary.json", options.force)
    with removing_empty_folders_made() as made:
        summary, todo = plan_batch(inputs, out_dir, options, on_done, made=made)
        if todo:
            with connected(address) as ray:
                job = RayJob(payload.key, options, loaded_preset, tempo_map)
                _render_all(ray, todo, payload, job, summary, on_done, max_in_flight, timeout_s)
        return finish_batch(summary, summary_path or out_dir / "batch-summary.json")


def _render_all(
    ray: Any,
    todo: list[tuple[Path, BatchTargets]],
    payload: Any,
    job: RayJob,
    summary: BatchSummary,
    on_done: Callable[[], None],
    max_in_flight: int | None,
    timeout_s: float,
) -> None:
    """Submit the files a window at a time, write each result as it comes back; cancel what is out on
    any exception (Ctrl-C, SIGTERM) so the cluster stops too."""
    remote = ray.remote(num_cpus=1, max_retries=1)(render_bytes)
    boxed = [ray.put(payload)]  # in a list: tasks get the reference, and fetch the bundle only once per worker
    window = max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, tuple[Path, BatchTargets]] = {}
    queue = iter(todo)
    try:
        while True:
            for path, targets in queue:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    _record(summary, path, f"cannot read it ({exc.strerror or exc})", on_done)
                    continue
                pending[remote.remote(boxed, job, str(path), data)] = (path, targets)
                if len(pending) >= window:
                    break
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout_s)
            if not ready:
                for path, _ in [*pending.values(), *queue]:
                    _record(summary, path, f"no result from the cluster in {timeout_s:.0f} s; run the batch again to finish it", on_done)
                _cancel(ray, pending)
                return
            for ref in ready:
                path, targets = pending.pop(ref)
                _record(summary, path, _collect(ray, ref, path, targets, job.options.force), on_done, targets)
    except BaseException:
        _cancel(ray, pending)
        raise


def _collect(ray: Any, ref: Any, path: Path, targets: BatchTargets, force: bool) -> str:
    """Write one task's files to ``targets`` (one transaction: never half-written, never over a file
    that appeared meanwhile unless ``force``); the one-line error, or "" when all were written."""
    try:
        error, files = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # an unexpected failure in one file must not stop the batch
        cause = getattr(exc, "cause", None) or exc
        return f"{type(cause).__name__}: {' '.join(str(cause).split())[:300]}"
    except ray.exceptions.RayError as exc:  # a worker or node died
        return f"a Ray worker failed ({type(exc).__name__}); run the batch again to finish it"
    if error:
        return error
    written = {kind: path for kind, path in (("b", targets.b), ("mix", targets.mix), ("midi", targets.midi)) if path is not None}
    try:
        with plan_outputs(targets.all(), [path], force=force) as outputs:
            for kind, data in files.items():
                outputs.staged(written[kind]).write_bytes(data)
            outputs.commit()
    except CountertrackError as exc:
        return str(exc)
    except OSError as exc:
        return f"{targets.b}: cannot write the output ({exc.strerror or exc})"
    return ""


def _record(summary: BatchSummary, path: Path, error: str, on_done: Callable[[], None], targets: BatchTargets | None = None) -> None:
    if error or targets is None:
        summary.failed.append({"input": str(path), "error": error})
    else:
        summary.done(path, targets)
    on_done()


def _cancel(ray: Any, pending: dict[Any, Any]) -> None:
    for ref in pending:
        with contextlib.suppress(Exception):
            ray.cancel(ref, force=True)

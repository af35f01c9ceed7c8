"""Ray batch overhead: 20 A tracks rendered by the local pool (2 jobs) and by `batch --ray` on a local
Ray cluster of 2 CPUs, outputs compared byte for byte, wall time of each and the ratio beside the
target (within 15 % of the local pool). Starting the cluster is timed apart: a real cluster is
already running when a batch is sent to it. Needs the cluster extra.
Run: python -m benchmarks.ray_batch [--bundle presets/default.ctbundle] [--files 20] [--seconds 30] [--repeats 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.render_speed import melody
from benchmarks.report import print_targets
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.io.audio import write_audio
from plugin_core.render.batch import run_batch

TARGET_RATIO = 1.15  # the issue's: the Ray batch within 15 % of the local pool's wall time
ROOT = Path(__file__).resolve().parents[1]


def write_takes(folder: Path, files: int, seconds: float, rate: int = 44100) -> list[Path]:
    """``files`` stereo A tracks of ``seconds`` each (the render benchmark's melody, rotated per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    clip = melody(seconds, rate)
    paths = []
    for index in range(files):
        path = folder / f"take{index:02d}.wav"
        write_audio(path, clip[:, ::-1] if index % 2 else clip, rate)  # two distinct inputs, all the same length
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """CPU time of this process, its reaped children (the local pool's workers) and its live descendants
    (a local Ray cluster's daemons and workers), from /proc: what a batch costs whatever else runs."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    parents: dict[int, int] = {}
    ticks: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            ticks[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for pid, seconds in ticks.items():
        ancestor = parents.get(pid)
        for _ in range(64):  # bounded walk up the tree
            if ancestor is None or ancestor <= 1:
                break
            if ancestor == os.getpid():
                total += seconds
                break
            ancestor = parents.get(ancestor)
    return total


def _timed(run: Callable[[Path], object], out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``run(out)``."""
    cpu, started = cpu_seconds(), time.perf_counter()
    run(out)
    return time.perf_counter() - started, cpu_seconds() - cpu


def measure(
    bundle: str, files: int = 20, seconds: float = 30.0, repeats: int = 4, log: Callable[[str], None] = print
) -> list[tuple[str, float, float, bool]]:
    """Render ``files`` takes both ways ``repeats`` times (fresh output folders), check the bytes agree,
    and return (figure, measured, target, met) rows: the medians and the ratio."""
    import ray

    from plugin_core.render.ray_batch import run_batch_ray

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        takes = write_takes(folder / "in", files, seconds)
        started = time.perf_counter()
        ours = not ray.is_initialized()
        if ours:  # workers inherit this environment: they import this checkout, with no runtime_env to set up per job
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        log(
            f"local Ray cluster of {ray.cluster_resources().get('CPU', 0):.0f} CPUs up in {time.perf_counter() - started:.1f} s (not counted)"
        )
        try:
            local, remote = [], []
            for index in range(repeats):  # interleaved, in turn first, so other work on the machine weighs on both alike
                runs = [
                    (local, lambda out: run_batch(takes, bundle, out, jobs=2), "local"),
                    (remote, lambda out: run_batch_ray(takes, bundle, out), "ray"),
                ]
                for times, run, name in runs[:: 1 if index % 2 == 0 else -1]:
                    times.append(_timed(run, folder / f"{name}{index}"))
        finally:
            if ours:
                ray.shutdown()
        for index in range(repeats):
            for take in takes:
                if (folder / f"ray{index}" / take.name).read_bytes() != (folder / "local0" / take.name).read_bytes():
                    raise SystemExit(f"{take.name}: the Ray batch wrote other bytes than the local pool")
        log(
            f"{files} files x {seconds:.0f} s: outputs identical; wall (CPU) seconds: local pool "
            f"{', '.join(f'{w:.1f} ({c:.1f})' for w, c in local)}, Ray {', '.join(f'{w:.1f} ({c:.1f})' for w, c in remote)} "
            "(the first Ray run loads the bundle in fresh workers)"
        )
    local_s, remote_s = statistics.median(w for w, _ in local), statistics.median(w for w, _ in remote)
    local_cpu, remote_cpu = statistics.median(c for _, c in local), statistics.median(c for _, c in remote)
    ratio = remote_s / local_s
    log(
        f"medians: local pool {local_s:.2f} s, Ray {remote_s:.2f} s: wall-time overhead {100 * (ratio - 1):+.1f} %; "
        f"CPU {local_cpu:.1f} s vs {remote_cpu:.1f} s: CPU overhead {100 * (remote_cpu / local_cpu - 1):+.1f} % "
        "(CPU time does not depend on what else runs on the machine)"
    )
    return [(f"Ray batch / local pool, wall time of {files} files", ratio, TARGET_RATIO, ratio <= TARGET_RATIO)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(default_bundle_path()))
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each A track")
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    rows = measure(args.bundle, args.files, args.seconds, args.repeats)
    print(f"Ray batch overhead, bundle {Path(args.bundle).name}, median of {args.repeats}")
    print_targets(rows)


if __name__ == "__main__":
    main()

"""The batch on a Ray cluster: started here (2 CPUs, no dashboard), it writes the same bytes as the local
pool, reports a bad file and goes on, and a re-run skips what is done. Without Ray, --ray says in one
line how to install it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from host_scripts.cli import main
from plugin_core.io.audio import write_audio
from plugin_core.render.batch import run_batch
from tests.bundles import make_synthetic_bundle, tone_melody
from tests.paths import ROOT


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster for this module; its workers import this checkout's code."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "COUNTERTRACK_CACHE": os.environ.get("COUNTERTRACK_CACHE", "")}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_synthetic_bundle(tmp_path_factory.mktemp("ray-bundle"))


def _takes(folder: Path, count: int) -> Path:
    folder.mkdir()
    for index in range(count):
        write_audio(folder / f"take{index}.wav", tone_melody(3.0, 120.0, seed=index), 44100)
    return folder


def test_an_unreachable_cluster_is_one_line(bundle, tmp_path, capsys):
    pytest.importorskip("ray")
    inputs = _takes(tmp_path / "in", 1)
    code = main(
        ["batch", str(inputs / "*.wav"), "--bundle", str(bundle), "-o", str(tmp_path / "out"), "--ray", "127.0.0.1:9"]
    )  # nothing listens there
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("countertrack: error: cannot connect to the Ray cluster at '127.0.0.1:9'")


def test_ray_batch_writes_the_local_pools_bytes_reports_the_bad_and_resumes(ray_cluster, bundle, tmp_path, capsys):
    inputs = _takes(tmp_path / "in", 4)
    (inputs / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    local, remote = tmp_path / "local", tmp_path / "ray"
    run_batch(sorted(inputs.glob("take*.wav")), str(bundle), local, jobs=2)
    assert main(["batch", str(inputs / "*.wav"), "--bundle", str(bundle), "-o", str(remote), "--ray", "auto"]) == 1
    err = capsys.readouterr().err
    assert "broken.wav" in err and str(tmp_path / "ray") not in err.replace(str(remote / "batch-summary.json"), "")
    summary = json.loads((remote / "batch-summary.json").read_text())
    assert [f["input"] for f in summary["failed"]] == [str(inputs / "broken.wav")]
    assert len(summary["succeeded"]) == 4
    for index in range(4):
        assert (remote / f"take{index}.wav").read_bytes() == (local / f"take{index}.wav").read_bytes()
    assert sorted(os.listdir(remote)) == ["batch-summary.json"] + [f"take{i}.wav" for i in range(4)]

    stamp = (remote / "take0.wav").stat().st_mtime_ns
    (remote / "take3.wav").unlink()
    assert main(["batch", str(inputs / "take*.wav"), "--bundle", str(bundle), "-o", str(remote), "--ray", "auto"]) == 0
    summary = json.loads((remote / "batch-summary.json").read_text())
    assert len(summary["skipped"]) == 3 and summary["succeeded"] == [str(inputs / "take3.wav")]
    assert (remote / "take0.wav").stat().st_mtime_ns == stamp
    assert (remote / "take3.wav").read_bytes() == (local / "take3.wav").read_bytes()


def test_the_bundle_travels_once_and_a_zip_works_too(ray_cluster, bundle, tmp_path):
    import shutil

    from plugin_core.render.ray_batch import run_batch_ray
    from plugin_core.render.ray_worker import bundle_payload

    zipped = Path(shutil.make_archive(str(tmp_path / "b.ctbundle"), "zip", bundle))
    payload = bundle_payload(zipped)
    assert payload.zipped and list(payload.files) == ["b.ctbundle.zip"]
    inputs = _takes(tmp_path / "in", 2)
    summary = run_batch_ray(sorted(inputs.glob("*.wav")), str(zipped), tmp_path / "out", max_in_flight=1)
    assert len(summary.succeeded) == 2 and not summary.failed


def test_without_ray_the_flag_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    import host_scripts.extras as extras

    monkeypatch.setattr(extras, "missing_modules", lambda modules: list(modules))
    code = main(["batch", str(tmp_path / "*.wav"), "-o", str(tmp_path / "out"), "--ray", "auto"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [
        "countertrack: error: batch --ray needs the cluster extra (ray not installed): in countertrack's source folder, pip install '.[cluster]'"
    ]


def test_the_overhead_benchmark_prints_its_ratio_beside_the_target(ray_cluster, bundle):
    from benchmarks import ray_batch

    lines: list[str] = []
    rows = ray_batch.measure(str(bundle), files=2, seconds=2.0, repeats=1, log=lines.append)
    assert [(name, target) for name, _, target, _ in rows] == [("Ray batch / local pool, wall time of 2 files", 1.15)]
    assert rows[0][1] > 0 and any("outputs identical" in line for line in lines)

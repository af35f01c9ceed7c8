"""Training on 2 processes (torchrun, gloo on CPU): the run finishes, loads, resumes (on 2 processes
or on 1); rank 0 alone writes it (the ranks' losses are in test_distributed_step.py, the torchrun command line
in tests/host_scripts/test_torchrun.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_TRAINING_ARGS
from tests.paths import ROOT

TINY = [*TINY_TRAINING_ARGS, "--segmentation", "uniform"]


def _train(corpus: Path, run: Path, *extra: str) -> subprocess.CompletedProcess:
    """``countertrack train --nproc 2`` in a fresh process (the test's private cache inherited), bounded."""
    return subprocess.run(
        [sys.executable, "-m", "host_scripts", "train", str(corpus), "-o", str(run), "--nproc", "2", *TINY, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
def test_two_gloo_processes_train_a_run_that_loads_and_resumes(chorale_corpus, tmp_path):
    from export.train.run import load_run

    run = tmp_path / "run"
    done = _train(chorale_corpus, run, "--epochs", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "on 2 processes" in done.stdout
    loaded = load_run(run)
    assert loaded.config.epochs == 2
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]  # one writer: no line twice
    assert 0.0 <= epochs[-1]["validation_greedy_tpp"] <= 1.0

    done = _train(chorale_corpus, run, "--epochs", "3", "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming after epoch 2" in done.stderr
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert load_run(run).config.epochs == 3

    from host_scripts.cli import main  # the steps do not depend on the number of processes: one process continues it

    assert main(["train", str(chorale_corpus), "-o", str(run), *TINY, "--epochs", "4", "--resume"]) == 0
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]

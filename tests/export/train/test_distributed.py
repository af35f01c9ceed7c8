"""Training on 2 processes (torchrun, gloo on CPU): the run finishes, loads, resumes (on 2 processes
or on 1); rank 0 alone writes it; the ranks' losses add up to the whole batch's; and the command line
for torchrun is what the docs say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_scripts.torchrun import torchrun_command, without_nproc
from tests.conftest import TINY_TRAINING_ARGS
from tests.paths import ROOT

TINY = [*TINY_TRAINING_ARGS, "--segmentation", "uniform"]


def test_the_workers_run_the_same_command_without_nproc():
    argv = ["train", "c/", "-o", "r/", "--nproc", "2", "--epochs", "3", "--nproc=4"]
    assert without_nproc(argv) == ["train", "c/", "-o", "r/", "--epochs", "3"]
    command = torchrun_command(argv, 2)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[5:] == ["-m", "host_scripts", "train", "c/", "-o", "r/", "--epochs", "3"]


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


def test_the_ranks_losses_average_to_the_whole_batchs_mean_loss():
    """What DDP's gradient averaging relies on: the mean over ranks of each rank's scaled loss is the
    one-process loss of the whole batch (so its gradient is too), including a rank left without a window."""
    import torch

    from export.data.token_data import IGNORE
    from export.model.decision_model import DecisionModel
    from export.train.distributed import Distributed
    from export.train.distributed_step import sharded_loss
    from plugin_core.decision.config import DecisionConfig

    config = DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=32, dropout=0.0, context=8, lookahead=1)
    torch.manual_seed(0)
    model = DecisionModel(config).eval()
    mean = torch.nn.CrossEntropyLoss(ignore_index=IGNORE, label_smoothing=0.1)
    summed = torch.nn.CrossEntropyLoss(ignore_index=IGNORE, label_smoothing=0.1, reduction="sum")
    for rows, world in ((5, 2), (3, 3), (1, 2)):
        a = torch.randint(0, 8, (rows, 10))
        b_in = torch.randint(0, 8, (rows, 10))
        target = torch.randint(0, 8, (rows, 10))
        target[0, :3] = IGNORE
        whole = mean(model(a, b_in).reshape(-1, 8), target.reshape(-1))
        parts = [
            sharded_loss(model, a, b_in, target, Distributed(rank, world, rank, torch.device("cpu")), summed, 8)[0] for rank in range(world)
        ]
        assert torch.allclose(sum(parts) / world, whole, atol=1e-6), (rows, world)

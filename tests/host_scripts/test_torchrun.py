"""The torchrun command line: the workers run the same command without --nproc."""

from __future__ import annotations

from host_scripts.torchrun import torchrun_command, without_nproc


def test_the_workers_run_the_same_command_without_nproc():
    argv = ["train", "c/", "-o", "r/", "--nproc", "2", "--epochs", "3", "--nproc=4"]
    assert without_nproc(argv) == ["train", "c/", "-o", "r/", "--epochs", "3"]
    command = torchrun_command(argv, 2)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[5:] == ["-m", "host_scripts", "train", "c/", "-o", "r/", "--epochs", "3"]

"""Training on several processes (torchrun): who this process is, and the few collective steps the
trainer needs. One process never comes here: ``from_environment`` returns None unless torchrun (or
``countertrack train --nproc N``) started several, so single-process training needs no
torch.distributed and keeps its numerics.

Backends: gloo on CPU, NCCL when every rank has a GPU of its own. Rank 0 writes the run folder; the
others wait at a barrier and read what it wrote.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from plugin_core.errors import CountertrackError

T = TypeVar("T")
TIMEOUT = datetime.timedelta(minutes=30)  # a rank that stops answering fails the others after this, not never


@dataclass(frozen=True)
class Distributed:
    """This process's place in the group: ``rank`` of ``world`` processes, tensors on ``device``."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this rank writes files and logs (rank 0)."""
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share of ``items``: every ``world``-th item from its rank, so shares differ by at most one."""
        return list(items[self.rank :: self.world])

    def barrier(self) -> None:
        dist.barrier()

    def sum(self, *values: float) -> list[float]:
        """Sums over all ranks of ``values`` (float64, so counts of tokens stay exact)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()


def from_environment() -> Distributed | None:
    """Join the group torchrun described in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR,
    MASTER_PORT), or None for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    try:
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as exc:
        raise CountertrackError(f"WORLD_SIZE is {world} but RANK is not set: start several processes with torchrun") from exc
    gpu = torch.cuda.is_available() and torch.cuda.device_count() > local_rank
    if gpu:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if gpu else "gloo", timeout=TIMEOUT)
    return Distributed(rank=rank, world=world, local_rank=local_rank, device=torch.device(f"cuda:{local_rank}" if gpu else "cpu"))


def leave(group: Distributed | None) -> None:
    """Leave the process group (at the end of training, or when it failed)."""
    if group is not None and dist.is_initialized():
        dist.destroy_process_group()

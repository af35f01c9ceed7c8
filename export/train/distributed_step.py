"""The decision model's training step and validation split across ranks (``export.train.distributed``).

Same recipe as one process: every rank draws the same batch order and history-dropout mask (same
generator, same seed) and takes every ``world``-th sequence of each batch, so the optimiser takes the
same number of steps with the same learning rates. Each rank's loss is its tokens' summed loss over
the whole batch's token count, times ``world``; DistributedDataParallel averages the gradients over
the ranks, which gives the gradient of the whole batch's mean loss. Validation is sharded too, and
the sums are added up, so every rank sees the same score and stops at the same epoch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from export.data.token_data import IGNORE, TokenPair
from export.model.decision_model import DecisionModel
from export.train.distributed import Distributed


def wrap(model: DecisionModel, group: Distributed) -> nn.Module:
    """``model`` on this rank's device inside DistributedDataParallel (rank 0's weights broadcast)."""
    model.to(group.device)
    ids = [group.local_rank] if group.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sharded_loss(
    net: nn.Module, a: torch.Tensor, b_in: torch.Tensor, target: torch.Tensor, group: Distributed, summed: nn.Module, vocab: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """This rank's part of one batch: (loss to backpropagate, its logits, its targets, its summed loss).
    A rank left without a sequence (a last batch smaller than the group) runs one with weight 0, since
    every rank must take part in the gradient reduction."""
    count = max(1, int((target != IGNORE).sum()))  # the whole batch's tokens: every rank has the whole batch
    rows = slice(group.rank, None, group.world)
    weight = 1.0
    if a[rows].shape[0] == 0:
        rows, weight = slice(0, 1), 0.0
    a, b_in, target = a[rows].to(group.device), b_in[rows].to(group.device), target[rows].to(group.device)
    logits = net(a, b_in)
    local = summed(logits.reshape(-1, vocab), target.reshape(-1))
    counted = target if weight else torch.full_like(target, IGNORE)  # the stand-in sequence counts for nothing
    return local * (weight * group.world / count), logits, counted, float(local.detach()) * weight


def sharded_validation(
    model: DecisionModel, sequences: dict[str, torch.Tensor], pairs: list[TokenPair], group: Distributed, summed: nn.Module, vocab: int
) -> tuple[float, float]:
    """(validation loss per token, greedy TPP) over all ranks, each scoring its share of the sequences and songs."""
    from export.train.run import greedy_counts

    rows = slice(group.rank, None, group.world)
    loss_sum, tokens = 0.0, 0.0
    target = sequences["target"][rows]
    if target.shape[0]:
        with torch.no_grad():
            logits = model(sequences["a"][rows].to(group.device), sequences["b_in"][rows].to(group.device))
            loss_sum = float(summed(logits.reshape(-1, vocab), target.reshape(-1).to(group.device)))
        tokens = float((target != IGNORE).sum())
    on_cpu = model if group.device.type == "cpu" else copy.deepcopy(model).cpu()  # greedy generation steps in numpy
    local_hits, local_total = greedy_counts(on_cpu, group.shard(pairs))
    loss_sum, tokens, hits, total = group.sum(loss_sum, tokens, local_hits, local_total)
    return loss_sum / max(1.0, tokens), hits / max(1.0, total)

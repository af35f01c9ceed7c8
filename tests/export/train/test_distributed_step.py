"""One distributed training step: the ranks' losses average to the whole batch's."""

from __future__ import annotations


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

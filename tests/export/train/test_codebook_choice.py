"""codebook="auto": one codebook for A and B unless it starves a role, then one each."""

from __future__ import annotations

import numpy as np

from export.data.features import PairFeatures
from export.data.token_data import Split
from export.train.config import TrainConfig
from export.train.run import fit_run_codebooks, shares_codebook


def _features(guide: np.ndarray, response: np.ndarray) -> list[PairFeatures]:
    n = guide.shape[0]
    zeros = np.zeros((n, 12), np.float32)
    return [PairFeatures("p", np.arange(n + 1), 44100, guide, response, zeros, zeros[:, :4], zeros, zeros[:, :4])]


def _choice(guide: np.ndarray, response: np.ndarray, codebook: str = "auto"):
    messages: list[str] = []
    books, reports, choice = fit_run_codebooks(
        _features(guide, response), Split(("p",), (), ()), TrainConfig(corpus="-", vocab=16, codebook=codebook), None, messages.append
    )
    assert choice is None  # no feature groups: B's tokens can only be of its sound
    return shares_codebook(books), reports, messages


def test_roles_that_sound_alike_share_one_codebook():
    rng = np.random.default_rng(0)
    shared, reports, messages = _choice(rng.normal(size=(800, 8)).astype(np.float32), rng.normal(size=(800, 8)).astype(np.float32))
    assert shared and not messages
    assert min(r.entropy_bits for r in reports.values()) > 3.0


def test_a_role_the_shared_codebook_starves_gets_its_own_and_the_log_says_why():
    """Drums against a bass: A's segments sit far from B's and within a small spread, so a shared
    codebook spends almost every token on B; A's own codebook spreads A over all of them."""
    rng = np.random.default_rng(1)
    guide = (rng.normal(size=(800, 8)) * 0.05 + 20.0).astype(np.float32)
    response = rng.normal(size=(800, 8)).astype(np.float32)
    shared_reports = _choice(guide, response, "shared")[1]
    assert shared_reports["guide"].entropy_bits < 2.0  # starved: under half of log2(16) bits
    shared, reports, messages = _choice(guide, response)
    assert not shared and reports["guide"].entropy_bits > 3.0
    assert len(messages) == 1 and "guide" in messages[0] and "one codebook per role" in messages[0]
    assert not _choice(guide, response, "per-role")[0] and _choice(guide, response, "shared")[0]

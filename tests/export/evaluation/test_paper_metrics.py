"""The paper's token metrics."""

from __future__ import annotations

import numpy as np

from export.evaluation.paper_metrics import longest_common_prefix_runs


def test_lcp_counts_runs_of_matches_from_each_position():
    runs = longest_common_prefix_runs(np.array([1, 2, 3, 0, 5, 6]), np.array([1, 2, 3, 4, 5, 6]))
    assert runs.tolist() == [3, 2, 1, 0, 2, 1]

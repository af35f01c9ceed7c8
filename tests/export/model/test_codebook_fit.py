"""Codebook fit: seeded k-means, its usage report, one book per role or a shared one."""

from __future__ import annotations

import numpy as np
import pytest

from export.model.codebook_fit import fit_codebook, fit_codebooks
from plugin_core.errors import CountertrackError
from plugin_core.perception.codebook import Codebook


def test_codebook_fit_is_seeded_and_reports_usage(tmp_path):
    data = np.random.default_rng(1).standard_normal((300, 6)).astype(np.float32)
    first, report = fit_codebook(data, 16, seed=3)
    second, _ = fit_codebook(data, 16, seed=3)
    np.testing.assert_array_equal(first.centroids, second.centroids)
    assert report.segments == 300 and report.unused == 0 and 3.0 < report.entropy_bits <= 4.0
    first.save(tmp_path / "cb.npz")
    loaded = Codebook.load(tmp_path / "cb.npz")
    np.testing.assert_array_equal(loaded.assign(data), first.assign(data))


def test_codebook_refuses_too_few_segments_and_bad_vocab():
    with pytest.raises(CountertrackError, match="cannot fit a vocabulary of 64"):
        fit_codebook(np.zeros((10, 3), np.float32), 64, seed=0)
    with pytest.raises(CountertrackError, match="out of range"):
        fit_codebook(np.zeros((5000, 3), np.float32), 2048, seed=0)


def test_per_role_codebooks_use_the_whole_vocabulary_each():
    rng = np.random.default_rng(2)
    guide, response = rng.normal(0, 1, (200, 4)).astype(np.float32), rng.normal(50, 1, (200, 4)).astype(np.float32)
    shared = fit_codebooks(guide, response, 16, seed=0, shared=True)
    per_role = fit_codebooks(guide, response, 16, seed=0, shared=False)
    assert shared["guide"][0] is shared["response"][0]
    assert per_role["guide"][1].unused == 0 and per_role["response"][1].unused == 0
    assert shared["guide"][1].unused > 0  # the shared book spends tokens on the other role

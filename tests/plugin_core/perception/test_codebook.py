"""Codebook: files are read without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.errors import CountertrackError
from plugin_core.perception.codebook import Codebook


def test_pickled_codebook_is_refused(tmp_path):
    path = tmp_path / "cb.npz"
    np.savez(path, centroids=np.array([object()], dtype=object), mean=np.zeros(1), scale=np.ones(1))
    with pytest.raises(CountertrackError, match="not a readable codebook"):
        Codebook.load(path)

"""Test grids over several factors: the whole product in the full suite, a pairwise covering part of
it in the quick one (``-m "not slow"``), so every pair of factor values still meets in a minute's run.

Use it as ``@pytest.mark.parametrize(*pairwise_grid(rate=[...], channels=[...]))``. The covering part
comes from allpairspy (deterministic: the same cases every run); the rest of the product is marked
slow, not dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from allpairspy import AllPairs


def pairwise_grid(ids: dict[str, Callable[[Any], str]] | None = None, **factors: Sequence[Any]) -> tuple[str, list[Any]]:
    """``(argnames, params)`` for ``pytest.mark.parametrize``: every combination of ``factors``, those
    outside a pairwise covering set marked slow. ``ids`` names a factor's values (default ``str``)."""
    names = list(factors)
    if len(names) < 2:
        raise ValueError("a pairwise grid needs at least two factors")
    sizes = [len(factors[name]) for name in names]
    covering = {tuple(case) for case in AllPairs([list(range(size)) for size in sizes])}
    label = {name: (ids or {}).get(name, str) for name in names}
    params = []
    for indices in itertools.product(*(range(size) for size in sizes)):
        values = [factors[name][index] for name, index in zip(names, indices)]
        case_id = "-".join(label[name](value) for name, value in zip(names, values))
        marks = () if indices in covering else (pytest.mark.slow,)
        params.append(pytest.param(*values, id=case_id, marks=marks))
    return ",".join(names), params

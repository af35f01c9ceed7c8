"""Run one function over many segments on a few threads, results in order (numpy, pedalboard and
onnxruntime release the GIL, so the threads share the cores)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def side_by_side(function: Callable[[Item], Result], items: Sequence[Item], workers: int) -> list[Result]:
    """``[function(item) for item in items]`` on up to ``workers`` threads; the first error is raised."""
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="countertrack-perception") as pool:
        return list(pool.map(function, items))

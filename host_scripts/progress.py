"""Progress bars for long commands (tqdm on stderr, silent when stderr is not a terminal)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], description: str, total: int | None = None, unit: str = "file") -> Iterable[T]:
    """Wrap ``items`` in a progress bar labelled ``description``."""
    return tqdm(items, desc=description, total=total, unit=unit, dynamic_ncols=True, leave=False, disable=None)

"""Where countertrack keeps what it can recompute (embeddings, memories resampled to another rate):
$COUNTERTRACK_CACHE, else ~/.cache/countertrack. Deleting it only costs time."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CACHE_VARIABLE = "COUNTERTRACK_CACHE"


def cache_folder(kind: str) -> Path:
    """The cache subfolder for ``kind`` (e.g. "embeddings"); not created here."""
    root = os.environ.get(CACHE_VARIABLE) or os.path.join(os.path.expanduser("~"), ".cache", "countertrack")
    return Path(root) / kind


@contextlib.contextmanager
def cache_at(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Use ``folder`` as the cache while the block runs (a cold start for benchmarks, a private one
    for tests; processes started inside inherit it), then restore the previous setting."""
    previous = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CACHE_VARIABLE, None)
        else:
            os.environ[CACHE_VARIABLE] = previous

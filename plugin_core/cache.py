"""Where countertrack keeps what it can recompute (embeddings, memories resampled to another rate):
$COUNTERTRACK_CACHE, else ~/.cache/countertrack. Deleting it only costs time."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(kind: str) -> Path:
    """The cache subfolder for ``kind`` (e.g. "embeddings"); not created here."""
    root = os.environ.get("COUNTERTRACK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "countertrack")
    return Path(root) / kind

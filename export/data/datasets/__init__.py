"""The data-set layouts ``corpus from-stems`` reads, and which one a folder holds.

MoisesDB (``data.json`` song folders), MUSDB18's WAV layout (``train/``, ``test/`` with
``mixture.wav``), Slakh2100 (``metadata.yaml`` and ``stems/``), and plain song folders otherwise.
"""

from __future__ import annotations

from pathlib import Path

from export.data.datasets.base import Layout, Song, Stem
from export.data.datasets.folders import Folders
from export.data.datasets.moisesdb import MoisesDB
from export.data.datasets.musdb import Musdb, refuse_stem_mp4
from export.data.datasets.slakh import Slakh
from plugin_core.errors import CountertrackError

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (MoisesDB(), Musdb(), Slakh(), Folders())}
DETECTED = ("moisesdb", "musdb", "slakh")  # tried in this order; plain song folders when none fits

__all__ = ["LAYOUTS", "Layout", "Song", "Stem", "layout_of"]


def layout_of(root: Path, forced: str | None = None) -> Layout:
    """The layout of the data set at ``root``: ``forced`` (checked to fit) or detected."""
    if not root.is_dir():
        raise CountertrackError("not a folder of songs", root)
    if forced is not None:
        layout = LAYOUTS.get(forced)
        if layout is None:
            raise CountertrackError(f"unknown layout {forced!r}; choose one of {', '.join(LAYOUTS)}")
        if forced == "musdb":
            refuse_stem_mp4(root)
        if not layout.detect(root):
            raise CountertrackError(f"is not laid out as {layout.title} ({layout.expects})", root)
        return layout
    refuse_stem_mp4(root)
    return next((LAYOUTS[name] for name in DETECTED if LAYOUTS[name].detect(root)), LAYOUTS["folders"])

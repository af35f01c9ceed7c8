"""The corpus command line: every data-set layout is offered."""

from __future__ import annotations

from export.data.datasets import LAYOUTS
from host_scripts.corpus_cmd import LAYOUT_NAMES


def test_the_command_line_offers_every_layout():
    assert set(LAYOUT_NAMES) == set(LAYOUTS)

"""Choosing a song's A and B stems from ``--guide``/``--response`` selectors.

A selector is of the kind the layout chooses by (a file-name pattern, a MoisesDB stem type, a Slakh
``class:NAME``), or ``others``: every stem the other side did not choose (the paper's A is the mix of
all the stems that are not B). Several stems on one side are summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from export.data.datasets.base import Layout, Song, Stem
from plugin_core.errors import CountertrackError

OTHERS = "others"


@dataclass(frozen=True)
class Selection:
    """The selectors one layout chooses A and B by."""

    guide: tuple[str, ...]
    response: tuple[str, ...]


def selection_for(layout: Layout, guide: tuple[str, ...], response: tuple[str, ...], root: Path) -> Selection:
    """Keep the selectors ``layout`` understands; one line naming ``root`` when a side has none left
    (so several data sets can share one command: ``--response bass,class:Bass``)."""
    if _is_others(guide) and _is_others(response):
        raise CountertrackError("--guide and --response cannot both be 'others'")

    def usable(selectors: tuple[str, ...], option: str) -> tuple[str, ...]:
        kept = tuple(s for s in selectors if s.lower() == OTHERS or layout.accepts(s))
        if not kept:
            raise CountertrackError(
                f"{option} {','.join(selectors)!r} chooses no stem of {layout.title}, whose stems are chosen by {layout.selectors}", root
            )
        return kept

    return Selection(usable(guide, "--guide"), usable(response, "--response"))


def choose_stems(song: Song, layout: Layout, selection: Selection) -> tuple[list[Stem], list[Stem]]:
    """The song's guide and response stems; CountertrackError naming the song when a side is empty or
    a stem is chosen by both."""
    if _is_others(selection.response):
        guide = _pick(song, layout, selection.guide, ())
        response = _pick(song, layout, selection.response, guide)
    else:
        response = _pick(song, layout, selection.response, ())
        guide = _pick(song, layout, selection.guide, response)
    for stems, role, selectors in ((response, "response", selection.response), (guide, "guide", selection.guide)):
        if not stems:
            present = ", ".join(sorted({layout.label(stem) for stem in song.stems})) or "none"
            raise CountertrackError(f"no stem matches the {role} {','.join(selectors)!r} (stems here: {present})", song.folder)
    shared = [stem.name for stem in guide if stem in response]
    if shared:
        raise CountertrackError(f"{shared} match both guide and response", song.folder)
    return guide, response


def _pick(song: Song, layout: Layout, selectors: tuple[str, ...], exclude: list[Stem] | tuple[()]) -> list[Stem]:
    if _is_others(selectors):
        return [stem for stem in song.stems if stem not in exclude]
    return [stem for stem in song.stems if any(layout.matches(stem, s) for s in selectors if s.lower() != OTHERS)]


def _is_others(selectors: tuple[str, ...]) -> bool:
    return any(s.lower() == OTHERS for s in selectors)

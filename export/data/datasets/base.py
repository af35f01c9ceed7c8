"""What every data-set layout gives ``corpus from-stems``: songs made of named stems, each stem one or
more audio files summed, and a way to match a stem against a ``--guide``/``--response`` selector."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Stem:
    """One stem of a song: its name in the data set, the files summed into it, and what selectors see.

    ``kind`` is what a selector matches besides the name (a MoisesDB stem type, a Slakh instrument
    class); ``midi`` is the stem's own MIDI file when the data set has one (Slakh).
    """

    name: str
    files: tuple[Path, ...]
    kind: str = ""
    midi: Path | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)  # what the data set says, for provenance


@dataclass(frozen=True)
class Song:
    """A song of a data set: its stems, what the data set says about it, and its tempo map if any."""

    id: str
    folder: Path
    stems: tuple[Stem, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    tempo_midi: Path | None = None


class Layout(Protocol):
    """How one data set lays out its songs on disk; one module per data set implements it."""

    name: str  # the --layout value
    title: str  # the data set's own name, for messages
    expects: str  # what a root of this data set holds, for messages
    selectors: str  # what --guide/--response mean here, for messages
    origin: str  # where the data set comes from, for a bundle's data_licences ("" for the user's own folders)
    licence: str  # its terms of use, as the data set states them ("" for the user's own folders)

    def detect(self, root: Path) -> bool:
        """Whether ``root`` looks like this data set (a few probes, never a full scan)."""

    def song_folders(self, root: Path) -> list[Path]:
        """Every song folder under ``root``, in a reproducible order."""

    def read_song(self, folder: Path) -> Song:
        """The song's stems; CountertrackError (naming the song) when its files or metadata are bad."""

    def accepts(self, selector: str) -> bool:
        """Whether ``selector`` (other than 'others') is of the kind this layout chooses stems by."""

    def matches(self, stem: Stem, selector: str) -> bool:
        """Whether ``stem`` is chosen by ``selector``."""

    def label(self, stem: Stem) -> str:
        """What a message calls ``stem`` (its name, or its class where stems are chosen by class)."""


def subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders, sorted by name; hidden ones (ours while staging, .git, …) are not songs."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def nested_songs(root: Path, marker: str) -> list[Path]:
    """Song folders marked by a file ``marker``, directly under ``root`` or one level down (a split or
    provider folder). A folder beside marked ones that lacks the marker is kept, so it is reported."""
    songs: list[Path] = []
    for folder in subfolders(root):
        if (folder / marker).is_file():
            songs.append(folder)
            continue
        children = subfolders(folder)
        songs.extend(children if any((child / marker).is_file() for child in children) else [folder])
    return songs


def has_marked_song(root: Path, is_song: Callable[[Path], bool]) -> bool:
    """Whether some folder directly under ``root`` or one level down is a song by ``is_song``; stops at
    the first one found."""

    def candidates() -> Iterator[Path]:
        for folder in subfolders(root):
            yield folder
            yield from subfolders(folder)

    return any(is_song(folder) for folder in candidates())


def plain_name(value: object) -> str | None:
    """``value`` when it is a usable file or folder name (text, no separator, not ``.``/``..``), else None:
    names read from a data set's metadata must never lead outside the song folder."""
    if not isinstance(value, str) or not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
        return None
    return value


def glob_match(text: str, pattern: str) -> bool:
    """Case-insensitive glob match."""
    return fnmatch.fnmatch(text.lower(), pattern.lower())

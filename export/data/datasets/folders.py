"""Flat song folders: one sub-folder per song, its stems the audio files directly inside it."""

from __future__ import annotations

from pathlib import Path

from export.data.datasets.base import Song, Stem, glob_match, subfolders
from plugin_core.io.audio import list_audio_files


class Folders:
    """Any folder of song folders; stems are chosen by file-name patterns (``bass*``, ``drums.wav``)."""

    name = "folders"
    title = "song folders"
    expects = "one sub-folder of audio files per song"
    selectors = "file-name patterns such as 'bass*' or drums.wav"
    origin = ""  # the user's own recordings: origin and licence are theirs to know
    licence = ""

    def detect(self, root: Path) -> bool:
        return root.is_dir()

    def song_folders(self, root: Path) -> list[Path]:
        return subfolders(root)

    def read_song(self, folder: Path) -> Song:
        return Song(id=folder.name, folder=folder, stems=tuple(file_stem(path) for path in list_audio_files(folder)))

    def accepts(self, selector: str) -> bool:
        return not selector.lower().startswith("class:")

    def matches(self, stem: Stem, selector: str) -> bool:
        return name_matches(stem, selector)

    def label(self, stem: Stem) -> str:
        return stem.name


def file_stem(path: Path) -> Stem:
    """A stem that is one audio file."""
    return Stem(name=path.name, files=(path,), kind=path.stem)


def name_matches(stem: Stem, pattern: str) -> bool:
    """A file-name pattern matches the whole name (``bass.wav``, ``bass*``) or the name without its
    extension (``bass``)."""
    return glob_match(stem.name, pattern) or glob_match(stem.kind, pattern)

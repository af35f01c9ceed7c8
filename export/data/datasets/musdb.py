"""MUSDB18 in its WAV layout (MUSDB18-HQ, or MUSDB18 decoded with musdb's ``musdbconvert``):
``train/`` and ``test/`` folders of song folders, each with ``mixture.wav`` and the four sources
``drums.wav``, ``bass.wav``, ``other.wav``, ``vocals.wav``.

The sources are the stems; ``mixture.wav`` is not one (it holds B too), so ``--guide others`` is the
sum of the sources that are not B, the paper's A. Each song's subset is kept as its ``split``. A
subset folder given alone (``musdb18hq/train``) is read too: its songs hold ``mixture.wav`` and all four
sources, and must never be read as plain song folders, where ``others`` would take in the mixture.
"""

from __future__ import annotations

from pathlib import Path

from export.data.datasets.base import Song, subfolders
from export.data.datasets.folders import Folders, file_stem
from plugin_core.errors import CountertrackError

SUBSETS = ("train", "test")
SOURCES = ("drums", "bass", "other", "vocals")
MIXTURE = "mixture.wav"


class Musdb(Folders):
    """MUSDB18-HQ: stems chosen by source name (``bass``, ``vocals*``), as for song folders (whose
    selector methods it inherits)."""

    name = "musdb"
    title = "MUSDB18"
    expects = "train/ and test/ folders of song folders with mixture.wav"
    selectors = "source names: drums, bass, other, vocals"
    origin = "MUSDB18 (Rafii et al. 2017; sigsep.github.io/datasets/musdb.html)"
    licence = "academic use only; each track under its own licence (MUSDB18's tracklist.csv)"

    def detect(self, root: Path) -> bool:
        return bool(_subset_songs(root)) or any(_is_song(song) for song in subfolders(root))

    def song_folders(self, root: Path) -> list[Path]:
        refuse_stem_mp4(root)
        return _subset_songs(root) or subfolders(root)

    def read_song(self, folder: Path) -> Song:
        sources = [folder / f"{name}.wav" for name in SOURCES]
        present = [path for path in sources if path.is_file()]
        if not present:
            raise CountertrackError(f"has none of MUSDB18's sources ({', '.join(p.name for p in sources)})", folder)
        return Song(
            id=folder.name, folder=folder, stems=tuple(file_stem(path) for path in present), provenance={"split": folder.parent.name}
        )


def _subset_songs(root: Path) -> list[Path]:
    """The song folders of ``root/train`` and ``root/test`` when some hold a mixture, else none."""
    songs = [song for subset in SUBSETS for song in subfolders(root / subset)]
    return songs if any((song / MIXTURE).is_file() for song in songs) else []


def _is_song(folder: Path) -> bool:
    """A MUSDB18 song folder: the mixture and all four sources."""
    return all((folder / name).is_file() for name in (MIXTURE, *(f"{source}.wav" for source in SOURCES)))


def refuse_stem_mp4(root: Path) -> None:
    """MUSDB18's compressed release (``train/*.stem.mp4``) is one line saying how to get the WAV layout."""
    for subset in SUBSETS:
        folder = root / subset
        if folder.is_dir() and any(path.name.endswith(".stem.mp4") for path in folder.iterdir()):
            raise CountertrackError(
                "holds MUSDB18's .stem.mp4 files, which are not read here: use MUSDB18-HQ, "
                "or decode them to WAV folders with musdb's musdbconvert",
                folder,
            )

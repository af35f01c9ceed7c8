"""Where the data in a bundle came from and under which licence: written into the manifest as
``provenance.data_licences`` (NOTICE says the same for the shipped default bundle).

Scores named from music21's corpus, the SoundFonts countertrack looks for and the data sets
``corpus from-stems`` reads in their own layout (MoisesDB, MUSDB18, Slakh2100) are known; anything
else (a user's stems, recordings or score files) is recorded as supplied by the user, licence unknown.
Only file names and corpus-relative names are recorded, never a path of the machine.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from export.data.datasets import LAYOUTS, Layout
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import AUDIO_EXTENSIONS
from plugin_core.io.corpus import Corpus, load_corpus

USER_ORIGIN = "supplied by the user"
UNKNOWN_LICENCE = "unknown"
MUSIC21_LICENCE = (
    "the music is in the public domain; music21 states that its corpus encodings are public domain or used by "
    "permission (music21 README, 'License Coverage and Other/Prior Licenses'); music21's code is BSD-3-Clause"
)
SOUNDFONTS = {
    "FluidR3_GM.sf2": ("FluidR3_GM General MIDI SoundFont, Copyright 2000-2002, 2008 Frank Wen (Debian package fluid-soundfont-gm)", "MIT"),
    "TimGM6mb.sf2": ("TimGM6mb General MIDI SoundFont by Tim Brechbill, as bundled with pretty_midi", "not stated by pretty_midi; unknown"),
}


@dataclass(frozen=True)
class DataOrigin:
    """One group of data: what it was used for, which files, where they came from, their licence."""

    used_for: str
    kind: str  # "scores", "soundfont", "recordings"
    files: tuple[str, ...]
    origin: str
    licence: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "files": list(self.files)}


def data_licences(
    training_corpus: str | os.PathLike[str] | None,
    memory: Sequence[str] | None = None,
    *,
    memory_pairs: Sequence[str] | None = None,
    golden_input: str | os.PathLike[str] | None = None,
    golden_source: str | None = None,
) -> list[dict[str, Any]]:
    """The origin and licence of the data a bundle was made from, as manifest-ready dicts.

    The training corpus (the model and codebooks are learned from it); the memory (``memory`` as
    given to export, else the B tracks of the training corpus's ``memory_pairs``); the golden vector's
    input when it is not the first memory recording (``golden_source``: the score it was rendered
    from, with the training corpus's SoundFont, as the default-bundle recipe does)."""
    training = _corpus_or_none(training_corpus)
    origins: list[DataOrigin] = []
    if training is not None:
        origins += corpus_origins(training, "training")
    elif training_corpus is not None:
        origins.append(
            DataOrigin("training", "recordings", (Path(training_corpus).name,), "a corpus no longer readable at export", UNKNOWN_LICENCE)
        )
    if not memory:
        if training is not None:
            origins += corpus_origins(training, "memory", pair_ids=memory_pairs, responses_only=True)
    else:
        for item in memory:
            corpus = _corpus_or_none(item) if (Path(item) / "corpus.json").is_file() else None
            origins += (
                corpus_origins(corpus, "memory", responses_only=True) if corpus else [user_origin(_audio_names(Path(item)), "memory")]
            )
    if golden_input is not None:
        if golden_source:
            soundfont = training.provenance.get("soundfont") if training is not None else None
            origins += score_origins([golden_source], "golden vector input")
            origins.append(soundfont_origin(str(soundfont) if soundfont else "", "golden vector input"))
        else:
            origins.append(user_origin([Path(golden_input).name], "golden vector input"))
    return [origin.to_dict() for origin in origins]


def corpus_origins(
    corpus: Corpus, used_for: str, *, pair_ids: Sequence[str] | None = None, responses_only: bool = False
) -> list[DataOrigin]:
    """A corpus rendered from scores: its scores and SoundFont; any other corpus: the user's
    recordings, named 'pair id/file name'. ``pair_ids`` keeps only those pairs."""
    keep = None if pair_ids is None else set(pair_ids)
    pairs = [p for p in corpus.pairs if keep is None or p.id in keep]
    if corpus.provenance.get("builder") == "from-scores":
        sources = [str(p.provenance.get("source", p.id)) for p in pairs]
        return [*score_origins(sources, used_for), soundfont_origin(str(corpus.provenance.get("soundfont", "")), used_for)]
    names = [f"{p.id}/{Path(name).name}" for p in pairs for name in ((p.response,) if responses_only else (p.guide, p.response))]
    dataset = _dataset_of(corpus)
    if dataset is not None:
        return [DataOrigin(used_for, "recordings", tuple(names), dataset.origin, dataset.licence)]
    return [user_origin(names, used_for)]


def _dataset_of(corpus: Corpus) -> Layout | None:
    """The data set a from-stems corpus was read from, when it is one whose terms are known."""
    if corpus.provenance.get("builder") != "from-stems":
        return None
    layout = LAYOUTS.get(str(corpus.provenance.get("layout", "")))
    return layout if layout is not None and layout.licence else None


def score_origins(sources: Sequence[str], used_for: str) -> list[DataOrigin]:
    """Scores from music21's corpus (by corpus name), and any others as the user's."""
    bundled = [s for s in sources if in_music21_corpus(s)]
    others = [Path(s).name for s in sources if not in_music21_corpus(s)]
    origins = []
    if bundled:
        origins.append(DataOrigin(used_for, "scores", tuple(bundled), f"music21's corpus (music21 {_version('music21')})", MUSIC21_LICENCE))
    if others:
        origins.append(user_origin(others, used_for, kind="scores"))
    return origins


def soundfont_origin(name: str, used_for: str) -> DataOrigin:
    """The SoundFont the scores were rendered with (by file name)."""
    origin, licence = SOUNDFONTS.get(Path(name).name, (f"{USER_ORIGIN} or found on the machine", UNKNOWN_LICENCE))
    return DataOrigin(used_for, "soundfont", (Path(name).name or "unrecorded",), origin, licence)


def user_origin(files: Sequence[str], used_for: str, kind: str = "recordings") -> DataOrigin:
    """Recordings or scores the user supplied: their licence is the user's business, unknown to us."""
    return DataOrigin(used_for, kind, tuple(files), USER_ORIGIN, UNKNOWN_LICENCE)


def in_music21_corpus(source: str) -> bool:
    """True when ``source`` is a work of the installed music21's corpus named as 'bach/bwv66.6.mxl'."""
    spec = importlib.util.find_spec("music21")
    if Path(source).is_absolute() or spec is None or not spec.submodule_search_locations:
        return False
    return (Path(spec.submodule_search_locations[0]) / "corpus" / source).is_file()


def _audio_names(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(p.name for p in path.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    return [path.name]


def _corpus_or_none(path: str | os.PathLike[str] | None) -> Corpus | None:
    if path is None:
        return None
    try:
        return load_corpus(path)
    except CountertrackError:
        return None


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"

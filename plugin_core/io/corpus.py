"""The corpus manifest: a folder of (A, B) pairs described by ``corpus.json``.

A pair is one song: its guide track A and its response track B, same sample rate, same number of
samples. Paths in the manifest are relative to the corpus folder, also for stems referenced in place
outside it (``../stems/song/bass.wav``): a corpus moved with its stems, or copied to another machine,
still trains. An absolute path written by hand is read as it is.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import read_json, write_json_atomic
from plugin_core.io.audio import Audio, read_audio, resample
from plugin_core.io.outputs import Output
from plugin_core.io.records import checked_schema_version

MANIFEST_NAME = "corpus.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Pair:
    """One song's guide (A) and response (B) tracks, sample-aligned."""

    id: str
    guide: str
    response: str
    sample_rate: int
    num_samples: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: its folder, its pairs and what went wrong while building it."""

    root: Path
    guide: str
    response: str
    pairs: tuple[Pair, ...]
    problems: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    def path_of(self, relative_or_absolute: str) -> Path:
        """Resolve a manifest path against the corpus folder."""
        path = Path(relative_or_absolute)
        return path if path.is_absolute() else self.root / path

    @property
    def duration_s(self) -> float:
        return sum(pair.duration_s for pair in self.pairs)


def manifest_path(path: Path) -> Path:
    """Accept either the corpus folder or its corpus.json."""
    return path if path.name == MANIFEST_NAME else path / MANIFEST_NAME


def relative_to_root(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (with ``..`` when it lies outside), in POSIX form: no path of the
    machine that built the corpus is recorded."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def corpus_output(folder: Path) -> Output:
    """A corpus folder as one output of a transaction: new or empty, or a corpus (it holds
    ``corpus.json``) replaced with ``force``; a folder that is not a corpus is never replaced."""
    return Output(
        folder,
        folder=True,
        replaceable=lambda p: (p / MANIFEST_NAME).is_file(),
        not_replaceable=f"holds files but no {MANIFEST_NAME}: not a corpus to replace; choose another folder",
    )


def save_corpus(corpus: Corpus) -> Path:
    """Write ``corpus.json`` atomically into the corpus folder and return its path."""
    target = manifest_path(corpus.root)
    write_json_atomic(
        target,
        {
            "schema_version": SCHEMA_VERSION,
            "kind": "countertrack-corpus",
            "guide": corpus.guide,
            "response": corpus.response,
            "pairs": [asdict(pair) for pair in corpus.pairs],
            "problems": list(corpus.problems),
            "provenance": corpus.provenance,
        },
    )
    return target


def load_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Read and validate a corpus manifest (folder or corpus.json); errors name the manifest."""
    target = manifest_path(Path(path))
    if not target.is_file():
        raise CountertrackError(f"no {MANIFEST_NAME} here; build one with 'countertrack corpus'", Path(path))
    data = read_json(target)
    if not isinstance(data, dict) or data.get("kind") != "countertrack-corpus":
        raise CountertrackError("not a countertrack corpus manifest", target)
    checked_schema_version(data.get("schema_version"), SCHEMA_VERSION, "corpus", target, error=CountertrackError)
    try:
        pairs = tuple(
            Pair(
                id=str(p["id"]),
                guide=str(p["guide"]),
                response=str(p["response"]),
                sample_rate=int(p["sample_rate"]),
                num_samples=int(p["num_samples"]),
                provenance=dict(p.get("provenance", {})),
            )
            for p in data["pairs"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CountertrackError(f"malformed pair entry ({exc!r})", target) from exc
    ids = [pair.id for pair in pairs]
    if len(set(ids)) != len(ids):
        raise CountertrackError("pair ids are not unique", target)
    return Corpus(
        root=target.parent,
        guide=str(data.get("guide", "")),
        response=str(data.get("response", "")),
        pairs=pairs,
        problems=tuple(str(p) for p in data.get("problems", [])),
        provenance=dict(data.get("provenance", {})),
    )


def load_pair_audio(corpus: Corpus, pair: Pair, *, sample_rate: int | None = None) -> tuple[Audio, Audio]:
    """Read a pair's guide and response as mono, cut to the pair's length (and resampled if asked)."""
    tracks = []
    for role in (pair.guide, pair.response):
        audio = read_audio(corpus.path_of(role), mono=True)
        if audio.num_samples < pair.num_samples:
            raise CountertrackError(
                f"is shorter ({audio.num_samples} samples) than the manifest says ({pair.num_samples})", corpus.path_of(role)
            )
        samples = audio.samples[:, : pair.num_samples]
        rate = audio.sample_rate
        if sample_rate is not None and sample_rate != rate:
            samples, rate = resample(samples, rate, sample_rate), sample_rate
        tracks.append(Audio(samples=samples, sample_rate=rate, info=audio.info))
    return tracks[0], tracks[1]

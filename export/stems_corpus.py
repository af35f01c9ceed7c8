"""Build a corpus from folders of separated stems: one sub-folder per song, A and B chosen by pattern.

A may be one stem or the mix (sum) of several; the paper's A is the mix of all the other stems
(``--guide others``). Stems of a song must share sample rate and length (within a tolerance, 1 ms by
default); a song that does not is reported and skipped, never padded.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from plugin_core.audio import AudioInfo, list_audio_files, probe_audio, read_audio, write_audio
from plugin_core.corpus import Corpus, Pair, relative_to_root, save_corpus
from plugin_core.errors import CountertrackError

OTHERS = "others"


def build_from_stems(
    stems_root: str | os.PathLike[str],
    guide_patterns: tuple[str, ...],
    response_patterns: tuple[str, ...],
    out_dir: str | os.PathLike[str],
    *,
    tolerance_s: float = 0.001,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda it: it,
) -> tuple[Corpus, list[str]]:
    """Pair the stems of every song folder under ``stems_root``; write corpus.json into ``out_dir``.

    Returns the corpus and the problems found (one line per skipped song). Raises CountertrackError
    when no song gives a usable pair. Single stems are referenced in place; mixes are written.
    """
    root = Path(stems_root)
    if not root.is_dir():
        raise CountertrackError("not a folder of song folders", root)
    songs = sorted(p for p in root.iterdir() if p.is_dir())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs: list[Pair] = []
    problems: list[str] = []
    for song in progress(songs):
        try:
            pairs.append(_pair_song(song, guide_patterns, response_patterns, out, tolerance_s))
        except CountertrackError as exc:
            problems.append(str(exc))
    corpus = Corpus(
        root=out,
        guide=",".join(guide_patterns),
        response=",".join(response_patterns),
        pairs=tuple(pairs),
        problems=tuple(problems),
        provenance={"builder": "from-stems", "stems_root": str(root.resolve()), "tolerance_s": tolerance_s},
    )
    if not pairs:
        detail = "; ".join(problems[:3]) if problems else "no song folders"
        raise CountertrackError(f"no usable song ({detail})", root)
    save_corpus(corpus)
    return corpus, problems


def match_stems(files: list[Path], patterns: tuple[str, ...], exclude: list[Path] = ()) -> list[Path]:
    """Files whose name matches any glob pattern (case-insensitive); 'others' means all but ``exclude``."""
    if OTHERS in patterns:
        return [f for f in files if f not in exclude]
    return [f for f in files if any(fnmatch.fnmatch(f.name.lower(), p.lower()) for p in patterns)]


def _pair_song(song: Path, guide_patterns: tuple[str, ...], response_patterns: tuple[str, ...], out: Path, tolerance_s: float) -> Pair:
    files = list_audio_files(song)
    response = match_stems(files, response_patterns)
    guide = match_stems(files, guide_patterns, exclude=response)
    if not response:
        raise CountertrackError(f"no stem matches the response pattern {','.join(response_patterns)!r}", song)
    if not guide:
        raise CountertrackError(f"no stem matches the guide pattern {','.join(guide_patterns)!r}", song)
    shared = set(guide) & set(response)
    if shared:
        raise CountertrackError(f"{sorted(p.name for p in shared)} match both guide and response", song)
    infos = [probe_audio(path) for path in guide + response]
    _check_alignment(song, infos, tolerance_s)
    length = min(info.num_samples for info in infos)
    rate = infos[0].sample_rate
    return Pair(
        id=song.name,
        guide=_single_or_mix(guide, infos[: len(guide)], out, song.name, "guide"),
        response=_single_or_mix(response, infos[len(guide):], out, song.name, "response"),
        sample_rate=rate,
        num_samples=length,
        provenance={"song": str(song.resolve()), "guide_stems": [p.name for p in guide], "response_stems": [p.name for p in response]},
    )


def _check_alignment(song: Path, infos: list[AudioInfo], tolerance_s: float) -> None:
    rates = {info.sample_rate for info in infos}
    if len(rates) > 1:
        listing = ", ".join(f"{Path(i.path).name} {i.sample_rate} Hz" for i in infos)
        raise CountertrackError(f"stems differ in sample rate ({listing})", song)
    shortest = min(infos, key=lambda i: i.num_samples)
    longest = max(infos, key=lambda i: i.num_samples)
    gap_s = (longest.num_samples - shortest.num_samples) / shortest.sample_rate
    if gap_s > tolerance_s:
        raise CountertrackError(
            f"stems differ in length: {Path(longest.path).name} has {longest.num_samples} samples, "
            f"{Path(shortest.path).name} {shortest.num_samples} ({gap_s * 1000:.1f} ms apart, tolerance {tolerance_s * 1000:g} ms)",
            song,
        )


def _single_or_mix(paths: list[Path], infos: list[AudioInfo], out: Path, song_id: str, role: str) -> str:
    """Reference a single stem in place; write the sum of several stems as a float WAV in the corpus."""
    if len(paths) == 1:
        return relative_to_root(paths[0], out)
    length = min(info.num_samples for info in infos)
    mix = np.zeros((1, length), dtype=np.float32)
    for path in paths:
        mix += read_audio(path, mono=True).samples[:, :length]
    target = out / "pairs" / song_id / f"{role}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_audio(target, mix, infos[0].sample_rate, subtype="FLOAT")
    return relative_to_root(target, out)

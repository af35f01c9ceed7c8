"""Build a corpus from separated stems: plain song folders, or the paper's data sets in their own layouts
(MoisesDB, MUSDB18's WAV layout, Slakh2100; see ``export.data.datasets``), A and B chosen by stem name,
stem type or instrument class.

A side may be one stem or the sum of several; the paper's A is the mix of all the other stems
(``--guide others``). Per song, everything that goes wrong is reported and the song skipped, never
patched: a chosen stem missing, files that differ in rate or channels (named), stems whose lengths
differ beyond a tolerance (1 ms by default), an A or B that is silent. The corpus folder is one output
transaction (``plugin_core.io.outputs``): checked before any work, built in a staged folder beside it,
committed whole at the end; when no song gives a pair, or anything fails, nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from export.data.datasets import Layout, Song, Stem, layout_of
from export.data.datasets.mixdown import SILENCE_DBFS, check_channels, check_lengths, check_rates, peak_dbfs, probe_all, sum_files
from export.data.datasets.selection import OTHERS, Selection, choose_stems, selection_for
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import to_mono, write_audio
from plugin_core.io.corpus import Corpus, Pair, corpus_output, relative_to_root, save_corpus
from plugin_core.io.outputs import plan_outputs

__all__ = ["OTHERS", "StemsRequest", "build_from_stems"]


@dataclass(frozen=True)
class StemsRequest:
    """What to pair: the selectors of each side, the layout (None: detected) and the length tolerance."""

    guide: tuple[str, ...]
    response: tuple[str, ...]
    layout: str | None = None
    tolerance_s: float = 0.001


def build_from_stems(
    stems_root: str | os.PathLike[str],
    guide_patterns: tuple[str, ...],
    response_patterns: tuple[str, ...],
    out_dir: str | os.PathLike[str],
    *,
    tolerance_s: float = 0.001,
    layout: str | None = None,
    force: bool = False,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda it: it,
) -> tuple[Corpus, list[str]]:
    """Pair the stems of every song under ``stems_root``; write the corpus folder ``out_dir`` whole.

    Returns the corpus and the problems found (one line per skipped song). Raises CountertrackError
    when no song gives a usable pair, or ``out_dir`` may not be written (it exists and is not empty,
    without ``force``; or is not a corpus). Single stems are referenced in place; sums are written.
    """
    root, out = Path(stems_root), Path(out_dir)
    request = StemsRequest(tuple(guide_patterns), tuple(response_patterns), layout, tolerance_s)
    found = layout_of(root, layout)
    selection = selection_for(found, request.guide, request.response, root)
    output = corpus_output(out)
    with plan_outputs([output], [root], force=force) as outputs:
        staged = outputs.staged(out)
        songs = [folder for folder in found.song_folders(root) if not _same_folder(folder, out)]
        pairs, problems = _pair_songs(progress(songs), found, selection, request, staged)
        if not pairs:
            detail = "; ".join(problems[:3]) if problems else "no song folders"
            raise CountertrackError(f"no usable song ({detail})", root)
        corpus = Corpus(
            root=staged,
            guide=",".join(request.guide),
            response=",".join(request.response),
            pairs=tuple(pairs),
            problems=tuple(problems),
            provenance={
                "builder": "from-stems",
                "layout": found.name,
                "dataset": found.title,
                "stems_root": relative_to_root(root, staged),
                "tolerance_s": tolerance_s,
            },
        )
        save_corpus(corpus)
        outputs.commit()
    return Corpus(out, corpus.guide, corpus.response, corpus.pairs, corpus.problems, corpus.provenance), problems


def _pair_songs(
    songs: Iterable[Path], layout: Layout, selection: Selection, request: StemsRequest, out: Path
) -> tuple[list[Pair], list[str]]:
    """Every song's pair, and one problem line per song skipped; pair ids are unique (a song whose
    name repeats, in another split or provider folder, is named with its parent folder too)."""
    pairs: list[Pair] = []
    problems: list[str] = []
    used: set[str] = set()
    for folder in songs:
        try:
            song = layout.read_song(folder)
            pair_id = song.id if song.id not in used else f"{folder.parent.name}-{song.id}"
            if pair_id in used:
                raise CountertrackError("has the same name as another song already paired", folder)
            pairs.append(_pair_song(song, pair_id, layout, selection, request, out))
            used.add(pair_id)
        except CountertrackError as exc:
            problems.append(str(exc))
    return pairs, problems


def _pair_song(song: Song, pair_id: str, layout: Layout, selection: Selection, request: StemsRequest, out: Path) -> Pair:
    """One song's pair: its stems chosen, checked, summed where several, and checked for silence."""
    guide, response = choose_stems(song, layout, selection)
    guide_files = [path for stem in guide for path in stem.files]
    response_files = [path for stem in response for path in stem.files]
    guide_infos, response_infos = probe_all(guide_files), probe_all(response_files)
    rate = check_rates(guide_infos + response_infos)
    check_channels(guide_infos)
    check_channels(response_infos)
    length = check_lengths(guide_infos + response_infos, request.tolerance_s, song.folder)
    provenance = {
        **song.provenance,  # what the data set says (split, artist…), never overriding ours below
        "song": relative_to_root(song.folder, out),  # like every path of corpus.json: relative to the corpus
        "layout": layout.name,
        "guide_stems": [_describe(layout, stem) for stem in guide],
        "response_stems": [_describe(layout, stem) for stem in response],
    }
    if song.tempo_midi is not None:
        provenance["midi"] = relative_to_root(song.tempo_midi, out)  # the tempo map, as from-scores records it
    return Pair(
        id=pair_id,
        guide=_side(guide_files, length, rate, out, pair_id, "guide", song.folder),
        response=_side(response_files, length, rate, out, pair_id, "response", song.folder),
        sample_rate=rate,
        num_samples=length,
        provenance=provenance,
    )


def _side(files: list[Path], length: int, rate: int, out: Path, pair_id: str, role: str, song: Path) -> str:
    """A side's manifest path: a single file referenced in place, several summed into a mono float WAV
    in the corpus (mono, as every corpus is read). One line naming the song when the side is silent."""
    samples = sum_files(files, length)
    peak = peak_dbfs(samples)
    if peak < SILENCE_DBFS:
        names = ", ".join(path.name for path in files)
        raise CountertrackError(f"the {role} is silent ({names}: peak {peak:.0f} dBFS, below {SILENCE_DBFS:.0f})", song)
    if len(files) == 1:
        return relative_to_root(files[0], out)
    target = out / "pairs" / pair_id / f"{role}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_audio(target, to_mono(samples), rate, subtype="FLOAT")
    return relative_to_root(target, out)


def _describe(layout: Layout, stem: Stem) -> str | dict[str, object]:
    """A stem in the pair's provenance: its name, or its name with what the data set says of it."""
    if layout.name == "folders":
        return stem.name
    return {"name": stem.name, "kind": layout.label(stem), **stem.details}


def _same_folder(first: Path, second: Path) -> bool:
    """Whether two paths are one folder (the corpus may be written inside the data set's folder)."""
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False

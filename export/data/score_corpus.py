"""Build a corpus from multi-part scores: each score's guide and response parts rendered to aligned stems.

This is how MIDI collections become training data (Slakh2100 was made the same way from Lakh MIDI).
Each pair folder holds ``guide.wav``, ``response.wav`` and ``score.mid`` (the score's timeline, usable
as a tempo map for beat segmentation).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from export.data.midi_parts import Score, at_constant_tempo, extract_part, load_score, safe_id, score_id
from export.data.synth import SynthSettings, find_soundfont, render_midi
from plugin_core.errors import CountertrackError
from plugin_core.io.atomic import atomic_path
from plugin_core.io.audio import write_audio
from plugin_core.io.corpus import Corpus, Pair, corpus_output, save_corpus
from plugin_core.io.outputs import plan_outputs
from plugin_core.io.stopping import run_task, worker_pool

DEFAULT_GUIDE_PROGRAM = 73  # GM flute: a clear melodic line
DEFAULT_RESPONSE_PROGRAM = 32  # GM acoustic bass


@dataclass(frozen=True)
class ScoreCorpusRequest:
    """Which scores, which parts, and how to render them."""

    sources: tuple[str, ...]
    guide_parts: tuple[str, ...]
    response_parts: tuple[str, ...]
    guide_program: int = DEFAULT_GUIDE_PROGRAM
    response_program: int = DEFAULT_RESPONSE_PROGRAM
    limit: int | None = None
    sample_rate: int = 44100
    soundfont: str | None = None
    tempo_range_qpm: tuple[float, float] | None = None  # each score at its own steady tempo in this range (None: as written)

    def tempo_of(self, score_id: str) -> float | None:
        """The steady tempo a score is rendered at: drawn from ``tempo_range_qpm`` by its id (the same
        on every machine and for any job count), rounded to a whole qpm."""
        if self.tempo_range_qpm is None:
            return None
        low, high = self.tempo_range_qpm
        fraction = int(hashlib.sha256(score_id.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
        return float(round(low + (high - low) * fraction))


def music21_works(composer: str) -> list[str]:
    """Works of music21's bundled corpus by ``composer``, as corpus names sorted for reproducibility."""
    try:
        from music21 import corpus
    except ImportError as exc:  # pragma: no cover - music21 is in the train extra
        raise CountertrackError("reading music21's corpus needs music21: in countertrack's source folder, pip install '.[train]'") from exc
    paths = corpus.getComposer(composer)
    if not paths:
        raise CountertrackError(f"music21's corpus has no works by {composer!r}")
    names = []
    for path in paths:
        path = Path(path)
        names.append(f"{path.parent.name}/{path.name}")
    return sorted(names, key=_natural_key)


def build_from_scores(
    request: ScoreCorpusRequest,
    out_dir: str | os.PathLike[str],
    *,
    progress: Callable[[Iterable[Pair | str]], Iterable[Pair | str]] = lambda it: it,
    jobs: int = 1,
    force: bool = False,
) -> tuple[Corpus, list[str]]:
    """Render every usable score of ``request`` into a pair under ``out_dir`` and write corpus.json,
    ``jobs`` scores at a time (the corpus is the same for any ``jobs``).

    Scores that cannot be read or lack a requested part are reported (second return value) and
    skipped; ``limit`` counts pairs written, so skipped scores do not use it up. The corpus folder is
    one transaction, as ``corpus from-stems``'s: new or empty, or a corpus replaced with ``force``;
    built beside it and moved in whole at the end, so a failed or stopped run leaves it as it was.
    """
    out = Path(out_dir)
    soundfont = find_soundfont(request.soundfont)
    settings = SynthSettings(soundfont=str(soundfont), sample_rate=request.sample_rate)
    output = corpus_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)  # as before: a corpus may go into a folder not made yet
    score_files = [s for s in request.sources if Path(s).is_file()]  # never written over, as inputs
    with plan_outputs([output], score_files, force=force) as outputs:  # built beside it, appears whole at the end
        staged = outputs.staged(out)
        pairs, problems = _render_scores(request, settings, staged, progress, jobs)
        if not pairs:
            raise CountertrackError("no score gave a pair: " + ("; ".join(problems[:3]) or "no scores given"), out)
        corpus = Corpus(
            root=staged,
            guide="+".join(request.guide_parts),
            response="+".join(request.response_parts),
            pairs=tuple(pairs),
            problems=tuple(problems),
            provenance={
                "builder": "from-scores",
                "soundfont": soundfont.name,
                "sample_rate": request.sample_rate,
                "guide_program": request.guide_program,
                "response_program": request.response_program,
                "gain": settings.gain,
                "tail_s": settings.tail_s,
                "tempo_range_qpm": list(request.tempo_range_qpm) if request.tempo_range_qpm else None,
            },
        )
        save_corpus(corpus)
        outputs.commit()
    return Corpus(out, corpus.guide, corpus.response, corpus.pairs, corpus.problems, corpus.provenance), problems


def _render_scores(
    request: ScoreCorpusRequest,
    settings: SynthSettings,
    out: Path,
    progress: Callable[[Iterable[Pair | str]], Iterable[Pair | str]],
    jobs: int,
) -> tuple[list[Pair], list[str]]:
    """Every usable score of ``request`` rendered into a pair under ``out``, ``jobs`` at a time, in source order."""
    pairs: list[Pair] = []
    problems: list[str] = []
    render = functools.partial(_load_and_render, request=request, settings=settings, out=out, ids=unique_score_ids(request.sources))
    with contextlib.ExitStack() as stack:
        mapper: Callable[..., Iterator[Pair | str]] = map
        if jobs > 1:  # spawn, not fork: the caller may hold torch's threads; stopped, the workers stop too
            mapper = stack.enter_context(worker_pool(jobs, mp_context=multiprocessing.get_context("spawn"))).map
            render = functools.partial(run_task, render)
        sources = list(dict.fromkeys(request.sources))  # a source given twice is one pair

        def results() -> Iterator[Pair | str]:
            position = 0
            while position < len(sources) and (request.limit is None or len(pairs) < request.limit):
                # a wave of as many scores as pairs are still wanted: in source order, never past the limit
                wave = sources[position : len(sources) if request.limit is None else position + request.limit - len(pairs)]
                position += len(wave)
                yield from mapper(render, wave)

        for result in progress(results()):
            if isinstance(result, Pair):
                pairs.append(result)
            else:
                problems.append(result)
    return pairs, problems


def unique_score_ids(sources: Iterable[str]) -> dict[str, str]:
    """Each source's pair id: its score id ('bach/bwv66.6' -> 'bach_bwv66.6'), or, where two sources
    would share one (``x.mxl`` and ``x.xml``, ``a/x.mid`` and ``b/x.mid``), the whole source made
    file-system safe, so no pair's folder is written over by another's. Decided before any work."""
    sources = list(dict.fromkeys(sources))
    plain = {source: score_id(source) for source in sources}
    counts = Counter(plain.values())
    ids = {source: plain[source] if counts[plain[source]] == 1 else safe_id(source) for source in sources}
    if len(set(ids.values())) != len(ids):  # two spellings of one path: a number keeps them apart
        seen: Counter[str] = Counter()
        for source in sources:
            seen[ids[source]] += 1
            if seen[ids[source]] > 1:
                ids[source] = f"{ids[source]}-{seen[ids[source]]}"
    return ids


def _load_and_render(source: str, *, request: ScoreCorpusRequest, settings: SynthSettings, out: Path, ids: dict[str, str]) -> Pair | str:
    """One score's pair, or the one-line problem that skips it."""
    try:
        return _render_pair(replace(load_score(source), id=ids[source]), request, settings, out)
    except CountertrackError as exc:
        return str(exc)


def _render_pair(score: Score, request: ScoreCorpusRequest, settings: SynthSettings, out: Path) -> Pair:
    tempo = request.tempo_of(score.id)
    if tempo is not None:
        score = at_constant_tempo(score, tempo)
    guide_parts = [score.find_part(name) for name in request.guide_parts]
    response_parts = [score.find_part(name) for name in request.response_parts]
    overlap = {p.index for p in guide_parts} & {p.index for p in response_parts}
    if overlap:
        raise CountertrackError(f"part {sorted(overlap)} is both guide and response", score.source)
    guide = [render_midi(extract_part(score, p, request.guide_program), settings, name=score.source) for p in guide_parts]
    response = [render_midi(extract_part(score, p, request.response_program), settings, name=score.source) for p in response_parts]
    # Every extracted part shares the score's timeline; renders can differ by one synthesis block
    # at the very end (silence), so all stems are cut to the shortest.
    length = min(stem.shape[1] for stem in guide + response)
    guide_mix = np.sum([stem[:, :length] for stem in guide], axis=0)
    response_mix = np.sum([stem[:, :length] for stem in response], axis=0)
    folder = out / "pairs" / score.id
    folder.mkdir(parents=True, exist_ok=True)
    write_audio(folder / "guide.wav", guide_mix, settings.sample_rate, subtype="PCM_24")
    write_audio(folder / "response.wav", response_mix, settings.sample_rate, subtype="PCM_24")
    with atomic_path(folder / "score.mid") as tmp:
        score.midi.save(str(tmp))
    return Pair(
        id=score.id,
        guide=f"pairs/{score.id}/guide.wav",
        response=f"pairs/{score.id}/response.wav",
        sample_rate=settings.sample_rate,
        num_samples=int(length),
        provenance={
            "source": score.source,
            "guide_parts": [p.name for p in guide_parts],
            "response_parts": [p.name for p in response_parts],
            "midi": f"pairs/{score.id}/score.mid",
            **({"tempo_qpm": tempo} if tempo is not None else {}),
        },
    )


def _natural_key(name: str) -> list[object]:
    """Sort 'bwv2.6' before 'bwv10.7'."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]

"""Does the default recipe travel? Build corpora unlike the default's chorales, train the recipe on
each, and check it against the baselines on each one's held-out songs: greedy decoding must beat
the majority label and the context-free table (argmax), top-p sampling must beat B's unigram and
the table sampled.

Corpora (music21's bundled scores and generated MIDI, rendered with FluidSynth at varied tempi):
- palestrina: Renaissance masses and motets, top part (oboe) -> lowest part (bassoon);
- monteverdi: five-voice madrigals with long rests, top part (clarinet) -> lowest part (cello);
- quartets: Haydn, Mozart and Beethoven string quartets, first violin -> cello;
- trecento: 14th-century Italian ballate and motets in two to four voices, top voice (recorder) ->
  tenor (trombone): long notes and long rests in the response;
- drums: generated rock/funk drum grooves (GM drums) -> a bass line that locks to the kick
  over a chord progression (finger bass), with bars of rest.

Run: python -m benchmarks.recipe_corpora [--out DIR] [--songs N] [--corpora a,b]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np

DRUMS_TEMPO_QPM = (80.0, 150.0)
PROGRESSIONS = ((0, 5, 7, 9), (0, 7, 9, 5), (0, 3, 5, 7), (9, 5, 0, 7))  # scale-degree roots (semitones) of four bars
KICK_PATTERNS = ((0, 8), (0, 6, 8), (0, 3, 8, 11), (0, 8, 10), (0, 7, 10))  # sixteenths of a bar
KICK, SNARE, HAT, OPEN_HAT = 36, 38, 42, 46


def drums_and_bass(seed: int, bars: int = 32) -> mido.MidiFile:
    """A generated song: a drum track (GM channel 10) and a bass track that plays on most kicks, a
    root, fifth or octave of the bar's chord, with the odd passing note and whole bars of rest."""
    rng = np.random.default_rng(seed)
    tpb = 480
    sixteenth = tpb // 4
    key = int(rng.integers(28, 40))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    kicks = KICK_PATTERNS[int(rng.integers(len(KICK_PATTERNS)))]
    drums: list[tuple[int, mido.Message]] = []
    bass: list[tuple[int, mido.Message]] = []
    for bar in range(bars):
        start = bar * 16 * sixteenth
        fill = bar % 8 == 7
        for step in range(16):
            tick = start + step * sixteenth
            hits = []
            if step in kicks or (fill and step >= 12 and step % 2 == 0):
                hits.append(KICK)
            if step in (4, 12) or (fill and step >= 12):
                hits.append(SNARE)
            if step % 2 == 0:
                hits.append(OPEN_HAT if step == 14 and rng.random() < 0.3 else HAT)
            for note in hits:
                drums += [
                    (tick, mido.Message("note_on", channel=9, note=note, velocity=int(rng.integers(80, 120)))),
                    (tick + sixteenth // 2, mido.Message("note_off", channel=9, note=note, velocity=0)),
                ]
        if bar % 16 in (14, 15) and rng.random() < 0.7:  # the bass rests for a bar or two now and then
            continue
        root = key + progression[bar % 4]
        steps = [s for s in kicks] + ([14] if rng.random() < 0.4 else [])
        for index, step in enumerate(sorted(set(steps))):
            nxt = sorted(set(steps))[index + 1] if index + 1 < len(set(steps)) else 16
            note = root + int(rng.choice([0, 0, 0, 7, 12, 10])) if step else root
            tick = start + step * sixteenth
            bass += [
                (tick, mido.Message("note_on", channel=0, note=note, velocity=int(rng.integers(85, 115)))),
                (start + nxt * sixteenth - 10, mido.Message("note_off", channel=0, note=note, velocity=0)),
            ]
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    for name, events in (("drums", drums), ("bass", bass)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        if name == "drums":
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120.0), time=0))
        now = 0
        for tick, message in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi


CORPORA = {
    # name: (sources, guide part, response part, guide program, response program)
    "palestrina": ("palestrina", "0", "-1", 68, 70),
    "monteverdi": ("monteverdi", "0", "-1", 71, 42),
    "quartets": (("haydn", "mozart", "beethoven"), "0", "-1", 40, 42),
    "trecento": ("trecento", "0", "-1", 74, 57),
    "drums": ("generated", "drums", "bass", 0, 33),
}


def build_corpus(name: str, out: Path, songs: int) -> Path:
    """Render corpus ``name`` (``songs`` pairs at most) into ``out / name`` unless it is there."""
    from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works

    folder = out / name
    if (folder / "corpus.json").is_file():
        return folder
    composers, guide, response, guide_program, response_program = CORPORA[name]
    if composers == "generated":
        scores = out / f"{name}-scores"
        scores.mkdir(parents=True, exist_ok=True)
        sources = []
        for seed in range(songs):
            path = scores / f"groove{seed:03d}.mid"
            drums_and_bass(seed).save(str(path))
            sources.append(str(path))
        tempo_range = DRUMS_TEMPO_QPM
    else:
        composers = (composers,) if isinstance(composers, str) else composers
        works = [work for composer in composers for work in music21_works(composer)]
        sources = [works[i] for i in np.random.default_rng(0).permutation(len(works))]  # a spread, not the first few
        tempo_range = (60.0, 140.0)
    request = ScoreCorpusRequest(
        sources=tuple(sources),
        guide_parts=(guide,),
        response_parts=(response,),
        guide_program=guide_program,
        response_program=response_program,
        limit=songs,
        tempo_range_qpm=tempo_range,
    )
    build_from_scores(request, folder, jobs=2)
    return folder


def check(corpus: Path, run_dir: Path, vocab: int) -> dict:
    """Train the default recipe on ``corpus`` and evaluate it: the verdicts and the scores."""
    from export.default_bundle import RECIPE
    from export.evaluation.paper_metrics import evaluate, markdown_table
    from export.train.run import TrainConfig, load_run, train

    config = replace(TrainConfig(corpus=str(corpus), **RECIPE), vocab=vocab)
    run = (
        load_run(run_dir)
        if (run_dir / "model.safetensors").is_file()
        and (run_dir / "checkpoint.json").is_file()
        and json.loads((run_dir / "checkpoint.json").read_text()).get("stopped_early")
        else train(config, run_dir, resume=(run_dir / "checkpoint.json").is_file(), log=lambda _: None)
    )
    result = evaluate(run, str(corpus))
    tpp = {s["name"]: s["tpp"] for s in result["scores"]}
    greedy, sampled = tpp["model, greedy"], tpp["model, top-p 0.8"]
    verdicts = {
        "greedy > majority label": greedy > tpp["majority label"],
        "greedy > table argmax": greedy > tpp["table p(B|A) argmax"],
        "top-p > unigram of B": sampled > tpp["unigram of B"],
        "top-p > table sampled": sampled > tpp["table p(B|A) sampled"],
    }
    return {"table": markdown_table(result), "tpp": tpp, "verdicts": verdicts, "held_out": len(result["held_out"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/recipe-corpora", help="corpora and runs (kept: a second run reuses them)")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--vocab", type=int, default=16)
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = []
    for name in args.corpora.split(","):
        started = time.perf_counter()
        corpus = build_corpus(name, out, args.songs)
        report = check(corpus, out / f"{name}-run-v{args.vocab}", args.vocab)
        print(f"## {name} ({report['held_out']} held-out songs, {time.perf_counter() - started:.0f} s)\n\n{report['table']}")
        rows.append((name, report["verdicts"]))
    print("| corpus | " + " | ".join(rows[0][1]) + " |\n|---|" + "---|" * len(rows[0][1]))
    for name, verdicts in rows:
        print(f"| {name} | " + " | ".join("met" if ok else "MISSED" for ok in verdicts.values()) + " |")


if __name__ == "__main__":
    main()

"""Judge the rendered answer as audio, not tokens: on held-out songs, render B with the model and with
the oracle (the true B's tokens forced through the grain engine), and measure what a musician hears.

- **On the beat**: the share of B's note onsets within ``BEAT_TOLERANCE_S`` of one of A's beats
  (the beats of the song's score when the corpus has one, else estimated from A), for the rendered
  B, the oracle, the true B, and chance (the true B's onsets moved by a random part of a beat).
- **Consonance**: on frames where A and B both have a pitch (YIN, ``plugin_core.perception.descriptors``),
  the share whose interval class is consonant (unison/octave, thirds, fifth, sixths), for the same
  four, chance being the true B shifted in time by several seconds (same key, wrong moment).
- **Seams**: the level step (dB, 10 ms either side) at each boundary where the render jumps in the
  memory, against the steps at the memory's own grain boundaries.

``progress`` = (render - chance) / (true - chance): how far from chance to the true part it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from plugin_core.bundle.load import Bundle
from plugin_core.io.audio import Audio
from plugin_core.io.corpus import Corpus, Pair, load_pair_audio
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.descriptors import HOP_S, hz_to_midi, pitch_track, to_analysis_rate
from plugin_core.perception.labeller import encoder_input
from plugin_core.perception.segmentation import SegmentationConfig, detect_onsets, make_grid, tempo_map_beats_s
from plugin_core.render.offline import render_audio

BEAT_TOLERANCE_S = 0.035
CONSONANT_CLASSES = (0, 3, 4, 7, 8, 9)
CHANCE_SHIFTS_S = (2.0, 3.5, 5.0, 7.5)
SEAM_PROBE_S = 0.010
KINDS = ("model", "oracle", "true", "chance")


@dataclass(frozen=True)
class SongReport:
    """One held-out song's measures; None where a measure has nothing to count."""

    pair_id: str
    beats: int
    on_beat: dict[str, float | None]  # kind -> share of onsets on A's beats
    consonance: dict[str, float | None]  # kind -> share of consonant frames
    seam_step_db: float | None  # median level step at the render's jumps
    memory_step_db: float | None  # median level step at the memory's own grain boundaries


ATTACK_SEARCH_S = 0.05  # how far before a detected onset its attack may begin
ATTACK_RISE = 0.1  # an attack begins where the energy has risen this share (in dB) of the way to its peak


def onsets_s(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Note onsets (s) of mono audio: the project's spectral-flux detector (60 ms apart at least),
    each moved back to where its attack begins, so a detector's lag does not count as lateness: in
    a 5 ms energy envelope every 1 ms, the lowest point within ATTACK_SEARCH_S before the onset, then
    the first point after it that has risen ATTACK_RISE of the way to the highest point up to 30 ms
    after the onset."""
    mono = np.asarray(audio, np.float64).reshape(-1)
    found = detect_onsets(mono.astype(np.float32), sample_rate, 0.06)
    hop, window = max(1, sample_rate // 1000), max(2, sample_rate // 200)
    squares = np.concatenate([[0.0], np.cumsum(mono * mono)])
    starts = np.arange(0, max(1, mono.size - window), hop)
    level = 10.0 * np.log10((squares[starts + window] - squares[starts]) / window + 1e-12)
    moved = []
    for onset in found:
        at = int(onset) // hop
        low = max(0, at - int(ATTACK_SEARCH_S * 1000))
        high = min(level.size, at + 30)
        if high - low < 3 or at >= level.size:
            moved.append(onset)
            continue
        bottom = low + int(np.argmin(level[low : at + 1]))
        peak = float(level[bottom:high].max())
        threshold = level[bottom] + ATTACK_RISE * (peak - level[bottom])
        moved.append(starts[bottom + int(np.argmax(level[bottom:high] >= threshold))] + window // 2)
    return np.asarray(moved, dtype=np.float64) / sample_rate


def on_beat_share(onsets: np.ndarray, beats: np.ndarray, tolerance_s: float = BEAT_TOLERANCE_S) -> float | None:
    """Share of ``onsets`` (s) within ``tolerance_s`` of a beat (s); None without onsets."""
    if onsets.size == 0 or beats.size == 0:
        return None
    index = np.clip(np.searchsorted(beats, onsets), 1, beats.size - 1) if beats.size > 1 else np.zeros(onsets.size, np.int64)
    nearest = np.minimum(np.abs(onsets - beats[index]), np.abs(onsets - beats[np.maximum(index - 1, 0)]))
    return float(np.mean(nearest <= tolerance_s))


def chance_on_beat(onsets: np.ndarray, beats: np.ndarray, rng: np.random.Generator, draws: int = 16) -> float | None:
    """The on-beat share of ``onsets`` each moved by a random part of the local beat, averaged."""
    if onsets.size == 0 or beats.size < 2:
        return None
    period = float(np.median(np.diff(beats)))
    shares = [on_beat_share(onsets + rng.uniform(0.0, period), beats) for _ in range(draws)]
    return float(np.mean([s for s in shares if s is not None]))


def pitch_midi_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """MIDI pitch per 20 ms frame (NaN where unvoiced) of mono audio."""
    return hz_to_midi(pitch_track(*to_analysis_rate(np.asarray(audio, np.float32).reshape(-1), sample_rate)).hz)


def consonance(a_midi: np.ndarray, b_midi: np.ndarray) -> float | None:
    """Share of frames, where both sound a pitch, whose interval class is consonant; None if none."""
    count = min(a_midi.size, b_midi.size)
    a, b = a_midi[:count], b_midi[:count]
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return None
    classes = np.round(b[both] - a[both]).astype(np.int64) % 12
    return float(np.isin(classes, CONSONANT_CLASSES).mean())


def chance_consonance(a_midi: np.ndarray, b_midi: np.ndarray) -> float | None:
    """Consonance of B shifted in time by each of CHANCE_SHIFTS_S (circularly), averaged."""
    frame_s = HOP_S
    measured = [
        consonance(a_midi, np.roll(b_midi, int(round(shift / frame_s)))) for shift in CHANCE_SHIFTS_S if shift / frame_s < b_midi.size
    ]
    values = [v for v in measured if v is not None]
    return float(np.mean(values)) if values else None


def level_steps_db(mono: np.ndarray, sample_rate: int, positions: np.ndarray) -> np.ndarray:
    """|level after - level before| (dB, SEAM_PROBE_S either side) at each position (samples)."""
    probe = max(1, int(round(SEAM_PROBE_S * sample_rate)))
    steps = []
    for position in positions:
        if probe <= position <= mono.size - probe:
            before = np.mean(np.square(mono[position - probe : position], dtype=np.float64))
            after = np.mean(np.square(mono[position : position + probe], dtype=np.float64))
            if max(before, after) > 1e-8:
                steps.append(abs(10.0 * np.log10((after + 1e-12) / (before + 1e-12))))
    return np.asarray(steps)


def true_tokens(bundle: Bundle, b: Audio, boundaries: np.ndarray) -> np.ndarray:
    """The true B's tokens on A's grid: the bundle's perception with its response codebook."""
    at_rate, spans = encoder_input(b, boundaries, bundle.perception.spec)
    _, embeddings = bundle.perception.label_spans(at_rate, spans)
    return Codebook.load(bundle.folder / bundle.manifest["codebooks"]["response"]).assign(embeddings)


def song_beats_s(corpus: Corpus, pair: Pair, a: Audio) -> np.ndarray:
    """A's beats: the quarter notes of the pair's score when it has one, else estimated from A."""
    midi = pair.provenance.get("midi")
    if midi:
        return tempo_map_beats_s(corpus.path_of(midi), a.num_samples / a.sample_rate)
    config = SegmentationConfig(strategy="beats")
    grid = make_grid(a.num_samples, a.sample_rate, config, a.samples.mean(axis=0))
    return grid[1:-1] / a.sample_rate


def report_song(bundle: Bundle, corpus: Corpus, pair: Pair, *, seed: int = 0, render_args: dict | None = None) -> SongReport:
    """Render one held-out song with the model and the oracle, and measure all four kinds."""
    a, b = load_pair_audio(corpus, pair)
    rng = np.random.default_rng(seed)
    model = render_audio(bundle, a, seed=seed, **(render_args or {}))
    forced = true_tokens(bundle, b, model.boundaries)
    oracle = render_audio(bundle, a, seed=seed, forced_tokens=forced, boundaries=model.boundaries, **(render_args or {}))
    beats = song_beats_s(corpus, pair, a)
    mono = {"model": model.samples.mean(axis=0), "oracle": oracle.samples.mean(axis=0), "true": b.samples.mean(axis=0)}
    onsets = {kind: onsets_s(audio, a.sample_rate) for kind, audio in mono.items()}
    on_beat = {kind: on_beat_share(found, beats) for kind, found in onsets.items()}
    on_beat["chance"] = chance_on_beat(onsets["true"], beats, rng)
    a_pitch = pitch_midi_track(a.samples.mean(axis=0), a.sample_rate)
    pitches = {kind: pitch_midi_track(audio, a.sample_rate) for kind, audio in mono.items()}
    consonant = {kind: consonance(a_pitch, track) for kind, track in pitches.items()}
    consonant["chance"] = chance_consonance(a_pitch, pitches["true"])
    jumps = np.asarray([d.start for d in model.decisions[1:] if not d.continued], dtype=np.int64)
    seam = level_steps_db(mono["model"], a.sample_rate, jumps)
    return SongReport(
        pair_id=pair.id,
        beats=int(beats.size),
        on_beat=on_beat,
        consonance=consonant,
        seam_step_db=float(np.median(seam)) if seam.size else None,
        memory_step_db=memory_steps_db(bundle),
    )


_memory_steps: dict[str, float | None] = {}


def memory_steps_db(bundle: Bundle, limit: int = 400) -> float | None:
    """Median level step at the memory's own boundaries between adjacent grains (its natural seams)."""
    key = str(bundle.folder)
    if key not in _memory_steps:
        grains, memory = bundle.memory.grains, bundle.memory
        joins = np.flatnonzero(memory.successor >= 0)[:limit]
        steps: list[float] = []
        for index in joins:
            position = int(grains.end[index])
            probe = int(round(SEAM_PROBE_S * memory.sample_rate))
            piece = memory.read(position - probe, position + probe).mean(axis=0)
            steps.extend(level_steps_db(piece, memory.sample_rate, np.array([probe])))
        _memory_steps[key] = float(np.median(steps)) if steps else None
    return _memory_steps[key]


def summarise(songs: list[SongReport]) -> dict:
    """Means over songs per measure and kind, and each render's progress from chance to the true B."""

    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.mean(kept)) if kept else None

    summary: dict = {}
    for measure in ("on_beat", "consonance"):
        means = {kind: mean([getattr(song, measure)[kind] for song in songs]) for kind in KINDS}
        progress = {}
        true, chance = means["true"], means["chance"]
        for kind in ("model", "oracle"):
            value = means[kind]
            if value is not None and true is not None and chance is not None and abs(true - chance) > 1e-9:
                progress[kind] = (value - chance) / (true - chance)
        summary[measure] = {"mean": means, "progress": progress}
    summary["seam_step_db"] = mean([song.seam_step_db for song in songs])
    summary["memory_step_db"] = mean([song.memory_step_db for song in songs])
    return summary


def audio_report(
    bundle: Bundle,
    corpus: Corpus,
    pair_ids: list[str],
    *,
    seed: int = 0,
    progress: Callable = lambda it, desc, total: it,
    render_args: dict | None = None,
) -> dict:
    """The report of every held-out pair, and its summary, as a JSON-able dict. ``render_args`` go to
    every render (e.g. ``{"parameters": {"harmony": 4}}``)."""
    pairs = [p for p in corpus.pairs if p.id in set(pair_ids)]
    songs = [
        report_song(bundle, corpus, pair, seed=seed + i, render_args=render_args)
        for i, pair in enumerate(progress(pairs, "rendering held-out songs", len(pairs)))
    ]
    return {
        "songs": [asdict(song) for song in songs],
        "summary": summarise(songs),
        "beat_tolerance_s": BEAT_TOLERANCE_S,
        "consonant_classes": list(CONSONANT_CLASSES),
    }


def markdown_audio_table(report: dict) -> str:
    """The summary as a Markdown table: each measure for the model, the oracle, the true B and chance."""
    summary = report["summary"]

    def cell(value: float | None, percent: bool = True) -> str:
        return "n/a" if value is None else (f"{100 * value:.1f} %" if percent else f"{value:.3f}")

    lines = [
        f"Audio of {len(report['songs'])} held-out songs (onsets within {1000 * report['beat_tolerance_s']:.0f} ms of A's beats; "
        "consonant interval classes 0, 3, 4, 7, 8, 9)",
        "",
        "| measure | model | oracle tokens | true B | chance | model: way from chance to true | oracle: way |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for measure, name in (("on_beat", "B onsets on A's beats"), ("consonance", "consonant A/B frames")):
        means, progress = summary[measure]["mean"], summary[measure]["progress"]
        lines.append(
            f"| {name} | {cell(means['model'])} | {cell(means['oracle'])} | {cell(means['true'])} | {cell(means['chance'])} | "
            f"{cell(progress.get('model'))} | {cell(progress.get('oracle'))} |"
        )
    lines += [
        "",
        f"Seams: median level step {cell(summary['seam_step_db'], False)} dB where the render jumps in the memory, "
        f"{cell(summary['memory_step_db'], False)} dB at the memory's own grain boundaries.",
    ]
    return "\n".join(lines) + "\n"


def plot_audio_report(report: dict, path: str | Path) -> None:
    """Bars of on-beat share and consonance for the four kinds, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plugin_core.io.atomic import atomic_path

    summary = report["summary"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#999999"]
    for axis, measure, title in ((axes[0], "on_beat", "B onsets on A's beats"), (axes[1], "consonance", "consonant A/B frames")):
        values = [summary[measure]["mean"][kind] or 0.0 for kind in KINDS]
        axis.bar(KINDS, values, color=colours)
        axis.set_ylim(0, 1)
        axis.set_title(title)
    figure.suptitle(f"countertrack eval, audio of {len(report['songs'])} held-out songs")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def audio_report_for_run(
    run,
    corpus_dir: str,
    *,
    bundle: str | None = None,
    seed: int = 0,
    memory_limit_s: float = 200.0,
    progress: Callable = lambda it, desc, total: it,
) -> dict:
    """The audio report of ``run`` on its held-out songs of ``corpus_dir``: rendered with ``bundle``,
    else with the run exported into a temporary bundle (its training B tracks as memory)."""
    import tempfile

    from export.evaluation.paper_metrics import held_out_ids
    from export.onnx.bundle_export import export_bundle
    from plugin_core.bundle.load import load_bundle
    from plugin_core.io.corpus import load_corpus

    corpus = load_corpus(corpus_dir)
    ids = held_out_ids(run, corpus)
    if bundle is not None:
        return audio_report(load_bundle(bundle), corpus, ids, seed=seed, progress=progress)
    with tempfile.TemporaryDirectory(prefix="countertrack-eval-") as tmp:
        folder = export_bundle(run, Path(tmp) / "eval.ctbundle", memory_limit_s=memory_limit_s, log=lambda _: None)
        return audio_report(load_bundle(folder), corpus, ids, seed=seed, progress=progress)

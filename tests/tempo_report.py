"""Accuracy and speed of plugin_core.perception.tempo on the test renders, as Markdown tables.

    python -m tests.tempo_report            # the cases of the tests, ramps, 4 Bach chorales, speed
    python -m tests.tempo_report --chorales 40 --chorale-start 0   # more chorales, from the corpus's start

Tempo error is relative to the MIDI tempo; "beats hit" is the share of the MIDI's beats with an
estimated beat within 35 ms; the offset is the median signed distance (estimated − MIDI) in ms.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from plugin_core.perception.tempo import estimate_beats
from tests import tempo_audio as ta

RAMPS = (("melody", ta.FLUTE, 90, 115), ("drums", 0, 128, 100), ("melody", ta.PIANO, 150, 170))
HEADER = "| input | qpm | found | tempo error | beats hit (35 ms) | median offset | confidence |\n|---|---:|---:|---:|---:|---:|---:|"


def _row(label: str, qpm: str, rendered: ta.Rendered, beats_s: np.ndarray | None = None, reference_bpm: float | None = None) -> str:
    estimate = estimate_beats(rendered.samples, rendered.sample_rate)
    truth = rendered.beat_times_s if beats_s is None else beats_s
    offsets = ta.beat_offsets_s(truth, estimate.beat_times_s)
    hits = float(np.mean(np.abs(offsets) <= 0.035))
    error = 100.0 * (estimate.bpm / (reference_bpm or rendered.bpm) - 1.0)
    return (
        f"| {label} | {qpm} | {estimate.bpm:.2f} | {error:+.2f} % | {hits:.0%} | {1000 * np.median(offsets):+.0f} ms "
        f"| {estimate.confidence:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=4)
    parser.add_argument("--chorale-start", type=int, default=300)
    args = parser.parse_args()
    names = {
        ta.FLUTE: "flute",
        ta.OBOE: "oboe",
        ta.VIOLIN: "violin",
        ta.PIANO: "piano",
        ta.TRUMPET: "trumpet",
        ta.CLARINET: "clarinet",
        ta.FINGER_BASS: "finger bass",
        ta.ACOUSTIC_BASS: "acoustic bass",
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        renders = list(pool.map(lambda case: ta.render_case(*case), ta.CASES))
    print(HEADER)
    for (kind, program, bpm), rendered in zip(ta.CASES, renders):
        print(_row(kind if kind == "drums" else f"{kind}, {names[program]}", str(bpm), rendered))
    for kind, program, start, end in RAMPS:
        rendered = ta.render_case(kind, program, start, end_bpm=end, seconds=24.0)
        label = f"{kind if kind == 'drums' else f'{kind}, {names[program]}'}, tempo ramp (error against the mean)"
        print(_row(label, f"{start}→{end}", rendered, reference_bpm=(start + end) / 2))
    for name, notes, beats_per_bar, phase in ta.bach_sopranos(args.chorales, start=args.chorale_start):
        for bpm in (80, 97, 120, 150):
            rendered = ta.render_notes(notes, bpm, program=ta.FLUTE, lead_in_s=0.3, beats_per_bar=beats_per_bar)
            print(_row(f"Bach {name.removesuffix('.mxl')} soprano, flute", str(bpm), rendered, rendered.beat_times_s + phase * 60.0 / bpm))
    three_minutes = np.tile(renders[ta.CASES.index(("drums", 0, 120))].samples.mean(axis=0), 10)[: 180 * 44100]
    estimate_beats(three_minutes[:44100], 44100)
    cpu_s, wall_s = [], []
    for _ in range(5):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        estimate_beats(three_minutes, 44100)
        wall_s.append(time.perf_counter() - started_wall)
        cpu_s.append(time.process_time() - started_cpu)
    print(f"\n3 minutes of 44.1 kHz mono: {np.median(cpu_s):.2f} s CPU, {np.median(wall_s):.2f} s wall (median of 5)")


if __name__ == "__main__":
    main()

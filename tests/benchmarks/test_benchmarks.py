"""The benchmark scripts run end to end (at toy sizes) and print every figure beside a target, so
`countertrack bench` cannot rot between the runs recorded in BENCHMARKS.md. No speed is asserted."""

from __future__ import annotations

import re

import numpy as np

from benchmarks import decision_speed, memory_load, render_speed


def _verdict_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"\| (met|MISSED) \|$", line)]


def test_render_figures_cover_offline_and_streaming(tiny_bundle):
    rows = render_speed.measure(str(tiny_bundle), repeats=1, seconds=4.0, stream_seconds=1.0, log=lambda _: None)
    assert [name.split(",")[0] for name, *_ in rows] == [
        "offline render",
        "streaming 256-sample blocks",
        "streaming 256-sample blocks",
        "streaming 256-sample blocks",
    ]
    offline, p50, p99, worst = (value for _, value, _, _ in rows)
    assert offline > 1.0 and 0.0 <= p50 <= p99 <= worst


def test_decision_and_memory_tables_print_their_targets(capsys):
    import torch

    threads = torch.get_num_threads()
    try:
        decision_speed.main(["--repeats", "2", "--vocab", "16"])
    finally:  # the script sets torch's threads for its own process; later tests train in this one
        torch.set_num_threads(threads)
    memory_load.main(["--seconds", "20", "--render-seconds", "3"])
    out = capsys.readouterr().out
    rows = _verdict_rows(out)
    assert len(rows) == 2 + 5  # two caching ratios; load, two RSS figures, two render peaks
    assert "44.1 kHz" in out and "48 kHz" in out


def test_the_audio_report_is_grouped_by_each_songs_tempo():
    from benchmarks.audio_by_tempo import by_tempo

    def song(pair_id, on_beat, consonance):
        return {
            "pair_id": pair_id,
            "on_beat": {"model": on_beat, "true": 0.8, "chance": 0.1},
            "consonance": {"model": consonance, "true": 0.7, "chance": None},
        }

    songs = [song("slow", 0.5, 0.9), song("slow2", 0.7, 0.7), song("fast", 1.0, 0.6)]
    rows = by_tempo(songs, {"slow": 70.0, "slow2": 89.9, "fast": 150.0}, [60.0, 90.0, 120.0, 181.0])
    assert [(r["band"], r["songs"]) for r in rows] == [("60-90 qpm", 2), ("120-181 qpm", 1)]  # an empty band is left out
    assert abs(rows[0]["on_beat_model"] - 0.6) < 1e-12 and abs(rows[1]["consonance_model"] - 0.6) < 1e-12
    assert np.isnan(rows[0]["consonance_chance"])  # nothing to average is NaN, not 0


def test_the_anticipating_worker_benchmark_prints_the_beat_cost_and_each_extra_latency(tmp_path, capsys):
    from benchmarks import anticipating_worker
    from plugin_core.decision.config import ANTICIPATE
    from tests.bundles import make_synthetic_bundle

    bundle = make_synthetic_bundle(tmp_path, lookahead=ANTICIPATE, memory_bpm=120.0)
    anticipating_worker.main([str(bundle), "--seconds", "1", "--extra", "480", "512"])
    out = capsys.readouterr().out
    assert re.search(r"first beat's block: cold [\d.]+ ms, warm [\d.]+ ms", out), out
    assert re.search(r"over one block: \d+ of \d+", out), out
    assert (
        len(re.findall(r"^extra (480|512) samples \(latency [\d.]+ ms\), 1 s in real time: .* waited for the worker: \d+$", out, re.M)) == 2
    ), out

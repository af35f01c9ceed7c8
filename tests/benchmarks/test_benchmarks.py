"""The benchmark scripts run end to end (at toy sizes) and print every figure beside a target, so
`countertrack bench` cannot rot between the runs recorded in BENCHMARKS.md. No speed is asserted."""

from __future__ import annotations

import re

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

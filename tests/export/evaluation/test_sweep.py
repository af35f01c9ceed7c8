"""The sweep: segment settings read from the command line, runs counted finished, and the paper's figure
drawn from the table (the whole sweep trains, in tests/host_scripts/test_train_cmd.py)."""

from __future__ import annotations

import json

import pytest

from export.evaluation.sweep import _finished, plot_sweep, segmentation_for
from plugin_core.errors import CountertrackError


def test_a_segment_is_a_length_in_seconds_or_a_beat_or_half_beat():
    assert (segmentation_for("0.35").strategy, segmentation_for("0.35").hop_s) == ("uniform", 0.35)
    assert (segmentation_for("beat").strategy, segmentation_for("beat").subdivision) == ("beats", 1)
    assert segmentation_for("half-beat").subdivision == 2
    with pytest.raises(CountertrackError, match="segment 'bar' is neither a length in seconds nor beat / half-beat"):
        segmentation_for("bar")


def test_a_run_is_finished_at_its_epochs_or_when_it_stopped_early(tmp_path):
    assert not _finished(tmp_path, 3)
    (tmp_path / "checkpoint.json").write_text(json.dumps({"epoch": 2}))
    assert not _finished(tmp_path, 3) and _finished(tmp_path, 2)
    (tmp_path / "checkpoint.json").write_text(json.dumps({"epoch": 1, "stopped_early": True}))
    assert _finished(tmp_path, 3)


def test_the_figure_is_a_png_of_every_segment_and_vocabulary(tmp_path):
    rows = [
        {
            "segment": segment,
            "vocab": vocab,
            "greedy_tpp": 30.0 + vocab / 8,
            "table_tpp": 20.0,
            "uniform_tpp": 100 / vocab,
            "greedy_lcp": 2.0,
            "table_lcp": 1.0,
        }
        for segment in ("0.25", "beat")
        for vocab in (16, 64)
    ]
    plot_sweep(rows, tmp_path / "sweep.png")
    data = (tmp_path / "sweep.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]  # written whole, nothing left beside it

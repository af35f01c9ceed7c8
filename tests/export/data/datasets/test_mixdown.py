"""One side of a pair from its files: rates and channel counts must match, lengths within a tolerance
(cut to the shortest), then summed."""

from __future__ import annotations

import numpy as np
import pytest

from export.data.datasets.mixdown import check_channels, check_lengths, check_rates, peak_dbfs, probe_all, sum_files
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import read_audio
from tests.dataset_layouts import write


def test_files_of_one_format_are_summed_and_cut_to_the_shortest(tmp_path):
    low = write(tmp_path / "low.wav", 110.0, seconds=1.0)
    high = write(tmp_path / "high.wav", 220.0, seconds=1.01)
    infos = probe_all([tmp_path / "low.wav", tmp_path / "high.wav"])
    assert check_rates(infos) == 44100
    check_channels(infos)
    length = check_lengths(infos, 0.05, tmp_path)
    assert length == 44100
    total = sum_files([tmp_path / "low.wav", tmp_path / "high.wav"], length)
    assert total.shape == (1, 44100)
    expected = read_audio(tmp_path / "low.wav").samples + read_audio(tmp_path / "high.wav").samples[:, :44100]
    np.testing.assert_array_equal(total, expected)
    assert low.shape[-1] == 44100 and high.shape[-1] > 44100


def test_a_file_at_another_rate_or_with_other_channels_is_named(tmp_path):
    write(tmp_path / "a.wav", 110.0)
    write(tmp_path / "b.wav", 110.0, rate=48000)
    write(tmp_path / "c.wav", 110.0, channels=2)
    with pytest.raises(CountertrackError, match="is at sample rate 48000 Hz but a.wav is at 44100 Hz") as caught:
        check_rates(probe_all([tmp_path / "a.wav", tmp_path / "b.wav"]))
    assert "b.wav" in str(caught.value)
    with pytest.raises(CountertrackError, match="has 2 channel\\(s\\) but a.wav has 1"):
        check_channels(probe_all([tmp_path / "a.wav", tmp_path / "c.wav"]))


def test_lengths_further_apart_than_the_tolerance_name_both_files(tmp_path):
    write(tmp_path / "short.wav", 110.0, seconds=1.0)
    write(tmp_path / "long.wav", 110.0, seconds=1.5)
    with pytest.raises(CountertrackError, match="long.wav has 66150 samples, short.wav 44100 \\(500.0 ms apart, tolerance 100 ms\\)"):
        check_lengths(probe_all([tmp_path / "short.wav", tmp_path / "long.wav"]), 0.1, tmp_path / "song")


def test_peak_level_in_dbfs():
    assert peak_dbfs(np.array([[0.5, -1.0]])) == 0.0
    assert peak_dbfs(np.array([[0.001]])) == pytest.approx(-60.0)
    assert peak_dbfs(np.zeros((1, 10))) == float("-inf") and peak_dbfs(np.zeros((1, 0))) == float("-inf")

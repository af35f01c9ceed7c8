"""Segment grids: properties over random lengths, rates and strategies, and each strategy's timing."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin_core.errors import CountertrackError
from plugin_core.perception.segmentation import (
    SegmentationConfig,
    check_grid,
    detect_onsets,
    make_grid,
    tempo_map_beats_s,
    uniform_grid,
)

RATES = st.sampled_from([8000, 16000, 22050, 44100, 48000, 96000, 192000])


def _assert_valid(grid: np.ndarray, num_samples: int) -> None:
    assert grid.dtype == np.int64
    assert grid[0] == 0 and grid[-1] == num_samples
    assert np.all(np.diff(grid) > 0)
    check_grid(grid, num_samples)


@settings(max_examples=150, deadline=None)
@given(num_samples=st.integers(1, 2_000_000), rate=RATES, hop_s=st.floats(0.01, 4.0))
def test_uniform_grid_covers_the_signal(num_samples, rate, hop_s):
    grid = uniform_grid(num_samples, rate, hop_s)
    _assert_valid(grid, num_samples)
    hop = max(1, round(hop_s * rate))
    if grid.size > 2:
        assert np.all(np.diff(grid)[:-1] == hop)  # every segment but the last is one hop
        assert hop // 2 <= grid[-1] - grid[-2] < hop + hop // 2 + 1


@settings(max_examples=100, deadline=None)
@given(num_samples=st.integers(1, 2_000_000), rate=RATES, bpm=st.floats(40, 240), offset_s=st.floats(0, 3), subdivision=st.integers(1, 4))
def test_beat_grid_covers_the_signal(num_samples, rate, bpm, offset_s, subdivision):
    config = SegmentationConfig("beats", bpm=bpm, offset_s=offset_s, subdivision=subdivision)
    _assert_valid(make_grid(num_samples, rate, config), num_samples)


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.floats(0.0005, 4.0), rate=st.sampled_from([8000, 22050, 44100]), seed=st.integers(0, 2**32 - 1), min_s=st.floats(0.02, 0.5)
)
def test_onset_grid_covers_the_signal(seconds, rate, seed, min_s):
    num_samples = max(1, int(seconds * rate))
    audio = np.random.default_rng(seed).standard_normal(num_samples).astype(np.float32) * np.repeat(
        np.random.default_rng(seed + 1).uniform(0, 1, num_samples // 1000 + 1), 1000
    )[:num_samples].astype(np.float32)
    grid = make_grid(num_samples, rate, SegmentationConfig("onsets", min_segment_s=min_s), audio)
    _assert_valid(grid, num_samples)
    if grid.size > 2:
        assert np.diff(grid)[:-1].min() >= round(min_s * rate)


def test_short_remainder_is_merged_and_long_remainder_kept():
    assert uniform_grid(44100 + 100, 44100, 0.5).tolist() == [0, 22050, 44200]
    assert uniform_grid(44100 + 15000, 44100, 0.5).tolist() == [0, 22050, 44100, 59100]
    assert uniform_grid(1000, 44100, 0.5).tolist() == [0, 1000]


def test_beats_from_bpm_have_a_pickup_before_the_offset():
    grid = make_grid(44100 * 3, 44100, SegmentationConfig("beats", bpm=120, offset_s=0.3))
    assert grid[:3].tolist() == [0, 13230, 35280]
    assert np.all(np.diff(grid[1:-1]) == 22050)


def test_tempo_map_changes_the_beat_spacing(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0), mido.MetaMessage("set_tempo", tempo=1000000, time=960)])
    midi.tracks.append(track)
    midi.save(tmp_path / "map.mid")
    np.testing.assert_allclose(tempo_map_beats_s(tmp_path / "map.mid", 6.0), [0, 0.5, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(tempo_map_beats_s(tmp_path / "map.mid", 2.0, subdivision=2), [0, 0.25, 0.5, 0.75, 1.0, 1.5])
    grid = make_grid(44100 * 6, 44100, SegmentationConfig("beats", tempo_map=str(tmp_path / "map.mid")))
    assert grid.tolist() == [0, 22050, 44100, 88200, 132300, 176400, 220500, 264600]


def test_garbage_tempo_map_is_named(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"garbage")
    with pytest.raises(CountertrackError, match="bad.mid"):
        make_grid(44100, 44100, SegmentationConfig("beats", tempo_map=str(bad)))


def test_onsets_find_note_starts():
    rate = 22050
    audio = np.zeros(rate * 3, dtype=np.float32)
    starts = [0.25, 1.0, 1.6, 2.4]
    t = np.arange(int(0.3 * rate)) / rate
    release = np.minimum(1.0, (t[-1] - t) / 0.05)  # notes end smoothly: no click to detect
    for start in starts:
        i = int(start * rate)
        audio[i : i + t.size] += 0.5 * np.sin(2 * np.pi * 330 * t) * np.exp(-t * 8) * release
    found = detect_onsets(audio, rate, 0.1) / rate
    assert len(found) == len(starts)
    assert np.max(np.abs(found - starts)) < 0.05


@pytest.mark.parametrize("bad", [dict(strategy="random"), dict(hop_s=0), dict(bpm=1000), dict(subdivision=0), dict(offset_s=-1)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(CountertrackError):
        SegmentationConfig(**bad)


def test_unknown_setting_is_named():
    with pytest.raises(CountertrackError, match="hopp_s"):
        SegmentationConfig.from_dict({"hopp_s": 0.5})

"""The audio report's measures, on audio made here: onsets at their attacks, the share on A's beats
against chance, consonance of two pitch tracks against chance, and level steps at seams."""

from __future__ import annotations

import numpy as np
import pytest

from export.evaluation.audio_report import (
    chance_consonance,
    chance_on_beat,
    consonance,
    level_steps_db,
    on_beat_share,
    onsets_s,
    pitch_midi_track,
)
from tests.bundles import RATE


def _plucks(times_s, seconds, hz=220.0) -> np.ndarray:
    audio = np.zeros(int(seconds * RATE))
    t = np.arange(int(0.45 * RATE)) / RATE
    note = 0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-15 * t)  # died away before it ends: no second attack
    for when in times_s:
        start = int(when * RATE)
        audio[start : start + note.size] += note[: audio.size - start]
    return audio


def test_onsets_are_found_at_the_attack_of_each_note():
    times = [0.25, 0.75, 1.25, 1.75]
    found = onsets_s(_plucks(times, 2.2), RATE)
    assert found.size == 4
    np.testing.assert_allclose(found, times, atol=0.01)


def test_on_beat_share_counts_onsets_near_a_beat_and_chance_moves_them_off():
    beats = np.arange(0.0, 8.0, 0.5)
    on = np.array([0.5, 1.01, 2.0, 3.49])
    assert on_beat_share(on, beats) == 1.0
    assert on_beat_share(np.array([0.5, 0.75]), beats) == 0.5  # one on, one half a beat off
    assert on_beat_share(np.array([]), beats) is None and chance_on_beat(on, np.array([1.0]), np.random.default_rng(0)) is None
    chance = chance_on_beat(on, beats, np.random.default_rng(0), draws=200)
    assert chance is not None and 0.05 < chance < 0.3  # a 70 ms window in a 500 ms beat: about 14 %


def test_consonance_is_the_share_of_consonant_intervals_where_both_sound():
    a = np.array([60.0, 60.0, 60.0, 60.0, np.nan])
    assert consonance(a, np.array([67.0, 64.0, 61.0, 66.0, 60.0])) == 0.5  # fifth, third; minor second, tritone; one unpitched
    assert consonance(a, np.full(5, np.nan)) is None
    steady = np.full(400, 60.0)
    assert chance_consonance(steady, np.full(400, 67.0)) == 1.0  # a constant interval stays under any shift


def test_a_pitch_track_hears_a_tone_and_not_silence():
    t = np.arange(RATE) / RATE
    track = pitch_midi_track(0.5 * np.sin(2 * np.pi * 440.0 * t), RATE)
    voiced = track[np.isfinite(track)]
    assert voiced.size > 0.8 * track.size and np.median(voiced) == pytest.approx(69.0, abs=0.2)
    assert not np.isfinite(pitch_midi_track(np.zeros(RATE), RATE)).any()


def test_a_level_step_at_a_seam_is_measured_in_db():
    mono = np.concatenate([np.full(RATE, 0.1), np.full(RATE, 0.2)])
    steps = level_steps_db(mono, RATE, np.array([RATE, RATE // 2, 5]))  # the seam, the middle of a steady part, too near the start
    np.testing.assert_allclose(steps, [20 * np.log10(2), 0.0], atol=1e-9)

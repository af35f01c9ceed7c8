"""The compatibility learned from training pairs: intervals a melody->bass corpus uses come out
positive, a drums->bass corpus learns onsets and no pitch."""

from __future__ import annotations

import numpy as np

from export.data.features import PairFeatures
from export.model.compatibility_fit import fit_compatibility
from plugin_core.perception.descriptors import RHYTHM_BINS


def one_hot(classes: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((classes.size, size), np.float32)
    out[np.arange(classes.size), classes] = 1.0
    return out


def pair(guide_classes, response_classes, guide_onsets, response_onsets, pitched=True) -> PairFeatures:
    n = len(guide_classes)
    zeros = np.zeros((n, 12), np.float32)
    return PairFeatures(
        pair_id="p",
        boundaries=np.arange(n + 1),
        sample_rate=44100,
        guide=np.zeros((n, 2)),
        response=np.zeros((n, 2)),
        guide_pitch_classes=one_hot(np.asarray(guide_classes), 12) if pitched else zeros,
        guide_onsets=one_hot(np.asarray(guide_onsets), RHYTHM_BINS),
        response_pitch_classes=one_hot(np.asarray(response_classes), 12),
        response_onsets=one_hot(np.asarray(response_onsets), RHYTHM_BINS),
    )


def test_a_bass_a_fifth_or_octave_below_the_melody_is_learned():
    rng = np.random.default_rng(0)
    songs = []
    for _ in range(6):
        melody = rng.integers(0, 12, 80)
        bass = (melody + rng.choice([0, 0, 5, 8, 9], 80)) % 12  # unison/octave, fourth below (= fifth above) ...
        songs.append(pair(melody, bass, np.zeros(80, int), np.zeros(80, int)))
    table = fit_compatibility(songs, seed=0)
    assert table.intervals[0] > 0.5 and table.intervals[5] > 0.3
    assert table.intervals[1] < -0.5 and table.intervals[6] < -0.5  # never used: below chance
    assert np.allclose(table.onsets, 0.0, atol=0.05)  # onsets always on the beat on both sides: nothing to learn


def test_drums_to_bass_learns_rhythm_not_pitch():
    rng = np.random.default_rng(1)
    songs = []
    for _ in range(6):
        kick = rng.integers(0, RHYTHM_BINS, 80)  # where the kick falls in each beat
        bass = np.where(rng.random(80) < 0.8, kick, rng.integers(0, RHYTHM_BINS, 80))  # the bass follows the kick
        songs.append(pair(np.zeros(80, int), rng.integers(0, 12, 80), kick, bass, pitched=False))
    table = fit_compatibility(songs, seed=0)
    assert np.allclose(table.intervals, 0.0, atol=1e-3)
    assert np.all(np.diag(table.onsets) > 0.5)
    assert np.all(table.onsets[~np.eye(RHYTHM_BINS, dtype=bool)] < 0.0)

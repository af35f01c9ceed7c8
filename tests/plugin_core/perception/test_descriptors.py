"""Descriptors: YIN pitch on harmonic tones across the bass and melody range, pitch classes, onsets,
and the same numbers from a stream's piece as from a whole track."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.perception.descriptors import RHYTHM_BINS, describe_piece, describe_segments, hz_to_midi, pitch_track, to_analysis_rate


def harmonic(freq_hz: float, seconds: float, rate: int, start_s: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    note = sum(np.sin(2 * np.pi * freq_hz * k * t) / k for k in (1, 2, 3, 4)) * np.exp(-2.0 * t)
    return np.concatenate([np.zeros(int(start_s * rate)), 0.25 * note]).astype(np.float32)


@pytest.mark.parametrize("midi_note", [28, 33, 40, 45, 52, 60, 69, 76, 84])
@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_pitch_of_a_harmonic_tone_is_its_note(midi_note, rate):
    freq = 440.0 * 2 ** ((midi_note - 69) / 12)
    descriptor = describe_piece(harmonic(freq, 0.5, rate), rate, 0, int(0.5 * rate))
    assert descriptor.pitch_midi == pytest.approx(midi_note, abs=0.2)  # a few samples per period up high: within a fifth of a semitone
    assert int(np.argmax(descriptor.pitch_classes)) == midi_note % 12
    assert descriptor.pitch_classes.sum() == pytest.approx(1.0)


def test_noise_and_silence_have_no_pitch():
    rate = 44100
    noise = np.random.default_rng(0).standard_normal(rate).astype(np.float32) * 0.1
    for audio in (noise, np.zeros(rate, np.float32)):
        descriptor = describe_piece(audio, rate, 0, rate)
        assert np.isnan(descriptor.pitch_midi)
        assert descriptor.pitch_classes.sum() == 0.0


def test_onsets_fall_in_the_part_of_the_segment_where_a_note_starts():
    rate = 44100
    for part in range(RHYTHM_BINS):
        start_s = (part + 0.4) * 0.8 / RHYTHM_BINS  # inside part ``part`` of an 0.8 s segment
        audio = harmonic(110.0, 0.8, rate, start_s)[: int(0.8 * rate)]
        descriptor = describe_piece(audio, rate, 0, audio.size)
        assert int(np.argmax(descriptor.onsets)) == part
        assert descriptor.onsets.sum() == pytest.approx(1.0)


def test_a_stream_piece_and_the_whole_track_describe_a_segment_alike():
    rate = 44100
    track = np.concatenate([harmonic(f, 0.5, rate) for f in (110.0, 146.8, 98.0, 130.8)])
    grid = np.arange(0, track.size + 1, rate // 2)
    whole = describe_segments(track, rate, grid)
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:])):
        piece = describe_piece(track[max(0, a - 2000) : b], rate, min(a, 2000), min(a, 2000) + (b - a))
        assert piece.pitch_midi == whole[i].pitch_midi
        np.testing.assert_array_equal(piece.pitch_classes, whole[i].pitch_classes)


def test_pitch_track_frames_are_every_20_ms_and_bounded():
    track = pitch_track(*to_analysis_rate(harmonic(220.0, 2.0, 44100), 44100))
    assert track.hz.size == pytest.approx(100, abs=4)
    voiced = track.hz[np.isfinite(track.hz)]
    assert voiced.size > 80 and np.all(np.abs(hz_to_midi(voiced) - 57) < 0.2)

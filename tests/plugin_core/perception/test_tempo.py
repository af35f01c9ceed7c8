"""Tempo and beats of A tracks without --bpm: measured on real renders (FluidSynth, General MIDI) of
chorale-like melodies, drum patterns and bass lines at 60–180 qpm, against the beats of their MIDI."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from plugin_core.errors import AudioError, ConfigurationError
from plugin_core.io.audio import resample
from plugin_core.perception.tempo import BeatEstimate, estimate_beats, estimate_tempo, onset_strength
from tests import tempo_audio as ta

TEMPO_TOLERANCE = 0.02  # relative
BEAT_TOLERANCE_S = 0.035
MIN_HIT_RATE = 0.9

needs_fluidsynth = pytest.mark.skipif(not ta.fluidsynth_available(), reason="fluidsynth or FluidR3_GM.sf2 missing")


@pytest.fixture(scope="session")
def renders() -> dict[tuple[str, int, int], ta.Rendered]:
    """Every case of ta.CASES rendered once per session, two at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(ta.CASES, pool.map(lambda case: ta.render_case(*case), ta.CASES)))


def _check_beats(rendered: ta.Rendered, estimate: BeatEstimate, *, check_tempo: bool = True) -> None:
    if check_tempo:
        assert abs(estimate.bpm / rendered.bpm - 1.0) <= TEMPO_TOLERANCE, f"{estimate.bpm:.2f} bpm for {rendered.bpm}"
    hits = ta.beat_hit_rate(rendered.beat_times_s, estimate.beat_times_s, BEAT_TOLERANCE_S)
    offsets_ms = 1000 * ta.beat_offsets_s(rendered.beat_times_s, estimate.beat_times_s)
    assert hits >= MIN_HIT_RATE, f"{hits:.0%} of beats within 35 ms; offsets (ms): {np.round(offsets_ms).tolist()}"
    _check_grid(estimate, rendered.samples.shape[1] / rendered.sample_rate)


def _check_grid(estimate: BeatEstimate, duration_s: float) -> None:
    """The grid's own contract: float64, finite, strictly increasing, from time 0 to the end."""
    beats = estimate.beat_times_s
    assert beats.dtype == np.float64 and beats.ndim == 1 and beats.size >= 1
    assert np.all(np.isfinite(beats)) and np.all(np.diff(beats) > 0)
    period_s = 60.0 / estimate.bpm
    assert 0.0 <= beats[0] < 1.05 * period_s
    assert beats[-1] <= max(duration_s, 0.0) + 1e-9 and beats[-1] > duration_s - 1.05 * period_s - 0.01
    assert np.isfinite(estimate.bpm) and 0.0 <= estimate.confidence <= 1.0


@needs_fluidsynth
@pytest.mark.parametrize("case", ta.CASES, ids=lambda case: f"{case[0]}-{case[1]}-{case[2]}qpm")
def test_tempo_and_beats_of_rendered_parts_match_their_midi(renders, case):
    rendered = renders[case]
    estimate = estimate_beats(rendered.samples, rendered.sample_rate)
    _check_beats(rendered, estimate)
    assert estimate.confidence >= 0.15


@needs_fluidsynth
def test_the_pickup_beat_before_the_first_bar_is_found(renders):
    rendered = renders[("melody", ta.FLUTE, 97)]  # chorale_line opens with a quarter-note pickup
    estimate = estimate_beats(rendered.samples, rendered.sample_rate)
    assert abs(ta.beat_offsets_s(rendered.beat_times_s[:1], estimate.beat_times_s)[0]) <= BEAT_TOLERANCE_S


@needs_fluidsynth
@pytest.mark.parametrize("start_bpm, end_bpm, kind", [(90, 115, "melody"), (128, 100, "drums")])
def test_beats_follow_a_gradual_tempo_change(start_bpm, end_bpm, kind):
    rendered = ta.render_case(kind, ta.FLUTE if kind == "melody" else 0, start_bpm, end_bpm=end_bpm, seconds=24.0)
    estimate = estimate_beats(rendered.samples, rendered.sample_rate)
    _check_beats(rendered, estimate, check_tempo=False)
    assert min(start_bpm, end_bpm) * 0.98 <= estimate.bpm <= max(start_bpm, end_bpm) * 1.02


@needs_fluidsynth
@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 48000, 96000, 192000])
def test_any_sample_rate_gives_the_same_beats(renders, sample_rate):
    whole = renders[("drums", 0, 108)]
    twelve_s = 12 * whole.sample_rate
    beats = whole.beat_times_s[whole.beat_times_s < 12.0]
    rendered = ta.Rendered(whole.samples[:1, :twelve_s], whole.sample_rate, beats, whole.bpm)
    reference = estimate_beats(rendered.samples, rendered.sample_rate)
    estimate = estimate_beats(resample(rendered.samples, rendered.sample_rate, sample_rate), sample_rate)
    _check_beats(rendered, estimate)
    assert estimate.beat_times_s.size == reference.beat_times_s.size
    assert np.max(np.abs(estimate.beat_times_s - reference.beat_times_s)) <= 0.01


@needs_fluidsynth
def test_channels_are_averaged_and_the_result_is_deterministic(renders):
    rendered = renders[("melody", ta.FLUTE, 120)]
    stereo = estimate_beats(rendered.samples, rendered.sample_rate)
    mono = estimate_beats(rendered.samples.mean(axis=0), rendered.sample_rate)
    again = estimate_beats(rendered.samples.astype(np.float64), rendered.sample_rate)
    assert np.allclose(stereo.beat_times_s, mono.beat_times_s, atol=1e-6) and stereo.bpm == pytest.approx(mono.bpm)
    assert np.array_equal(stereo.beat_times_s, again.beat_times_s) and stereo.bpm == again.bpm
    assert stereo.confidence == again.confidence


@needs_fluidsynth
def test_estimate_tempo_reads_an_onset_envelope(renders):
    rendered = renders[("drums", 0, 150)]
    envelope, frame_rate = onset_strength(rendered.samples, rendered.sample_rate)
    assert envelope.dtype == np.float64 and envelope.ndim == 1 and np.all(envelope >= 0)
    assert frame_rate == pytest.approx(100.0, rel=0.01)
    assert estimate_tempo(envelope, frame_rate) == pytest.approx(150.0, rel=TEMPO_TOLERANCE)


@needs_fluidsynth
def test_the_tempo_stays_inside_the_range_asked_for(renders):
    rendered = renders[("melody", ta.FLUTE, 60)]
    estimate = estimate_beats(rendered.samples, rendered.sample_rate, min_bpm=100.0, max_bpm=200.0)
    assert 100.0 <= estimate.bpm <= 200.0
    assert estimate.bpm == pytest.approx(120.0, rel=TEMPO_TOLERANCE)  # the nearest metrical level: eighths
    _check_grid(estimate, rendered.samples.shape[1] / rendered.sample_rate)


@pytest.mark.parametrize("sample_rate", [8000, 44100, 192000])
@pytest.mark.parametrize("seconds", [0.0, 0.5, 12.0])
def test_silence_has_no_pulse_and_gets_a_grid_at_the_default_tempo(sample_rate, seconds):
    estimate = estimate_beats(np.zeros((2, int(seconds * sample_rate)), np.float32), sample_rate)
    assert estimate.confidence == 0.0
    assert 60.0 <= estimate.bpm <= 180.0
    _check_grid(estimate, seconds)
    assert np.allclose(np.diff(estimate.beat_times_s), 60.0 / estimate.bpm)


@pytest.mark.parametrize("signal", ["white noise", "sine", "dc"])
def test_sound_without_onsets_has_low_confidence(signal):
    sample_rate, seconds = 44100, 10.0
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = {
        "white noise": 0.1 * np.random.default_rng(3).standard_normal(t.size),
        "sine": 0.3 * np.sin(2 * np.pi * 440.0 * t),
        "dc": np.full(t.size, 0.5),
    }[signal].astype(np.float32)
    estimate = estimate_beats(audio, sample_rate)
    assert estimate.confidence < 0.1
    _check_grid(estimate, seconds)


@pytest.mark.parametrize("seconds", [0.001, 0.3, 1.0, 1.9])
def test_short_clicks_give_a_finite_grid(seconds):
    sample_rate = 44100
    audio = np.zeros(max(1, int(seconds * sample_rate)), np.float32)
    audio[(np.arange(0.05, seconds, 0.5) * sample_rate).astype(int)] = 1.0  # clicks at 120 qpm
    estimate = estimate_beats(audio, sample_rate)
    _check_grid(estimate, audio.size / sample_rate)
    if seconds >= 1.0:
        assert estimate.bpm == pytest.approx(120.0, rel=TEMPO_TOLERANCE)


@pytest.mark.parametrize(
    "audio, sample_rate, bpm_range, problem",
    [
        (np.full(1000, np.nan, np.float32), 44100, (60.0, 180.0), "NaN"),
        (np.zeros((1, 2, 100), np.float32), 44100, (60.0, 180.0), "shaped"),
        (np.zeros((44100, 2), np.float32), 44100, (60.0, 180.0), "channels"),
        (np.array(["a", "b"]), 44100, (60.0, 180.0), "numbers"),
        (np.zeros(1000, np.float32), 4000, (60.0, 180.0), "sample rate"),
        (np.zeros(1000, np.float32), 44100.0, (60.0, 180.0), "sample rate"),
        (np.zeros(1000, np.float32), 44100, (180.0, 60.0), "min_bpm"),
    ],
)
def test_bad_input_raises_one_clear_error(audio, sample_rate, bpm_range, problem):
    with pytest.raises(ConfigurationError if problem == "min_bpm" else AudioError, match=problem):  # the range, else the audio
        estimate_beats(audio, sample_rate, min_bpm=bpm_range[0], max_bpm=bpm_range[1])


@needs_fluidsynth
def test_three_minutes_take_well_under_a_second(renders):
    rendered = renders[("drums", 0, 120)]
    three_minutes = np.tile(rendered.samples.mean(axis=0), 10)[: 180 * rendered.sample_rate]
    estimate_beats(three_minutes[: rendered.sample_rate], rendered.sample_rate)  # warm up
    started = time.process_time()
    estimate = estimate_beats(three_minutes, rendered.sample_rate)
    elapsed_s = time.process_time() - started
    assert elapsed_s < 1.5, f"{elapsed_s:.2f} s of CPU for 3 minutes"
    _check_grid(estimate, 180.0)


@pytest.mark.slow
def test_thirty_minutes_stay_bounded_in_time_and_memory():
    import tracemalloc

    sample_rate = 44100
    rng = np.random.default_rng(5)
    audio = (0.01 * rng.standard_normal(30 * 60 * sample_rate)).astype(np.float32)
    audio[(np.arange(0.2, 30 * 60, 0.5) * sample_rate).astype(int)] = 1.0  # clicks at 120 qpm over noise
    tracemalloc.start()
    started = time.process_time()
    estimate = estimate_beats(audio, sample_rate)
    elapsed_s = time.process_time() - started
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert estimate.bpm == pytest.approx(120.0, rel=0.002)
    assert elapsed_s < 30.0
    assert peak_bytes < audio.nbytes  # working memory below the size of the input itself
    _check_grid(estimate, audio.size / sample_rate)


@pytest.fixture(scope="session")
def bach_sopranos() -> list[tuple[str, list[ta.Note], int, float]]:
    pytest.importorskip("music21")
    return ta.bach_sopranos(4)


@needs_fluidsynth
@pytest.mark.slow
@pytest.mark.parametrize("bpm", [80, 97, 120, 150])
def test_bach_chorale_sopranos_on_flute(bach_sopranos, bpm):
    """Real chorale melodies (fermatas played strictly, as written) rendered on the flute."""
    failures = []
    for name, notes, beats_per_bar, phase in bach_sopranos:
        rendered = ta.render_notes(notes, bpm, program=ta.FLUTE, lead_in_s=0.3, beats_per_bar=beats_per_bar)
        beats = rendered.beat_times_s + phase * 60.0 / bpm  # on the bar lines' grid (an eighth-note pickup)
        estimate = estimate_beats(rendered.samples, rendered.sample_rate)
        hits = ta.beat_hit_rate(beats, estimate.beat_times_s, BEAT_TOLERANCE_S)
        if abs(estimate.bpm / bpm - 1.0) > TEMPO_TOLERANCE or hits < MIN_HIT_RATE:
            failures.append(f"{name}: {estimate.bpm:.1f} bpm, {hits:.0%} of beats")
    assert not failures, failures

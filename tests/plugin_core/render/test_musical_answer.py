"""The answer follows A: a bundle whose memory was played at 120 qpm lays one whole note per beat of
an A at 80, 97 or 150 qpm (grains cut or stretched to A's beats), its harmony weight makes B
consonant with A, and its MIDI has the played pitches on A's tempo map."""

from __future__ import annotations

import dataclasses

import mido
import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import Audio, AudioInfo, write_audio
from plugin_core.perception.segmentation import SegmentationConfig, detect_onsets
from plugin_core.render.offline import render_audio
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("answer"), memory_bpm=120.0, memory_seconds=24.0)


def _audio(samples: np.ndarray) -> Audio:
    return Audio(samples, RATE, AudioInfo("a.wav", RATE, 1, samples.shape[1], "FLOAT"))


@pytest.mark.parametrize("bpm", [pytest.param(80.0, marks=pytest.mark.slow), 97.0, pytest.param(150.0, marks=pytest.mark.slow)])
def test_one_note_of_b_starts_on_each_beat_of_a(bundle_path, bpm):
    bundle = load_bundle(bundle_path)
    a = tone_melody(12.0, bpm, seed=3)
    rendered = render_audio(bundle, _audio(a), seed=1, segmentation=SegmentationConfig("beats", bpm=bpm))
    beats = rendered.boundaries[1:-1]
    onsets = detect_onsets(rendered.samples[0], RATE, 0.1)
    # every beat has an attack of B within 15 ms after it (the detector marks the first rise of a low tone), none between beats
    after = [onsets[(onsets >= beat - 0.002 * RATE) & (onsets <= beat + 0.015 * RATE)] for beat in beats]
    assert sum(len(found) > 0 for found in after) >= 0.95 * len(beats)
    assert len(onsets) <= len(beats) + 2
    ratios = np.array([d.ratio for d in rendered.decisions])
    assert np.all(ratios < 1.0) if bpm < 120 else np.all(ratios == 1.0), ratios  # slower A: stretched; faster: cut


def test_a_stretched_grain_keeps_its_attack_and_fills_its_slot(bundle_path):
    bundle = load_bundle(bundle_path)
    a = tone_melody(8.0, 70.0, seed=4)
    rendered = render_audio(bundle, _audio(a), seed=2, segmentation=SegmentationConfig("beats", bpm=70.0))
    out = rendered.samples[0]
    memory = bundle.memory
    for decision in rendered.decisions[1:-1]:
        source = memory.read(int(memory.grains.start[decision.grain]), int(memory.grains.start[decision.grain]) + int(0.015 * RATE))[0]
        played = out[decision.start : decision.start + source.size] / decision.gain
        np.testing.assert_allclose(played, source, atol=1e-6)  # the first 15 ms are the recording itself
        body = out[decision.start : decision.stop]
        quarter = body.size // 4
        levels = [np.sqrt(np.mean(body[i * quarter : (i + 1) * quarter] ** 2)) for i in range(4)]
        assert min(levels) > 0.02 * max(levels)  # the note sounds to the end of the slot: no gap


def test_harmony_makes_b_consonant_with_a(bundle_path):
    bundle = load_bundle(bundle_path)
    a = tone_melody(20.0, 120.0, seed=5)  # 40 beats
    consonant = {}
    for harmony in (0.0, 16.0):
        bundle.engine_defaults = dataclasses.replace(bundle.engine_defaults, harmony=harmony)
        rendered = render_audio(bundle, _audio(a), seed=3, segmentation=SegmentationConfig("beats", bpm=120.0))
        from plugin_core.perception.descriptors import describe_segments

        a_pitch = np.array([d.pitch_midi for d in describe_segments(a[0], RATE, rendered.boundaries)])
        b_pitch = np.array([d.pitch_midi for d in rendered.decisions])
        both = np.isfinite(a_pitch) & (b_pitch >= 0)
        classes = np.round(b_pitch[both] - a_pitch[both]).astype(int) % 12
        consonant[harmony] = float(np.isin(classes, (0, 3, 4, 7, 8, 9)).mean())
    assert consonant[16.0] >= 0.9 and consonant[16.0] > consonant[0.0] + 0.15, consonant


def test_midi_out_plays_the_grains_pitches_on_a_tempo_map(bundle_path, tmp_path, capsys):
    write_audio(tmp_path / "a.wav", tone_melody(10.0, 97.0, seed=6), RATE)
    code = main(
        [
            "render",
            str(tmp_path / "a.wav"),
            "--bundle",
            str(bundle_path),
            "-o",
            str(tmp_path / "b.wav"),
            "--bpm",
            "97",
            "--midi-out",
            str(tmp_path / "b.mid"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    midi = mido.MidiFile(str(tmp_path / "b.mid"))
    tempi = {round(mido.tempo2bpm(m.tempo), 1) for m in midi.tracks[0] if m.type == "set_tempo"}
    assert tempi == {97.0}
    now, starts, pitches = 0, [], []
    for message in midi.tracks[1]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            starts.append(now)
            pitches.append(message.note)
    assert starts and all(tick % midi.ticks_per_beat == 0 for tick in starts)  # every note on a beat of the DAW's grid
    assert set(pitches) <= set(range(28, 60))  # the memory's bass notes, not labels 0..7

"""Rendering: streaming equals offline to the bit, grains line up with A's grid to the sample, seams
do not click, outputs keep A's format and never half-overwrite anything."""

from __future__ import annotations

import os

import numpy as np
import pytest

import plugin_core.render.offline
from host_scripts.cli import main
from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import Audio, probe_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig, make_grid
from plugin_core.render.offline import render_audio
from plugin_core.stream.parameters import AutomationEvent
from plugin_core.stream.sidechain import SidechainEffect
from tests.conftest import tone
from tests.streaming import chorale_a, stream_blocks


@pytest.mark.parametrize("block", [1, 64, 257, 512, 4096])
def test_streaming_equals_offline_bit_for_bit(tiny_bundle, chorale_corpus, block):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus)
    offline = render_audio(bundle, a, seed=7).samples
    effect = SidechainEffect(bundle, a.sample_rate, a.num_channels, seed=7)
    streamed = stream_blocks(effect.process, effect.flush, a.samples, block, effect.latency_samples)
    assert np.array_equal(streamed, offline)
    assert np.abs(offline).max() > 0.01


def test_same_seed_same_audio_and_other_seed_other_choices(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus)
    first, second = render_audio(bundle, a, seed=3), render_audio(bundle, a, seed=3)
    assert np.array_equal(first.samples, second.samples)
    other = render_audio(bundle, a, seed=4)
    assert [d.grain for d in other.decisions] != [d.grain for d in first.decisions]


def _click_positions(samples: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(samples[0]) > 0.5)


def test_grains_start_exactly_on_a_grid_after_latency_compensation(click_bundle, chorale_corpus):
    bundle = load_bundle(click_bundle)
    a = chorale_a(chorale_corpus, 5.0)
    rendered = render_audio(bundle, a, seed=0)
    clicks = _click_positions(rendered.samples)
    starts = rendered.boundaries[1:-1]
    assert np.array_equal(clicks, starts), (clicks[:8], starts[:8])


def test_an_onset_in_a_and_the_start_of_its_answer_align_to_the_sample(click_bundle):
    bundle = load_bundle(click_bundle)
    rate = 44100
    a = np.zeros((1, rate * 4), dtype=np.float32)
    onsets = [9000 + 137, 19000 + 11, 31000 + 401]  # slots shorter than a memory grain: one click each
    for onset in onsets:  # impulse-like attacks: a click and a decaying tone
        t = np.arange(8000) / rate
        a[0, onset] = 0.9
        a[0, onset + 1 : onset + 8001] += 0.4 * np.sin(2 * np.pi * 440 * t) * np.exp(-t * 20)
    audio = Audio(samples=a, sample_rate=rate, info=None)
    rendered = render_audio(bundle, audio, seed=0, segmentation=SegmentationConfig("onsets", min_segment_s=0.2))
    assert rendered.boundaries[1:-1].tolist() == onsets
    clicks = _click_positions(rendered.samples)
    for onset in onsets:  # each answer's grain starts (its click) exactly at A's onset, nothing near it
        assert clicks[np.abs(clicks - onset) < 1000].tolist() == [onset]


def test_seams_do_not_click(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 12.0)
    rendered = render_audio(bundle, a, seed=2)
    out = rendered.samples[0]
    memory = bundle.memory.read(0, bundle.memory.frames)[0]
    largest_in_memory = np.abs(np.diff(memory)).max()
    half = int(0.04 * a.sample_rate) // 2 + 2
    for decision in rendered.decisions[1:]:
        seam = out[max(0, decision.start - 2 * half) : decision.start + 2]
        assert np.abs(np.diff(seam)).max() <= largest_in_memory + 1e-6
    assert np.abs(np.diff(out)).max() <= largest_in_memory + 1e-6
    assert abs(out[-1]) < 1e-3  # the file ends faded, not cut


def test_render_keeps_a_length_rate_channels_and_depth(tiny_bundle, tmp_path, capsys):
    stereo = np.concatenate([tone(220, 3.0, 48000), tone(330, 3.0, 48000)])
    write_audio(tmp_path / "a.wav", stereo, 48000, subtype="PCM_16")
    code = main(
        [
            "render",
            str(tmp_path / "a.wav"),
            "--bundle",
            str(tiny_bundle),
            "-o",
            str(tmp_path / "b.wav"),
            "--mix",
            str(tmp_path / "mix.wav"),
            "--midi-out",
            str(tmp_path / "b.mid"),
        ]
    )
    assert code == 0
    b, a = probe_audio(tmp_path / "b.wav"), probe_audio(tmp_path / "a.wav")
    assert (b.num_samples, b.sample_rate, b.num_channels, b.subtype) == (a.num_samples, a.sample_rate, 2, "PCM_16")
    assert probe_audio(tmp_path / "mix.wav").num_samples == a.num_samples
    import mido

    notes = [m for m in mido.MidiFile(str(tmp_path / "b.mid")) if m.type == "note_on"]
    assert (
        0 < len(notes) <= len(make_grid(a.num_samples, 48000, SegmentationConfig(hop_s=0.5))) - 1
    )  # a continued note is held, not repeated


def test_render_refuses_to_overwrite_without_force(tiny_bundle, tmp_path, capsys):
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    (tmp_path / "b.wav").write_bytes(b"precious")
    assert main(["render", str(tmp_path / "a.wav"), "--bundle", str(tiny_bundle), "-o", str(tmp_path / "b.wav")]) == 1
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "b.wav").read_bytes() == b"precious"
    assert main(["render", str(tmp_path / "a.wav"), "--bundle", str(tiny_bundle), "-o", str(tmp_path / "b.wav"), "--force"]) == 0
    assert probe_audio(tmp_path / "b.wav").num_samples == 44100


def test_render_of_a_bad_input_writes_nothing(tiny_bundle, tmp_path, capsys):
    (tmp_path / "a.wav").write_bytes(os.urandom(2048))
    assert main(["render", str(tmp_path / "a.wav"), "--bundle", str(tiny_bundle), "-o", str(tmp_path / "b.wav")]) == 1
    assert "a.wav" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["a.wav"]


def test_automation_changes_decisions_only_after_its_time(tiny_bundle, chorale_corpus):
    bundle = load_bundle(tiny_bundle)
    a = chorale_a(chorale_corpus, 10.0)
    plain = render_audio(bundle, a, seed=5).decisions
    switch = a.sample_rate * 5
    automated = render_audio(
        bundle, a, seed=5, automation=[AutomationEvent(switch, {"temperature": 5.0, "top_p": 1.0, "continuity": 0.0})]
    ).decisions
    before = [d for d in plain if d.start < switch]
    assert [d.b_token for d in automated[: len(before)]] == [d.b_token for d in before]
    assert [d.b_token for d in automated[len(before) :]] != [d.b_token for d in plain[len(before) :]]
    assert not any(d.continued for d in automated[len(before) + 1 :])


def test_coalesced_automation_makes_the_same_decisions_as_every_event_scheduled(synthetic_bundle, monkeypatch):
    """Coalescing is only a cost cut: B and every decision stay bit-identical to scheduling each event."""
    from plugin_core.bundle.load import load_bundle
    from plugin_core.io.audio import Audio, AudioInfo
    from plugin_core.render.offline import render_audio
    from plugin_core.stream.parameters import AutomationEvent

    bundle = load_bundle(synthetic_bundle)
    samples = tone(220, 3.0)
    a = Audio(
        samples=samples,
        sample_rate=44100,
        info=AudioInfo(path="a.wav", sample_rate=44100, num_channels=samples.shape[0], num_samples=samples.shape[1], subtype="PCM_16"),
    )
    starts = render_audio(bundle, a, seed=3).boundaries[:-1]
    rng = np.random.default_rng(7)
    sharp = [{"top_k": 1, "temperature": 1.0}, {"top_k": 0, "temperature": 5.0}]  # one label only, or nearly any
    automation = [
        AutomationEvent(int(p), {"temperature": float(rng.uniform(0.3, 2.0)), "top_k": int(rng.integers(0, 3))})
        for p in rng.integers(0, samples.shape[1] + 4410, 300)
    ]  # between the starts, and past the last one
    automation += [AutomationEvent(int(s), sharp[i % 2]) for i, s in enumerate(starts)]  # exactly at each start: these win
    automation += [AutomationEvent(int(starts[1]), {"temperature": 0.05})]  # same position, given later: wins too
    coalesced = render_audio(bundle, a, seed=3, automation=automation)
    monkeypatch.setattr(plugin_core.render.offline, "coalesce_automation", lambda events, boundaries: list(events))
    every = render_audio(bundle, a, seed=3, automation=automation)
    assert [d.b_token for d in coalesced.decisions] == [d.b_token for d in every.decisions]
    assert coalesced.decisions == every.decisions
    assert np.array_equal(coalesced.samples, every.samples)
    assert [d.b_token for d in every.decisions] != [d.b_token for d in render_audio(bundle, a, seed=3).decisions]  # it acted

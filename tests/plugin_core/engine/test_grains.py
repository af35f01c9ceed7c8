"""Each knob of the grain engine, by what it does to the rendered audio: a broken knob fails here.

A fast synthetic bundle (tones as memory, cut on a 120 qpm beat grid) answers a tone melody; A at
120 qpm leaves grains unstretched, so a slot's audio can be compared with the memory sample for sample.
"""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.engine.grains import nearest_present_labels
from plugin_core.io.audio import read_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import Rendered, render_audio
from plugin_core.stream.presets import load_preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody

BEATS_120 = SegmentationConfig("beats", bpm=120.0)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("knobs"), segmentation={"strategy": "beats", "bpm": 120.0}, vocab=16))


@pytest.fixture(scope="module")
def melody(tmp_path_factory):
    path = tmp_path_factory.mktemp("knobs-a") / "a.wav"
    write_audio(path, tone_melody(8.0, 120.0, seed=3), RATE, subtype="FLOAT")
    return read_audio(path)


def _render(bundle, a, segmentation=BEATS_120, **parameters) -> Rendered:
    return render_audio(bundle, a, seed=2, segmentation=segmentation, parameters=parameters)


def _slot_is_the_memory(bundle, rendered: Rendered, decision, first: int, last: int) -> bool:
    """Output samples start+first..start+last of a decision's slot are its grain as recorded, times its gain."""
    memory = bundle.memory
    source = memory.to_rate(int(memory.grains.start[decision.grain]), RATE)
    expected = memory.read(source + first, source + last, RATE).mean(axis=0) * decision.gain
    played = rendered.samples.mean(axis=0)[decision.start + first : decision.start + last]
    return bool(np.allclose(played, expected, atol=1e-6))


def test_the_crossfade_is_clamped_to_half_a_slot_so_each_slot_starts_with_its_grain_alone(bundle, melody, tmp_path):
    """A 0.4 s crossfade (set by a preset: automation may only shorten it) on 0.5 s slots: each seam is
    cut to a quarter second, so the first half of every slot is its grain alone; unclamped, the seam
    before the next slot would reach back into it."""
    preset = tmp_path / "long-fades.json"
    preset.write_text('{"name": "long fades", "engine": {"crossfade_s": 0.4, "continuity": 0.0}}')
    rendered = render_audio(bundle, melody, seed=2, segmentation=BEATS_120, preset=load_preset(preset))
    assert {d.crossfade for d in rendered.decisions} == {int(0.4 * RATE)}
    inner = [d for d in rendered.decisions[1:-1] if d.ratio == 1.0]
    assert len(inner) >= 10
    for decision in inner:
        half = (decision.stop - decision.start) // 2
        assert _slot_is_the_memory(bundle, rendered, decision, 0, half - 1), decision.segment


def test_following_loudness_lowers_b_where_a_gets_quieter(bundle, tmp_path):
    """A's second half 20 dB down: with follow_loudness 1, B follows it down (by at most the 12 dB the
    gain is clipped to); with 0, B's level does not follow A."""
    samples = tone_melody(8.0, 120.0, seed=3)
    samples[:, 4 * RATE :] *= 0.1
    write_audio(tmp_path / "a.wav", samples, RATE, subtype="FLOAT")
    a = read_audio(tmp_path / "a.wav")

    def drop_db(rendered: Rendered) -> float:
        b = rendered.samples.mean(axis=0)
        rms = [np.sqrt(np.mean(b[start : start + int(3.0 * RATE)] ** 2)) for start in (int(0.5 * RATE), int(4.5 * RATE))]
        return float(20 * np.log10(rms[0] / rms[1]))

    followed, ignored = drop_db(_render(bundle, a, follow_loudness=1.0)), drop_db(_render(bundle, a, follow_loudness=0.0))
    assert followed > ignored + 6.0, (followed, ignored)
    assert followed <= 12.0 + abs(ignored) + 1.0


def test_a_label_the_memory_lacks_plays_its_nearest_present_label(bundle, melody):
    present = set(int(label) for label in bundle.memory.labels)
    absent = [label for label in range(bundle.decision_config.vocab_size) if label not in present]
    assert absent, "the test needs a vocabulary larger than the memory's labels"
    substitute = nearest_present_labels(bundle.response_centroids, bundle.memory.labels)
    forced = np.full(64, absent[0])
    rendered = render_audio(bundle, melody, seed=2, segmentation=BEATS_120, forced_tokens=forced)
    assert {d.played_label for d in rendered.decisions} == {int(substitute[absent[0]])}
    assert {d.b_token for d in rendered.decisions} == {absent[0]}
    assert np.abs(rendered.samples).max() > 0.01  # B plays, not silence


def test_continuity_plays_the_memory_on_and_max_run_forces_a_jump(bundle, melody):
    loose = _render(bundle, melody, continuity=0.0)
    assert not any(d.continued for d in loose.decisions)
    kept = _render(bundle, melody, continuity=1.0, max_run=16, harmony=0.0)
    continued = [d for d in kept.decisions if d.continued]
    assert len(continued) >= len(kept.decisions) // 4
    for decision in continued:  # a continuation is the next stretch of the recording: no seam to hear
        previous = kept.decisions[decision.segment - 1]
        assert decision.grain == int(bundle.memory.successor[previous.grain])
    short = _render(bundle, melody, continuity=1.0, max_run=2, harmony=0.0)
    flags = [d.continued for d in short.decisions]
    assert any(flags) and not any(a and b for a, b in zip(flags, flags[1:]))  # never two continuations in a row


def test_stretch_fits_grains_to_a_slower_a_and_off_reads_on_into_the_memory(bundle, tmp_path):
    write_audio(tmp_path / "slow.wav", tone_melody(8.0, 90.0, seed=3), RATE, subtype="FLOAT")
    slow = read_audio(tmp_path / "slow.wav")
    grid = SegmentationConfig("beats", bpm=90.0)
    stretched, read_on = _render(bundle, slow, grid), _render(bundle, slow, grid, stretch=False)
    assert np.median([d.ratio for d in stretched.decisions]) == pytest.approx(90.0 / 120.0, abs=0.01)
    assert {d.ratio for d in read_on.decisions} == {1.0}
    inner = [d for d in read_on.decisions[1:-1]]
    assert all(_slot_is_the_memory(bundle, read_on, d, 0, (d.stop - d.start) // 2) for d in inner)


def test_a_grain_stretched_once_is_reused_when_it_returns_and_b_is_the_same(bundle, tmp_path, monkeypatch):
    """Stretching is the engine's costliest step; a grain that comes back at the same slot length is
    the same audio, so it is stretched once. Reusing it changes no sample."""
    from plugin_core.engine.grains import SeamWriter

    write_audio(tmp_path / "slow.wav", tone_melody(20.0, 90.0, seed=5), RATE, subtype="FLOAT")
    slow = read_audio(tmp_path / "slow.wav")
    grid = SegmentationConfig("beats", bpm=90.0)
    stretches: list[int] = []
    stretch = SeamWriter._stretch
    monkeypatch.setattr(SeamWriter, "_stretch", lambda self, slot, margin: stretches.append(slot.source) or stretch(self, slot, margin))
    kept = _render(bundle, slow, grid, continuity=0.0)
    reused = len([d for d in kept.decisions if d.ratio != 1.0]) - len(stretches)
    monkeypatch.setattr(SeamWriter, "LIBRARY_BYTES", 0)
    stretches.clear()
    fresh = _render(bundle, slow, grid, continuity=0.0)
    assert reused > 5 and len(stretches) == len([d for d in fresh.decisions if d.ratio != 1.0])
    np.testing.assert_array_equal(kept.samples, fresh.samples)


def test_harmony_changes_which_grains_are_chosen(bundle, melody):
    off, on = _render(bundle, melody, harmony=0.0, continuity=0.0), _render(bundle, melody, harmony=8.0, continuity=0.0)
    assert bundle.compatibility is not None
    assert [d.grain for d in off.decisions] != [d.grain for d in on.decisions]


def test_avoid_recent_keeps_a_grain_from_returning_within_its_span(bundle, melody):
    """Without continuity, the same grain drawn again within 8 slots: often with avoid_recent 0, rarely with 8."""

    def returns(rendered: Rendered, span: int = 8) -> int:
        grains = [d.grain for d in rendered.decisions]
        return sum(grain in grains[max(0, i - span) : i] for i, grain in enumerate(grains))

    free = returns(_render(bundle, melody, avoid_recent=0, continuity=0.0, harmony=0.0, loudness_match=0.0))
    avoided = returns(_render(bundle, melody, avoid_recent=8, continuity=0.0, harmony=0.0, loudness_match=0.0))
    assert avoided < free / 2, (avoided, free)


def test_loudness_match_draws_quieter_grains_where_a_is_quieter(tmp_path):
    """A's second half 20 dB down: with loudness_match, the grains drawn there were recorded quieter
    than those drawn in the loud half (B's gain left alone: follow_loudness 0); without, they are not.
    The memory's notes are played at levels 0 to 24 dB down."""
    folder = make_synthetic_bundle(
        tmp_path / "dynamic", segmentation={"strategy": "beats", "bpm": 120.0}, vocab=4, memory_seconds=48.0, memory_dynamics_db=24.0
    )
    bundle = load_bundle(folder)
    samples = tone_melody(16.0, 120.0, seed=5)
    samples[:, 8 * RATE :] *= 0.1
    write_audio(tmp_path / "a.wav", samples, RATE, subtype="FLOAT")
    a = read_audio(tmp_path / "a.wav")
    levels = bundle.memory.grains.loudness_db

    def level_drop(rendered: Rendered) -> float:
        halves = [[levels[d.grain] for d in rendered.decisions if (d.start < 8 * RATE) == loud] for loud in (True, False)]
        return float(np.mean(halves[0]) - np.mean(halves[1]))

    common = dict(follow_loudness=0.0, continuity=0.0, harmony=0.0, avoid_recent=0)
    matched, ignored = (
        level_drop(_render(bundle, a, loudness_match=4.0, **common)),
        level_drop(_render(bundle, a, loudness_match=0.0, **common)),
    )
    assert matched > ignored + 3.0, (matched, ignored)

"""Anticipation (lookahead -1): B's token for segment i is chosen from A up to the end of segment
i-1, so B's grain can sound when A's segment i starts and the latency is the crossfade's lead.

Tested on the real thing: a synthetic bundle exported with an anticipating model (its ONNX graphs
checked against PyTorch by the export), streamed at many block sizes and rendered offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugin_core.bundle.load import load_bundle
from plugin_core.decision.config import ANTICIPATE
from plugin_core.decision.session import DecisionState, decode_step, guide_as_heard
from plugin_core.io.audio import Audio
from plugin_core.perception.descriptors import describe_piece
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import render_audio
from plugin_core.stream.chain import AnswerChain
from tests.bundles import RATE, make_synthetic_bundle, tone_melody

BPM = 100.0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("anticipate"), lookahead=ANTICIPATE, memory_bpm=120.0))


def _stream(chain: AnswerChain, a: np.ndarray, block: int) -> np.ndarray:
    chain.reset()
    pieces = [chain.process(a[:, i : i + block]) for i in range(0, a.shape[1], block)]
    pieces.append(chain.flush())
    return np.concatenate(pieces, axis=1)


def test_a_decision_never_depends_on_a_at_its_own_segment(bundle):
    """Changing A's token at segment k changes no logits at segments 0..k (only later ones)."""
    a = np.array([1, 2, 3, 4, 5, 6, 7, 0, 1, 2], dtype=np.int64)
    changed = a.copy()
    changed[5] = (a[5] + 3) % bundle.decision_config.vocab_size

    def logits_for(tokens: np.ndarray) -> np.ndarray:
        state, out = DecisionState(bundle.decision_config), []
        for t in range(tokens.size):
            decode_step(bundle.decision, state, tokens[:t], lambda logits: out.append(logits) or 0)  # only A before t is known
        return np.stack(out)

    before, after = logits_for(a), logits_for(changed)
    np.testing.assert_array_equal(before[:6], after[:6])
    assert not np.allclose(before[6:], after[6:])


def test_latency_is_the_crossfade_lead(bundle):
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM)
    assert chain.latency_samples == chain.effect.crossfade_samples
    assert chain.latency_samples / RATE <= 0.05


@pytest.mark.parametrize("cut_s", [pytest.param(5.3, marks=pytest.mark.slow), 6.02])  # 6.02 s: inside the late look of the beat at 6.0 s
def test_each_output_sample_depends_only_on_a_already_heard(bundle, cut_s):
    """Stream output sample n is computed from A's samples before n: a change of A from sample T on
    leaves every output sample before T unchanged (a late look's crossfade included)."""
    a = tone_melody(10.0, BPM, seed=3)
    changed = a.copy()
    cut = int(cut_s * RATE)
    changed[:, cut:] = tone_melody(10.0, BPM, seed=9)[:, cut:]
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM, seed=1)
    first, second = _stream(chain, a, 512), _stream(chain, changed, 512)
    np.testing.assert_array_equal(first[:, :cut], second[:, :cut])
    assert not np.array_equal(first[:, cut:], second[:, cut:])


@pytest.mark.parametrize("seconds", [9.0, pytest.param(9.25, marks=pytest.mark.slow)])  # 9.0 s ends exactly on a beat at 100 qpm
def test_the_stream_is_block_size_invariant_and_equals_the_offline_render(bundle, seconds):
    a = tone_melody(seconds, BPM, seed=5)
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM, seed=2)
    streams = [_stream(chain, a, block) for block in (64, 700, 4096)]
    for other in streams[1:]:
        np.testing.assert_array_equal(streams[0], other)
    aligned = streams[0][:, chain.latency_samples : chain.latency_samples + a.shape[1]]
    assert np.abs(aligned).max() > 0.01
    offline = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=2, segmentation=SegmentationConfig(strategy="beats", bpm=BPM))
    np.testing.assert_array_equal(offline.samples, aligned)
    assert any(d.lead and not d.continued for d in offline.decisions)  # late looks changed grains, all block sizes alike
    # the slot of the beat A ends on (9.0 s) was committed to when A reached it, as a player's would be
    laid = offline.laid  # each segment's first slot (a late look's slot follows it)
    assert (laid[-1].start == a.shape[1]) == (seconds == 9.0)


def test_the_first_grain_sounds_from_the_first_sample(bundle):
    """Nothing to hear before A's first segment, yet B answers it at once (from the start token)."""
    a = tone_melody(4.0, BPM, seed=6)
    rendered = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=1, segmentation=SegmentationConfig(strategy="beats", bpm=BPM))
    first_beat = int(60.0 / BPM * RATE)
    assert np.abs(rendered.samples[:, :first_beat]).max() > 0.01
    laid = rendered.laid
    assert laid[0].a_token == -1 and laid[1].a_token >= 0


def test_torch_and_runtime_agree_on_the_anticipating_step(bundle, tmp_path):
    """The exported graph was checked by the export; here the shifted reading matches the PyTorch
    model's whole-window forward on A read one segment late."""
    from export.model.decision_model import DecisionModel
    from export.onnx.decision_export import TorchStepper
    from plugin_core.decision.config import DecisionConfig
    from plugin_core.decision.sampling import SamplingConfig
    from plugin_core.decision.session import generate

    torch.manual_seed(0)
    model = DecisionModel(
        DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=32, dropout=0.0, context=8, lookahead=ANTICIPATE)
    ).eval()
    a = np.array([3, 1, 4, 1, 5, 2, 6, 5, 3, 5], dtype=np.int64)
    tokens, logits = generate(TorchStepper(model), a, SamplingConfig(greedy=True), seed=0, return_logits=True)
    heard = guide_as_heard(a, ANTICIPATE, model.config.bos)
    b_in = np.concatenate([[model.config.bos], tokens[:-1]])
    with torch.no_grad():
        whole = model(torch.from_numpy(heard)[None], torch.from_numpy(b_in)[None])[0].numpy()
    np.testing.assert_allclose(whole, logits, atol=1e-4)


def _fit_with_a(bundle, rendered, a: np.ndarray) -> float:
    """Mean compatibility, with A's whole segment, of the grain that sounds through most of each segment."""
    sounding = {d.segment: d.grain for d in rendered.decisions}  # a segment's late look comes after its first slot
    grains, bounds, mono = bundle.memory.grains, rendered.boundaries, a.mean(axis=0)
    scores = [
        bundle.compatibility.score(
            describe_piece(mono, RATE, int(bounds[i]), int(bounds[i + 1])), grains.pitch_classes[[g]], grains.onsets[[g]]
        )[0]
        for i, g in sounding.items()
        if i + 1 < bounds.size and bounds[i + 1] <= mono.size
    ]
    return float(np.mean(scores))


@pytest.fixture(scope="module")
def looked(bundle):
    """24 s of A and its render with the bundle's late look (shared: a render is the costly part)."""
    a = tone_melody(24.0, BPM, seed=11)
    return a, render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=4, segmentation=SegmentationConfig(strategy="beats", bpm=BPM))


def test_the_late_look_hears_the_start_of_a_segment_and_changes_the_grain_to_fit_it(bundle, looked):
    """Anticipated, the grain was chosen before A's segment sounded; 60 ms into it the engine hears
    it and may take another grain among the labels the decision offered: the grains that sound then go
    better with A (the bundle's compatibility table), with the latency and the first 60 ms unchanged."""
    a, looking = looked
    beats = SegmentationConfig(strategy="beats", bpm=BPM)
    blind = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=4, segmentation=beats, parameters={"late_look_s": 0.0})
    assert all(d.lead == 0 for d in blind.decisions)
    looks = [d for d in looking.decisions if d.lead]
    # heard 60 ms in, the change sounds from 40 ms in, its 20 ms seam before that: the 40 ms latency covers it
    crossfade = AnswerChain(bundle, RATE, 1, bpm=BPM).effect.crossfade_samples
    late = 2 * (round(0.06 * RATE) - crossfade)
    assert looks and all(d.lead == late and d.start == looking.boundaries[d.segment] + late for d in looks)
    laid = {d.segment: d for d in looking.laid}
    changed = [d for d in looks if not d.continued]
    assert len(changed) >= 3 and all(d.grain != laid[d.segment].grain for d in changed)
    assert _fit_with_a(bundle, looking, a) > _fit_with_a(bundle, blind, a)
    # each change: the new grain goes with A's segment better than the one laid before it was heard
    grains, bounds, mono = bundle.memory.grains, looking.boundaries, a.mean(axis=0)
    for d in changed:
        heard = describe_piece(mono, RATE, int(bounds[d.segment]), int(bounds[d.segment + 1]))
        old, new = (grains.pitch_classes[[g]] for g in (laid[d.segment].grain, d.grain))
        old_onsets, new_onsets = (grains.onsets[[g]] for g in (laid[d.segment].grain, d.grain))
        assert bundle.compatibility.score(heard, new, new_onsets)[0] > bundle.compatibility.score(heard, old, old_onsets)[0]
    # the first slot of a segment sounds its laid grain: up to the seam before the look, B is as laid
    chain = AnswerChain(bundle, RATE, 1, bpm=BPM)
    assert chain.latency_samples == chain.effect.crossfade_samples


def test_a_segment_the_late_look_changed_is_one_midi_note_at_the_pitch_that_sounds(looked, tmp_path):
    """MIDI out: a late look's grain sounds from a few ms into the beat, so the segment's note starts
    on the beat with that grain's pitch; no note starts at the late slot's boundary."""
    import mido

    from plugin_core.io.midi_io import TICKS_PER_BEAT, write_answer_midi

    _, rendered = looked
    write_answer_midi(rendered.decisions, rendered.boundaries, RATE, tmp_path / "b.mid", segments_per_beat=1)
    starts: dict[int, int] = {}  # beat -> note
    now = 0
    for message in mido.MidiFile(str(tmp_path / "b.mid")).tracks[1]:
        now += message.time
        if message.type == "note_on":
            assert now % TICKS_PER_BEAT == 0 and now // TICKS_PER_BEAT not in starts  # one note on a beat, none at a late slot
            starts[now // TICKS_PER_BEAT] = message.note
    changed = [d for d in rendered.decisions if d.lead and not d.continued]
    laid = {d.segment: d for d in rendered.laid}
    pitched = [d for d in changed if d.pitch_midi >= 0 and round(d.pitch_midi) != round(laid[d.segment].pitch_midi)]
    assert pitched
    for d in pitched:
        assert starts[d.segment] == round(d.pitch_midi)


@pytest.mark.parametrize(
    "late_look_s", [0.05, pytest.param(0.06, marks=pytest.mark.slow), pytest.param(0.1, marks=pytest.mark.slow)]
)  # 0.05: the look's seam would start inside the track's fade-in
def test_a_late_look_that_keeps_its_grains_leaves_b_as_without_it(bundle, late_look_s):
    """Split or not, a grain laid over a segment is one take: seams at A's boundaries are the take's,
    and a look that swaps nothing (harmony too weak to clear the bar) changes no sample."""
    a = tone_melody(12.0, BPM, seed=8)
    beats = SegmentationConfig(strategy="beats", bpm=BPM)
    faint = {"harmony": 0.01, "late_look_s": late_look_s}
    split = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=3, segmentation=beats, parameters=faint)
    whole = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=3, segmentation=beats, parameters={**faint, "late_look_s": 0.0})
    assert any(d.lead for d in split.decisions) and all(d.continued for d in split.decisions if d.lead)
    assert any(d.ratio != 1.0 for d in split.decisions)  # stretched takes too
    np.testing.assert_array_equal(split.samples, whole.samples)


def test_the_late_look_weighs_every_label_the_memory_holds_not_only_the_nucleus(bundle):
    """The nucleus is cut before A's segment is heard, so the labels that fit it are often outside;
    a late look draws among every label the memory holds, weighted by the decision's probabilities.
    With top-p so small that each pick has one label, looks still change to grains of other labels;
    greedy decoding keeps its one label."""
    a = tone_melody(24.0, BPM, seed=11)
    beats = SegmentationConfig(strategy="beats", bpm=BPM)
    narrow = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=4, segmentation=beats, parameters={"top_p": 0.01})
    laid = {d.segment: d for d in narrow.laid}
    relabelled = [d for d in narrow.decisions if d.lead and not d.continued and d.played_label != laid[d.segment].played_label]
    assert len(relabelled) >= 2
    greedy = render_audio(bundle, Audio(a, RATE, "PCM_16"), seed=4, segmentation=beats, parameters={"greedy": True})
    laid = {d.segment: d for d in greedy.laid}
    assert all(d.played_label == laid[d.segment].played_label for d in greedy.decisions if d.lead)

"""Each shipped preset, by what it does to the answer: faithful decides greedily (the seed does not
change the tokens), loose answers with more labels, ambient fades long and is the same answer through
its low-pass and reverb."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import read_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import Rendered, render_audio
from plugin_core.stream.presets import load_preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.paths import ROOT

BEATS_120 = SegmentationConfig("beats", bpm=120.0)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synthetic_bundle(tmp_path_factory.mktemp("presets"), segmentation={"strategy": "beats", "bpm": 120.0}))


@pytest.fixture(scope="module")
def melody(tmp_path_factory):
    path = tmp_path_factory.mktemp("presets-a") / "a.wav"
    write_audio(path, tone_melody(10.0, 120.0, seed=4), RATE, subtype="FLOAT")
    return read_audio(path)


def _render(bundle, melody, preset, seed: int = 1) -> Rendered:
    return render_audio(bundle, melody, seed=seed, segmentation=BEATS_120, preset=preset)


def test_faithful_decides_greedily_whatever_the_seed(bundle, melody):
    faithful = load_preset("faithful")
    one, other = _render(bundle, melody, faithful, seed=1), _render(bundle, melody, faithful, seed=7)
    assert [d.b_token for d in one.decisions] == [d.b_token for d in other.decisions]
    assert {d.crossfade for d in one.decisions} == {_samples(0.03)}
    sampled = [_render(bundle, melody, None, seed=s) for s in (1, 7)]  # the bundle's own sampling does depend on it
    assert [d.b_token for d in sampled[0].decisions] != [d.b_token for d in sampled[1].decisions]


def _samples(seconds: float) -> int:
    return int(round(seconds * RATE)) // 2 * 2  # the engine's crossfades are an even number of samples


def test_loose_answers_with_more_labels_than_faithful(bundle, melody):
    """Warmer sampling (temperature 1.3, top-p 0.95) against greedy decisions, on the same A."""
    loose, faithful = (_render(bundle, melody, load_preset(name)) for name in ("loose", "faithful"))
    assert len({d.b_token for d in loose.decisions}) > len({d.b_token for d in faithful.decisions})
    assert {d.crossfade for d in loose.decisions} == {_samples(0.04)}


def test_ambient_fades_long_and_is_the_same_answer_through_its_low_pass_and_reverb(bundle, melody, tmp_path):
    """The preset's effects, built here with pedalboard from its JSON, applied to the answer rendered
    without them, give the preset's output: nothing else changes, nothing is left out."""
    import pedalboard

    ambient = load_preset("ambient")
    rendered = _render(bundle, melody, ambient)
    assert {d.crossfade for d in rendered.decisions} == {_samples(0.2)}
    without = {"name": "no effects", "sampling": ambient.sampling, "engine": ambient.engine, "wet": ambient.wet, "dry": ambient.dry}
    (tmp_path / "no-effects.json").write_text(json.dumps(without))
    plain = _render(bundle, melody, load_preset(tmp_path / "no-effects.json"))
    assert [d.grain for d in plain.decisions] == [d.grain for d in rendered.decisions]
    declared = json.loads((ROOT / "presets" / "ambient.json").read_text())["post"]
    board = pedalboard.Pedalboard([getattr(pedalboard, e["plugin"])(**e["params"]) for e in declared])
    np.testing.assert_allclose(rendered.samples, board(plain.samples, RATE), atol=1e-5)
    assert np.abs(rendered.samples - plain.samples).max() > 0.05  # and the effects are heard


def _schema_properties(schema_file: str, *path: str) -> set[str]:
    node = json.loads((ROOT / "plugin_core" / "schemas" / schema_file).read_text())
    for key in path:
        node = node["properties"][key]
    return set(node["properties"])


def test_preset_and_manifest_schemas_know_every_engine_and_sampling_setting():
    """A knob added to the engine or the sampler must be settable from a preset and readable from a
    manifest (harmony and stretch were refused by the preset schema)."""
    from dataclasses import fields

    from plugin_core.decision.sampling import SamplingConfig
    from plugin_core.engine.grains import EngineConfig

    engine, sampling = {f.name for f in fields(EngineConfig)}, {f.name for f in fields(SamplingConfig)}
    assert _schema_properties("preset.schema.json", "engine") == engine
    assert _schema_properties("preset.schema.json", "sampling") == sampling
    assert _schema_properties("bundle-manifest.schema.json", "engine_defaults") == engine
    assert _schema_properties("bundle-manifest.schema.json", "sampling_defaults") == sampling


def test_a_preset_sets_harmony_and_stretch_and_is_refused_out_of_range(bundle, melody):
    from plugin_core.errors import ConfigurationError
    from plugin_core.stream.presets import parse_preset

    plain = parse_preset({"name": "plain", "engine": {"harmony": 0.0, "stretch": False}})
    engine = plain.engine_config(bundle.engine_defaults)
    assert (engine.harmony, engine.stretch) == (0.0, False)
    assert bundle.engine_defaults.harmony > 0 and bundle.engine_defaults.stretch
    with pytest.raises(ConfigurationError, match="harmony"):
        parse_preset({"name": "loud", "engine": {"harmony": 1000}})


def test_a_presets_mix_has_the_range_the_chain_takes(bundle):
    """wet and dry were 0..4 in a preset and 0..2 through set_parameters: one range now."""
    from plugin_core.errors import ConfigurationError
    from plugin_core.stream.chain import AnswerChain
    from plugin_core.stream.presets import parse_preset

    AnswerChain(bundle, RATE, 1).set_parameters(wet=2.0)
    parse_preset({"name": "loud", "wet": 2.0})
    with pytest.raises(ConfigurationError, match="wet"):
        parse_preset({"name": "louder", "wet": 3.0})

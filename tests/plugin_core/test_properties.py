"""Property tests: crossfades keep power, renders keep length and stay finite, and parsers of user
files only ever fail with CountertrackError."""

from __future__ import annotations

import copy
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin_core.bundle.load import load_bundle, validate_manifest
from plugin_core.engine.grains import seam_curves
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import Audio
from plugin_core.render.offline import render_audio
from plugin_core.stream.presets import parse_preset


@given(length=st.integers(1, 20000))
def test_crossfade_keeps_power_at_every_sample(length):
    fade_out, fade_in = seam_curves(length)
    assert fade_out.shape == fade_in.shape == (length,)
    np.testing.assert_allclose(fade_out.astype(np.float64) ** 2 + fade_in.astype(np.float64) ** 2, 1.0, atol=1e-6)
    assert np.all(np.diff(fade_out) <= 0) and np.all(np.diff(fade_in) >= 0)


_BUNDLE = {}


def _bundle(path):
    if path not in _BUNDLE:
        _BUNDLE[path] = load_bundle(path)
    return _BUNDLE[path]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    samples=st.integers(1, 60000),
    rate=st.sampled_from([8000, 22050, 44100, 48000, 96000]),
    channels=st.integers(1, 2),
    seed=st.integers(0, 1000),
    level=st.floats(0.0, 1.0),
)
def test_renders_keep_length_and_stay_finite(tiny_bundle, samples, rate, channels, seed, level):
    rng = np.random.default_rng(seed)
    a = (level * rng.standard_normal((channels, samples))).astype(np.float32)
    rendered = render_audio(_bundle(tiny_bundle), Audio(samples=a, sample_rate=rate, info=None), seed=seed)
    assert rendered.samples.shape == (channels, samples)
    assert np.isfinite(rendered.samples).all()
    assert len(rendered.decisions) == len(rendered.boundaries) - 1


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2000),
    st.floats(-5, 5, allow_nan=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(
        st.sampled_from(["name", "description", "seed", "sampling", "engine", "wet", "dry", "pre", "post", "other"]), _VALUES, max_size=6
    ),
    sampling=st.dictionaries(st.sampled_from(["temperature", "top_k", "top_p", "greedy", "bogus"]), _VALUES, max_size=3),
)
def test_preset_parsing_accepts_or_names_the_problem(data, sampling):
    data = {**data, "sampling": sampling} if "sampling" in data else data
    try:
        preset = parse_preset(data, "p.json")
    except CountertrackError as exc:
        assert "p.json" in str(exc)
    else:
        assert isinstance(preset.name, str) and preset.name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.lists(
        st.sampled_from(
            [
                "perception",
                "decision",
                "memory",
                "spec",
                "files",
                "codebooks",
                "inputs",
                "sampling_defaults",
                "engine_defaults",
                "graph",
                "context",
                "lookahead",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=_VALUES,
    delete=st.booleans(),
)
def test_manifest_validation_only_raises_countertrack_errors(tiny_bundle, path, value, delete):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    mutated = copy.deepcopy(manifest)
    node = mutated
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
    else:
        if isinstance(node, dict):
            if delete:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    try:
        validate_manifest(mutated, "manifest.json")
    except CountertrackError as exc:
        assert "manifest.json" in str(exc)

"""`render --temperature/--top-p/--greedy/--harmony/--wet/--dry`: parameters without a JSON preset."""

from __future__ import annotations

import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.io.audio import read_audio, write_audio
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render-options")
    bundle = make_synthetic_bundle(folder, segmentation={"strategy": "beats", "bpm": 120.0})
    a = folder / "a.wav"
    write_audio(a, tone_melody(6.0, 120.0, seed=7), RATE, subtype="FLOAT")
    return bundle, a


def _render(setup, tmp_path, name: str, *options: str) -> np.ndarray:
    bundle, a = setup
    out = tmp_path / f"{name}.wav"
    assert main(["render", str(a), "-o", str(out), "--bundle", str(bundle), "--bpm", "120", *options]) == 0
    return read_audio(out).samples


def test_dry_only_gives_a_back_and_wet_scales_b(setup, tmp_path):
    a = read_audio(setup[1]).samples
    np.testing.assert_array_equal(_render(setup, tmp_path, "dry", "--wet", "0", "--dry", "1"), a)
    b = _render(setup, tmp_path, "b")
    np.testing.assert_allclose(_render(setup, tmp_path, "half", "--wet", "0.5"), 0.5 * b, atol=1e-7)


def _labels(setup, tmp_path, name: str, *options: str) -> list[str]:
    """The B labels decided, read from the --midi-out markers."""
    import mido

    midi = tmp_path / f"{name}.mid"
    _render(setup, tmp_path, name, "--midi-out", str(midi), *options)
    return [m.text.split(" grain")[0] for track in mido.MidiFile(str(midi)).tracks for m in track if m.type == "marker"]


def test_greedy_decides_the_same_labels_whatever_the_seed_and_sampling_does_not(setup, tmp_path):
    greedy = [_labels(setup, tmp_path, f"g{seed}", "--greedy", "--seed", str(seed)) for seed in (1, 2)]
    assert greedy[0] and greedy[0] == greedy[1]
    hot = [_labels(setup, tmp_path, f"t{seed}", "--temperature", "3", "--top-p", "1", "--seed", str(seed)) for seed in (1, 2)]
    assert hot[0] != hot[1]


@pytest.mark.parametrize("option, value", [("--wet", "5"), ("--top-p", "0"), ("--temperature", "-1"), ("--dry", "nan")])
def test_an_out_of_range_value_is_one_line_and_writes_nothing(setup, tmp_path, capsys, option, value):
    bundle, a = setup
    out = tmp_path / "never.wav"
    code = main(["render", str(a), "-o", str(out), "--bundle", str(bundle), "--bpm", "120", option, value])
    assert code in (1, 2) and not out.exists()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 or code == 2


def test_a_seed_given_on_the_command_line_wins_over_the_presets(setup, tmp_path):
    import json

    preset = tmp_path / "seeded.json"
    preset.write_text(json.dumps({"name": "seeded", "seed": 7}))
    by_preset = _render(setup, tmp_path, "preset", "--preset", str(preset), "--temperature", "1.5")
    assert np.array_equal(by_preset, _render(setup, tmp_path, "seed7", "--seed", "7", "--temperature", "1.5"))
    given = _render(setup, tmp_path, "given", "--preset", str(preset), "--seed", "3", "--temperature", "1.5")
    assert np.array_equal(given, _render(setup, tmp_path, "seed3", "--seed", "3", "--temperature", "1.5"))
    assert not np.array_equal(given, by_preset)  # the seeds do choose differently here


def test_mix_with_dry_a_holds_a_once_and_the_session_takes_the_wet_given(setup, tmp_path):
    a = read_audio(setup[1]).samples
    b = _render(setup, tmp_path, "b")
    mix, session = tmp_path / "mix.wav", tmp_path / "half.session"
    out = _render(setup, tmp_path, "both", "--wet", "0.5", "--dry", "1", "--mix", str(mix), "--arrangement", str(session))
    np.testing.assert_allclose(out, 0.5 * b + a, atol=1e-6)
    np.testing.assert_allclose(read_audio(mix).samples, 0.5 * b + a, atol=1e-6)  # not 0.5 * b + 2 * a
    assert "VOLPAN 0.5 " in next(session.glob("*.rpp")).read_text()

"""One line, never a traceback (issue 12 §5 and the small ones of §6), through the command line: odd
options, MIDI files, presets and batch inputs. Each is one line naming the right file (never the
output for a problem of the preset), the exit code of its kind (1 bad input, 2 usage, 3 our bug), and
leaves every file as it was with nothing stray."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import plugin_core.render.offline
from plugin_core.io.audio import write_audio
from tests.conftest import tone
from tests.crafted import Unchanged, assert_one_line, cli, copy_bundle, flip_byte, midi_bytes, within


@pytest.fixture
def folder(tmp_path) -> Path:
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    (tmp_path / "out.wav").write_bytes(b"last week's take")
    return tmp_path


def _render(folder: Path, bundle: Path, capsys, *options) -> tuple[int, str]:
    return cli(["render", folder / "a.wav", "--bundle", bundle, "-o", folder / "out.wav", "--force", *options], capsys)


def _preset(folder: Path, data) -> list:
    path = folder / "p.json"
    path.write_text(data if isinstance(data, str) else json.dumps({"name": "p", **data}))
    return ["--preset", path]


def _midi(folder: Path, **options) -> Path:
    (folder / "m.mid").write_bytes(midi_bytes(**options))
    return folder / "m.mid"


# name -> (options(folder), exit code, what the one line must say)
CASES = {
    "seed-negative": (lambda f: ["--seed", "-1"], 2, "argument --seed: -1 is outside 0..2^63-1"),
    "seed-not-a-number": (lambda f: ["--seed", "one"], 2, "argument --seed: 'one' is not a whole number"),
    "bpm-0": (lambda f: ["--bpm", "0"], 2, "--bpm: tempo 0.0 BPM is out of range 20..400"),
    "bpm-and-tempo-map": (
        lambda f: ["--bpm", "96", "--tempo-map", _midi(f)],
        2,
        "--bpm/--tempo-map: give either a tempo (bpm) or a tempo map",
    ),
    "beat-offset-without-bpm": (lambda f: ["--beat-offset", "0.5"], 2, "--beat-offset: a beat offset needs a tempo (bpm)"),
    "midi-out-not-mid": (lambda f: ["--midi-out", f / "notes.wav"], 1, "notes.wav: is not a MIDI file name"),
    "top-p-1.5": (lambda f: ["--top-p", "1.5"], 2, "--top-p: top-p 1.5 is out of range (0, 1]"),
    "wet-3": (lambda f: ["--wet", "3"], 2, "--wet: wet 3.0 is out of range 0..2"),
    "harmony-negative": (lambda f: ["--harmony", "-1"], 2, "--harmony: harmony -1.0 is out of range 0..100"),
    "bpm-nan": (lambda f: ["--bpm", "nan"], 2, "argument --bpm: 'nan' is not a finite number"),
    "beat-offset-inf": (lambda f: ["--bpm", "120", "--beat-offset", "inf"], 2, "argument --beat-offset: 'inf' is not a finite number"),
    "automation-type-2": (lambda f: ["--automation", _midi(f, file_type=2)], 1, "m.mid: is a type 2 MIDI file"),
    "automation-ticks-per-beat-0": (
        lambda f: ["--automation", _midi(f, ticks_per_beat=0)],
        1,
        "m.mid: its time division (0 ticks per beat)",
    ),
    "automation-tempo-0": (lambda f: ["--automation", _midi(f, tempos=(0,))], 1, "m.mid: holds a tempo of 0 microseconds per beat"),
    "automation-garbage": (
        lambda f: ["--automation", _bytes(f / "m.mid", b"MThd\0\0\0\6\0\1\0\2\1\xe0MTrk\xff\xff\xff\xff")],
        1,
        "m.mid: not a readable MIDI file",
    ),
    "cc-without-automation": (lambda f: ["--cc", "1=temperature:0.3:2.0"], 2, "--cc maps controllers of an --automation MIDI file"),
    "cc-out-of-range": (lambda f: ["--automation", _midi(f), "--cc", "1=temperature:0:5"], 1, "temperature 0.0 is out of range 0.01..10"),
    "cc-nan": (lambda f: ["--automation", _midi(f), "--cc", "1=top_p:nan:1"], 1, "top_p bounds must be finite numbers, not nan"),
    "preset-nested-100k-deep": (lambda f: _preset(f, "[" * 100_000 + "]" * 100_000), 1, "p.json: not valid JSON (nested too deeply)"),
    "preset-param-process": (
        lambda f: _preset(f, {"post": [{"plugin": "Gain", "params": {"process": 1}}]}),
        1,
        "p.json: effect Gain has no parameter 'process' (it has gain_db)",
    ),
    "preset-param-reset": (
        lambda f: _preset(f, {"pre": [{"plugin": "Reverb", "params": {"reset": True}}]}),
        1,
        "p.json: effect Reverb has no parameter 'reset'",
    ),
    "preset-loudness-match-nan": (
        lambda f: _preset(f, '{"name": "p", "engine": {"loudness_match": NaN}}'),
        1,
        "p.json: engine/loudness_match is nan, not a finite number",
    ),
    "preset-wet-nan": (lambda f: _preset(f, '{"name": "p", "wet": NaN}'), 1, "p.json: wet is nan, not a finite number"),
    "preset-effect-turning-b-into-inf": (
        lambda f: _preset(f, {"post": [{"plugin": "Gain", "params": {"gain_db": 1e9}}]}),
        1,
        "p.json: the preset's post effects turn the audio into NaN or Inf samples",
    ),
    "preset-param-of-a-wrong-type": (
        lambda f: _preset(f, {"post": [{"plugin": "Gain", "params": {"gain_db": "loud"}}]}),
        1,
        "p.json: cannot load effect 'Gain'",
    ),
    "preset-a-bare-name-not-shipped": (
        lambda f: ["--preset", "nosuch"],
        1,
        "nosuch: no shipped preset of this name (shipped presets: ambient, faithful, loose",
    ),
}


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES)
def test_each_odd_option_or_file_is_one_line_and_changes_nothing(synthetic_bundle, folder, capsys, case):
    options, code_wanted, fragment = CASES[case]
    extra = options(folder)
    before = Unchanged(folder)
    with within(30):
        code, err = _render(folder, synthetic_bundle, capsys, *extra)
    assert code == code_wanted, err
    assert_one_line(err, fragment)
    assert "out.wav" not in err  # the output is never blamed for an input's problem
    before.check()


def test_automation_with_many_events_costs_one_change_per_segment(synthetic_bundle, folder, capsys):
    """20 000 CC events used to be scheduled one by one, each sorting all of them."""
    with within(30):
        code, err = _render(folder, synthetic_bundle, capsys, "--automation", _midi(folder, cc=20_000), "--cc", "1=temperature:0.5:2.0")
    assert code == 0, err


def test_a_file_named_like_a_shipped_preset_does_not_replace_it(synthetic_bundle, folder, capsys, monkeypatch):
    """A bare name is a shipped preset; a path (with a slash, or ending in .json) is a file."""
    monkeypatch.chdir(folder)
    (folder / "ambient").write_text(json.dumps({"name": "mine", "wet": 0.0, "dry": 0.0}))  # silence, if it were used
    (folder / "ambient.json").write_text(json.dumps({"name": "mine", "wet": 0.0, "dry": 0.0}))
    code, err = _render(folder, synthetic_bundle, capsys, "--preset", "ambient")
    assert code == 0, err
    from plugin_core.io.audio import read_audio

    assert np.abs(read_audio(folder / "out.wav").samples).max() > 0.01  # the shipped ambient, not the file
    code, err = _render(folder, synthetic_bundle, capsys, "--preset", "./ambient.json")
    assert code == 0, err
    assert np.abs(read_audio(folder / "out.wav").samples).max() == 0.0  # the file, asked for by its path


BATCH_CASES = {
    "output-an-existing-file": (lambda f, b: ["-o", _bytes(f / "results", b"my notes")], "results: exists and is not a folder"),
    "a-bad-bundle": (lambda f, b: ["-o", f / "out", "--bundle", _broken(f, b)], "broken.ctbundle: decision.onnx does not match its sha256"),
    "a-bad-preset": (
        lambda f, b: ["-o", f / "out", "--preset", _preset(f, {"wet": 9})[1]],
        "p.json: wet: 9 is greater than the maximum of 2",
    ),
    "a-glob-matching-nothing": (lambda f, b: ["-o", f / "out"], "nothing-*.wav: matches no file"),
}


def _broken(folder: Path, bundle: Path) -> Path:
    copy = copy_bundle(bundle, folder / "broken.ctbundle")
    flip_byte(copy / "decision.onnx")
    return copy


@pytest.mark.parametrize("case", BATCH_CASES)
def test_a_batch_that_cannot_start_is_one_line_before_any_worker(synthetic_bundle, folder, capsys, case):
    """A bad bundle or preset used to print "a worker process died" for every file."""
    options = BATCH_CASES[case][0](folder, synthetic_bundle)
    source = folder / ("nothing-*.wav" if case == "a-glob-matching-nothing" else "a.wav")
    argv = ["batch", source, "--bundle", synthetic_bundle, *options]
    before = Unchanged(folder)
    with within(30):
        code, err = cli(argv, capsys)
    assert code == 1
    assert_one_line(err, BATCH_CASES[case][1])
    assert "worker" not in err
    before.check()


def test_a_bug_is_exit_3_in_one_line_that_says_so_and_blames_no_file(synthetic_bundle, folder, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("an index went astray")

    monkeypatch.setattr(plugin_core.render.offline, "render_audio", broken)
    before = Unchanged(folder)
    code, err = _render(folder, synthetic_bundle, capsys)
    assert code == 3
    assert_one_line(err, "internal error (a bug in countertrack, not a problem with your files", "ValueError: an index went astray")
    assert "a.wav" not in err and "out.wav" not in err
    before.check()


def test_non_finite_samples_out_of_a_render_are_our_bug_not_the_outputs(synthetic_bundle, folder, capsys, monkeypatch):
    """A, the bundle and the preset are checked before: NaN in B used to be blamed on the output file."""
    real = plugin_core.render.offline.render_audio

    def render_audio(*args, **kwargs):
        rendered = real(*args, **kwargs)
        rendered.samples[0, 100] = np.nan
        return rendered

    monkeypatch.setattr(plugin_core.render.offline, "render_audio", render_audio)
    before = Unchanged(folder)
    code, err = _render(folder, synthetic_bundle, capsys)
    assert code == 3
    assert_one_line(err, "internal error", "not finite numbers")
    assert "out.wav" not in err
    before.check()
    assert not [name for name in os.listdir(folder) if ".part" in name]


def test_a_batch_with_an_option_out_of_range_is_a_usage_error_before_any_work(synthetic_bundle, folder, capsys):
    before = Unchanged(folder)
    with within(30):
        code, err = cli(["batch", folder / "a.wav", "--bundle", synthetic_bundle, "-o", folder / "out", "--top-p", "0"], capsys)
    assert code == 2
    assert_one_line(err, "--top-p: top-p 0.0 is out of range (0, 1]")
    before.check()

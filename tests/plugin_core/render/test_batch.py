"""Presets validate with messages that name the problem; batches go on past bad files and resume."""

from __future__ import annotations

import json
import os

import pytest

from host_scripts.cli import main
from plugin_core.bundle.shipped import shipped_preset_names
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import probe_audio, write_audio
from plugin_core.stream.presets import build_effects, load_preset
from tests.conftest import tone
from tests.paths import ROOT


def test_shipped_presets_load_and_differ():
    presets = [load_preset(name) for name in shipped_preset_names()]
    assert {p.name for p in presets} >= {"faithful", "loose", "ambient"}
    assert len({json.dumps([p.sampling, p.engine, p.post], sort_keys=True) for p in presets}) == len(presets)
    for preset in presets:
        build_effects(preset.pre)
        build_effects(preset.post)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"name": "x", "engine": {"crossfade": 0.1}}, "unknown key 'crossfade' at engine"),
        ({"name": "x", "sampling": {"temperature": "hot"}}, "sampling/temperature: 'hot' is not of type 'number'"),
        ({"name": "x", "sampling": {"top_p": 1.5}}, "sampling/top_p"),
        ({"name": "x", "wet": -1}, "wet"),
        ({"name": "x", "colour": "blue"}, "unknown key 'colour'"),
        ({"name": "x", "post": [{"plugin": "Flanger9000"}]}, "unknown effect 'Flanger9000'"),
    ],
)
def test_bad_presets_name_the_problem(tmp_path, data, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CountertrackError) as info:
        load_preset(path)
    assert fragment in str(info.value) and "bad.json" in str(info.value)


def test_a_missing_vst3_is_a_clear_error(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "x", "post": [{"plugin": str(tmp_path / "Nope.vst3")}]}))
    with pytest.raises(CountertrackError, match="cannot load effect"):
        build_effects(load_preset(path).post)


def test_batch_renders_the_good_reports_the_bad_and_resumes(tiny_bundle, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(4):
        write_audio(inputs / f"take{index}.wav", tone(220 + 55 * index, 1.5), 44100)
    (inputs / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    out = tmp_path / "out"
    code = main(["batch", str(inputs / "*.wav"), "--bundle", str(tiny_bundle), "-o", str(out), "--jobs", "2"])
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.wav" in err
    summary = json.loads((out / "batch-summary.json").read_text())
    assert len(summary["succeeded"]) == 4 and [f["input"] for f in summary["failed"]] == [str(inputs / "broken.wav")]
    assert sorted(os.listdir(out)) == ["batch-summary.json", "take0.wav", "take1.wav", "take2.wav", "take3.wav"]
    for index in range(4):
        assert probe_audio(out / f"take{index}.wav").num_samples == int(1.5 * 44100)
    stamp = (out / "take0.wav").stat().st_mtime_ns
    (out / "take3.wav").unlink()
    assert main(["batch", str(inputs / "take*.wav"), "--bundle", str(tiny_bundle), "-o", str(out)]) == 0
    summary = json.loads((out / "batch-summary.json").read_text())
    assert len(summary["skipped"]) == 3 and summary["succeeded"] == [str(inputs / "take3.wav")]
    assert (out / "take0.wav").stat().st_mtime_ns == stamp


def _start_batch(inputs, bundle, out, jobs=2):
    import subprocess
    import sys

    root = ROOT
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_scripts",
            "batch",
            str(inputs / "*.wav"),
            "--bundle",
            str(bundle),
            "-o",
            str(out),
            "--jobs",
            str(jobs),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_output(process, out, timeout_s=120):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.suffix == ".wav" and not p.name.startswith(".") for p in out.glob("*.wav")):
            return True
        time.sleep(0.01)
    return False


def _children(pid):
    import subprocess

    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


@pytest.mark.parametrize("fault", ["kill-worker", "interrupt-parent"])
def test_a_faulted_batch_finishes_on_the_next_run_with_nothing_corrupt(tiny_bundle, tmp_path, fault):
    import signal

    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(8):
        write_audio(inputs / f"take{index}.wav", tone(110 + 20 * index, 6.0), 44100)
    out = tmp_path / "out"
    out.mkdir()
    process = _start_batch(inputs, tiny_bundle, out)
    assert _wait_for_first_output(process, out), "the batch finished or stalled before the fault"
    if fault == "kill-worker":
        workers = _children(process.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
    else:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=300)
    assert process.returncode != 0
    assert main(["batch", str(inputs / "*.wav"), "--bundle", str(tiny_bundle), "-o", str(out)]) == 0
    names = sorted(os.listdir(out))
    assert names == ["batch-summary.json"] + [f"take{i}.wav" for i in range(8)]
    for index in range(8):
        assert probe_audio(out / f"take{index}.wav").num_samples == 6 * 44100


def test_only_the_folders_a_batch_made_are_removed_and_only_when_empty(tmp_path):
    from plugin_core.render.batch import _make_folder, removing_empty_folders_made

    (tmp_path / "data").mkdir()  # the user's, empty
    (tmp_path / "kept").mkdir()
    with removing_empty_folders_made() as made:
        _make_folder(tmp_path / "new" / ".." / "data" / "song", made)  # through a folder that is not there
        _make_folder(tmp_path / "kept" / "a" / "b", made)
        (tmp_path / "kept" / "a" / "b" / "B.wav").write_bytes(b"a song")
    assert (tmp_path / "data").is_dir() and not (tmp_path / "data" / "song").exists() and not (tmp_path / "new").exists()
    assert (tmp_path / "kept" / "a" / "b" / "B.wav").read_bytes() == b"a song"


def test_a_summary_of_an_earlier_version_is_a_summary(tmp_path):
    import json

    from plugin_core.errors import CountertrackError
    from plugin_core.render.batch import check_summary_replaceable

    path = tmp_path / "batch-summary.json"
    path.write_text(json.dumps({"succeeded": [], "skipped": [], "failed": []}))  # before "written" was added
    check_summary_replaceable(path, force=False)
    path.write_text(json.dumps({"succeeded": [], "notes": "mine"}))
    with pytest.raises(CountertrackError, match="is not a batch summary"):
        check_summary_replaceable(path, force=False)

"""Nothing a user owns is lost, through the command line: a failed export keeps the old bundle; a
command's outputs are checked before any work and committed together or not at all; a file that
appears at an output meanwhile is kept; a full disk or a stop (SIGTERM) leaves every file as it was
and nothing stray. Each case asserts the one line, the exit code, and the folder byte for byte."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

import plugin_core.io.outputs
import plugin_core.render.offline
from host_scripts.cli import main
from plugin_core.io.audio import probe_audio, write_audio
from tests.conftest import tone
from tests.disk import entries, file_size_limit, small_disk, snapshot
from tests.paths import ROOT


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def _assert_one_line(err: str, *fragments: str) -> None:
    assert err.count("\n") == 0 and err.startswith("countertrack: error: "), err
    for fragment in fragments:
        assert fragment in err, err


def _no_render(*args, **kwargs):
    raise AssertionError("rendered before every output was checked")


@pytest.fixture
def my_bundle(tiny_bundle, tmp_path) -> Path:
    """A user's existing bundle and its zip: copies of the session's tiny bundle."""
    shutil.copytree(tiny_bundle, tmp_path / "my.ctbundle")
    shutil.copyfile(tiny_bundle.parent / "tiny.ctbundle.zip", tmp_path / "my.ctbundle.zip")
    return tmp_path / "my.ctbundle"


@pytest.mark.parametrize("case", ["exists-without-force", "bad-memory-with-force", "folder-not-a-bundle", "output-is-the-run"])
def test_a_failed_export_leaves_the_existing_bundle_byte_for_byte(tiny_run, my_bundle, tmp_path, capsys, case):
    """The issue's repro: export -o my.ctbundle over an existing bundle with --memory bad.wav used to
    leave my.ctbundle/ empty."""
    (tmp_path / "bad.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    target, options, named = my_bundle, ["--force", "--memory", tmp_path / "bad.wav"], "bad.wav: not a readable audio file"
    if case == "exists-without-force":
        options, named = [], "my.ctbundle: already exists (use --force"
    elif case == "folder-not-a-bundle":
        target, named = tmp_path / "songs", "songs: exists and is not a bundle"
        target.mkdir()
        (target / "song.wav").write_bytes(b"a user's song")
    elif case == "output-is-the-run":
        target, options, named = tiny_run.folder, ["--force"], "is also an input"
    before, names = snapshot(tmp_path), entries(tmp_path)
    run_before = snapshot(tiny_run.folder)
    code, err = _cli(["export", tiny_run.folder, "-o", target, "--zip", *options], capsys)
    assert code == 1
    _assert_one_line(err, named)
    assert snapshot(tmp_path) == before and entries(tmp_path) == names
    assert snapshot(tiny_run.folder) == run_before


@pytest.mark.slow
def test_an_export_that_fails_late_leaves_no_staging_and_the_old_bundle(tiny_run, my_bundle, tmp_path, capsys):
    """The graphs are written into the staging folder before the memory fails: all of it is removed."""
    write_audio(tmp_path / "good.wav", tone(110, 8.0), 44100)
    write_audio(tmp_path / "bad.wav", tone(220, 2.0), 44100)
    (tmp_path / "bad.wav").write_bytes((tmp_path / "bad.wav").read_bytes()[:-4000])  # cut short: read only when the memory is built
    before, names = snapshot(tmp_path), entries(tmp_path)
    code, err = _cli(
        ["export", tiny_run.folder, "-o", my_bundle, "--zip", "--force", "--memory", tmp_path / "good.wav", tmp_path / "bad.wav"], capsys
    )
    assert code == 1
    _assert_one_line(err.splitlines()[-1], "bad.wav: truncated")  # after the parity lines export logs
    assert snapshot(tmp_path) == before and entries(tmp_path) == names


@pytest.mark.slow
def test_export_with_force_swaps_in_a_whole_new_bundle_and_zip(tiny_run, my_bundle, tmp_path, capsys):
    import zipfile

    from plugin_core.bundle.load import load_bundle

    old_manifest = (my_bundle / "manifest.json").read_bytes()
    code = main([str(a) for a in ["export", tiny_run.folder, "-o", my_bundle, "--zip", "--force", "--memory-limit-s", "10"]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines()[-2:] == [f"wrote the bundle {my_bundle}", f"wrote {tmp_path / 'my.ctbundle.zip'}"]
    assert (my_bundle / "manifest.json").read_bytes() != old_manifest
    load_bundle(my_bundle)
    load_bundle(tmp_path / "my.ctbundle.zip")
    with zipfile.ZipFile(tmp_path / "my.ctbundle.zip") as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"my.ctbundle"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.ctbundle", "my.ctbundle.zip", "my.ctbundle.zip.d"]


RENDER_CASES = {
    "midi-out-is-the-input": (lambda t: ["-o", t / "b.wav", "--midi-out", t / "a.wav", "--force"], "a.wav: is not a MIDI file name"),
    "midi-out-is-the-output": (lambda t: ["-o", t / "b.wav", "--midi-out", t / "b.wav", "--force"], "b.wav: is not a MIDI file name"),
    "midi-out-is-the-tempo-map": (
        lambda t: ["-o", t / "new.wav", "--tempo-map", t / "old.mid", "--midi-out", t / "old.mid", "--force"],
        "old.mid: is also an input",
    ),
    "mix-is-the-output": (lambda t: ["-o", t / "b.wav", "--mix", t / "b.wav", "--force"], "b.wav: is named as two outputs"),
    "mix-folder-missing": (lambda t: ["-o", t / "b.wav", "--mix", t / "nodir" / "m.wav", "--force"], "nodir: output folder does not exist"),
    "midi-out-exists": (lambda t: ["-o", t / "new.wav", "--midi-out", t / "old.mid"], "old.mid: already exists (use --force"),
    "output-is-a-hard-link-of-the-input": (lambda t: ["-o", t / "hard.wav", "--force"], "hard.wav: is also an input"),
    "output-inside-the-bundle": (lambda t: ["-o", t / "my.ctbundle" / "manifest.json", "--force"], "manifest.json: is also an input"),
    "mp3-at-37800-hz": (lambda t: ["-o", t / "b.mp3"], "b.mp3: cannot write MP3 at 37800 Hz"),
    "unknown-format": (lambda t: ["-o", t / "b.xyz"], "b.xyz: unsupported output format"),
}


@pytest.mark.parametrize("case", RENDER_CASES)
def test_every_output_is_checked_before_the_render_and_nothing_changes(my_bundle, tmp_path, capsys, monkeypatch, case):
    """Outputs that clash with each other or with an input, a missing folder, an existing file without
    --force, a format that cannot hold A's rate: one line, before rendering (the render would raise)."""
    rate = 37800 if case == "mp3-at-37800-hz" else 44100
    write_audio(tmp_path / "a.wav", tone(220, 2.0, rate), rate)
    (tmp_path / "b.wav").write_bytes(b"last week's take")
    (tmp_path / "old.mid").write_bytes(b"MThd last week's decisions")
    os.link(tmp_path / "a.wav", tmp_path / "hard.wav")
    monkeypatch.setattr(plugin_core.render.offline, "render_audio", _no_render)
    options, named = RENDER_CASES[case]
    before, names = snapshot(tmp_path), entries(tmp_path)
    code, err = _cli(["render", tmp_path / "a.wav", "--bundle", my_bundle, *options(tmp_path)], capsys)
    assert code == 1
    _assert_one_line(err, named)
    assert snapshot(tmp_path) == before and entries(tmp_path) == names


@pytest.mark.parametrize(("extension", "subtype"), [(".wav", "PCM_U8"), (".flac", "PCM_S8")])
def test_an_eight_bit_unsigned_input_renders_at_its_depth(tiny_bundle, tmp_path, capsys, extension, subtype):
    """pedalboard reports 8-bit WAV as int8; WAV holds 8 bits only unsigned: it used to fail at the write."""
    soundfile.write(tmp_path / "a.wav", tone(220, 2.0).T, 44100, subtype="PCM_U8")
    code, err = _cli(["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / f"b{extension}"], capsys)
    assert code == 0, err
    info = soundfile.info(str(tmp_path / f"b{extension}"))
    assert (info.subtype, info.frames) == (subtype, 88200)


def _appears_during_render(target: Path, monkeypatch):
    """Make a file appear at ``target`` while the render runs (after the outputs were checked)."""
    real = plugin_core.render.offline.render_audio

    def render_then_intrude(*args, **kwargs):
        rendered = real(*args, **kwargs)
        target.write_bytes(b"a file someone saved meanwhile")
        return rendered

    monkeypatch.setattr(plugin_core.render.offline, "render_audio", render_then_intrude)


@pytest.mark.parametrize("which", ["-o", "--mix", "--midi-out"])
def test_a_file_that_appears_at_an_output_during_the_render_is_kept(tiny_bundle, tmp_path, capsys, monkeypatch, which):
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    targets = {"-o": tmp_path / "b.wav", "--mix": tmp_path / "m.wav", "--midi-out": tmp_path / "b.mid"}
    _appears_during_render(targets[which], monkeypatch)
    before = snapshot(tmp_path)
    code, err = _cli(["render", tmp_path / "a.wav", "--bundle", tiny_bundle, *[x for pair in targets.items() for x in pair]], capsys)
    assert code == 1
    _assert_one_line(err, f"{targets[which].name}: appeared while we worked; kept it")
    assert snapshot(tmp_path) == {**before, targets[which].name: b"a file someone saved meanwhile"}
    assert entries(tmp_path) == sorted(["a.wav", targets[which].name])  # all or none: no other output either


def test_with_force_a_file_that_appeared_meanwhile_is_replaced(tiny_bundle, tmp_path, capsys, monkeypatch):
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    _appears_during_render(tmp_path / "b.wav", monkeypatch)
    code, err = _cli(["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--force"], capsys)
    assert code == 0, err
    assert probe_audio(tmp_path / "b.wav").num_samples == 88200
    assert entries(tmp_path) == ["a.wav", "b.wav"]


@pytest.mark.parametrize(("stop_after", "signum"), [(1, signal.SIGTERM), (2, signal.SIGINT), (3, signal.SIGTERM), (4, signal.SIGINT)])
def test_a_stop_while_the_outputs_are_placed_puts_every_old_one_back(tiny_bundle, tmp_path, capsys, monkeypatch, stop_after, signum):
    """A stop that lands while a render's four outputs are moved into place (after the first, second,
    ... move) backs out the moves made: yesterday's B, mix, MIDI and session stay byte for byte."""
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--mix", tmp_path / "m.wav"]
    argv += ["--midi-out", tmp_path / "b.mid", "--arrangement", tmp_path / "session"]
    assert _cli([*argv, "--seed", "1"], capsys)[0] == 0
    before, names = snapshot(tmp_path), entries(tmp_path)
    placed = []

    def place_then_stop(real):
        def place(tmp, target, *, replace):
            backup = real(tmp, target, replace=replace)
            placed.append(target)
            if len(placed) == stop_after:
                os.kill(os.getpid(), signum)
            return backup

        return place

    monkeypatch.setattr(plugin_core.io.outputs, "place_file", place_then_stop(plugin_core.io.outputs.place_file))
    monkeypatch.setattr(plugin_core.io.outputs, "_place_folder", place_then_stop(plugin_core.io.outputs._place_folder))
    code, err = _cli([*argv, "--seed", "2", "--force"], capsys)
    assert (code, err) == ((143, "countertrack: stopped") if signum == signal.SIGTERM else (130, "countertrack: interrupted"))
    assert len(placed) == stop_after
    assert snapshot(tmp_path) == before and entries(tmp_path) == names


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_after_every_output_is_in_place_keeps_them_and_says_the_work_is_complete(tiny_bundle, tmp_path, capsys, monkeypatch, signum):
    """A stop landing once the last output is in place (while yesterday's copies are removed) cannot
    undo a finished transaction: the new outputs stay whole, no old copy or temporary file is left,
    and the command says so and succeeds rather than claiming nothing changed."""
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--mix", tmp_path / "m.wav"]
    argv += ["--arrangement", tmp_path / "session"]
    assert _cli([*argv, "--seed", "1"], capsys)[0] == 0
    before, names = snapshot(tmp_path), entries(tmp_path)
    real_remove = plugin_core.io.outputs.remove

    def remove_then_stop(path):
        real_remove(path)
        os.kill(os.getpid(), signum)  # while the backups of a committed transaction are removed

    monkeypatch.setattr(plugin_core.io.outputs, "remove", remove_then_stop)
    code, err = _cli([*argv, "--seed", "2", "--force"], capsys)
    assert code == 0, err
    assert err.splitlines()[-1].startswith("countertrack: stopped once the outputs were complete; kept ")
    assert all(str(tmp_path / name) in err for name in ("b.wav", "m.wav", "session"))
    assert entries(tmp_path) == names  # every output, no backup, no temporary file
    after = snapshot(tmp_path)
    assert after["b.wav"] != before["b.wav"] and probe_audio(tmp_path / "b.wav").num_samples == 88200


def test_a_stop_while_a_failed_commands_temporary_files_are_removed_leaves_none(tiny_bundle, tmp_path, capsys, monkeypatch):
    """A stop (a pool stops its workers more than once) arriving while a command removes its staged
    files does not cut the removal short."""
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    real_remove = plugin_core.io.outputs.remove
    calls = []

    def remove_with_a_stop(path):
        calls.append(path)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        real_remove(path)

    def failing_render(*args, **kwargs):
        raise KeyboardInterrupt()  # the first stop: the render is cut short, its staged outputs are discarded

    monkeypatch.setattr(plugin_core.io.outputs, "remove", remove_with_a_stop)
    monkeypatch.setattr(plugin_core.render.offline, "render_audio", failing_render)
    argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--mix", tmp_path / "m.wav"]
    code, err = _cli(argv, capsys)
    assert code in (130, 143) and len(calls) == 2
    assert entries(tmp_path) == ["a.wav"]


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_stop_just_after_a_temporary_file_is_made_leaves_none(tiny_bundle, tmp_path, capsys, monkeypatch, nth):
    """The stop lands between mkstemp making the staged file and the command knowing of it (found by
    an adversarial run: the file leaked)."""
    import tempfile

    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    real, made = tempfile.mkstemp, []

    def mkstemp_then_stop(*args, **kwargs):
        result = real(*args, **kwargs)
        made.append(result[1])
        if len(made) == nth:
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_stop)
    argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--mix", tmp_path / "m.wav"]
    code, err = _cli([*argv, "--midi-out", tmp_path / "b.mid"], capsys)
    assert (code, err) == (143, "countertrack: stopped") and len(made) >= nth
    assert entries(tmp_path) == ["a.wav"]


def test_two_renders_to_one_path_at_once_one_wins_and_one_says_so(tiny_bundle, tmp_path, capsys):
    """Real threads, same output: exactly one succeeds; the other fails with one line, whichever
    check it meets (the start, or the commit)."""
    for name, freq in (("a1.wav", 220), ("a2.wav", 330)):
        write_audio(tmp_path / name, tone(freq, 6.0), 44100)
    codes: dict[str, int] = {}
    start = threading.Barrier(2)

    def render(name: str) -> None:
        start.wait()
        codes[name] = main(["render", str(tmp_path / name), "--bundle", str(tiny_bundle), "-o", str(tmp_path / "b.wav")])

    threads = [threading.Thread(target=render, args=(name,)) for name in ("a1.wav", "a2.wav")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    err = capsys.readouterr().err.strip()
    assert sorted(codes.values()) == [0, 1]
    _assert_one_line(err, "b.wav: ")
    assert "appeared while we worked" in err or "already exists" in err
    assert probe_audio(tmp_path / "b.wav").num_samples == 6 * 44100
    assert entries(tmp_path) == ["a1.wav", "a2.wav", "b.wav"]


@pytest.mark.parametrize("extension", [".wav", ".flac", ".ogg", ".mp3"])
def test_a_full_disk_is_one_line_and_the_old_output_stays(tiny_bundle, tmp_path, capsys, extension):
    """A 16 KiB tmpfs (or, where mounting is not allowed, a 16 KiB file size limit on the process):
    OGG used to come out silently cut short with exit 0, MP3 gave a traceback."""
    write_audio(tmp_path / "a.wav", tone(220, 5.0), 44100)
    disk = tmp_path / "disk"
    target = disk / f"b{extension}"
    with small_disk(disk, 16) as mounted:
        target.write_bytes(b"yesterday's take")
        argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", target, "--force"]
        if mounted:
            code, err = _cli(argv, capsys)
        else:
            result = subprocess.run(
                [sys.executable, "-m", "host_scripts", *map(str, argv)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                preexec_fn=file_size_limit(16 * 1024),
            )
            code, err = result.returncode, result.stderr.strip()
        assert code == 1
        _assert_one_line(err, f"b{extension}: ")
        assert target.read_bytes() == b"yesterday's take"
        assert entries(disk) == [target.name]


def test_stale_temporary_files_of_a_killed_render_are_swept_and_nothing_else(tiny_bundle, tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".b.ct{dead.pid}-abcdefgh.part.wav"
    stale.write_bytes(b"half a render")
    users = tmp_path / ".b.mine.part.wav"
    users.write_bytes(b"a user's file with a similar name")
    for path in (stale, users):
        os.utime(path, (time.time() - 600, time.time() - 600))
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    code, err = _cli(["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav"], capsys)
    assert code == 0, err
    assert entries(tmp_path) == [".b.mine.part.wav", "a.wav", "b.wav"]


def test_batch_into_an_existing_file_is_one_line(tiny_bundle, tmp_path, capsys):
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    (tmp_path / "out").write_bytes(b"not a folder")
    before = snapshot(tmp_path)
    code, err = _cli(["batch", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "out"], capsys)
    assert code == 1
    _assert_one_line(err, "out: exists and is not a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["from-stems-into-its-stems", "from-scores-into-a-score"])
def test_a_corpus_is_never_written_over_its_inputs(tmp_path, capsys, case):
    (tmp_path / "songs" / "one").mkdir(parents=True)
    write_audio(tmp_path / "songs" / "one" / "bass.wav", tone(110, 1.0), 44100)
    write_audio(tmp_path / "songs" / "one" / "drums.wav", tone(880, 1.0), 44100)
    (tmp_path / "score.mid").write_bytes(b"MThd a user's score")
    if case == "from-stems-into-its-stems":
        argv, named = (
            ["corpus", "from-stems", tmp_path / "songs", "--guide", "others", "--response", "bass*", "-o", tmp_path / "songs"],
            "songs: is also an input",
        )
    else:
        argv, named = (
            ["corpus", "from-scores", tmp_path / "score.mid", "--guide", "0", "--response", "1", "-o", tmp_path / "score.mid"],
            "score.mid: exists and is not a folder",
        )
    before, names = snapshot(tmp_path), entries(tmp_path)
    code, err = _cli(argv, capsys)
    assert code == 1
    _assert_one_line(err, named)
    assert snapshot(tmp_path) == before and entries(tmp_path) == names


@pytest.mark.parametrize("case", ["same-report-twice", "existing-report", "report-is-the-run"])
def test_eval_reports_are_checked_before_the_evaluation(tiny_run, chorale_corpus, tmp_path, capsys, monkeypatch, case):
    import export.evaluation.paper_metrics

    monkeypatch.setattr(export.evaluation.paper_metrics, "evaluate", _no_render)
    (tmp_path / "scores.json").write_text("{}")
    options, named = {
        "same-report-twice": (["--json", tmp_path / "e.json", "--markdown", tmp_path / "e.json"], "e.json: is named as two outputs"),
        "existing-report": (["--json", tmp_path / "scores.json"], "scores.json: already exists"),
        "report-is-the-run": (["--json", tiny_run.folder / "config.json", "--force"], "config.json: is also an input"),
    }[case]
    before, run_before = snapshot(tmp_path), snapshot(tiny_run.folder)
    code, err = _cli(["eval", tiny_run.folder, "--corpus", chorale_corpus, *options], capsys)
    assert code == 1
    _assert_one_line(err, named)
    assert snapshot(tmp_path) == before and snapshot(tiny_run.folder) == run_before


def _wait_for(predicate, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("command", ["render", "export"])
def test_sigterm_stops_a_command_and_leaves_nothing_behind(tiny_bundle, tiny_run, tmp_path, command):
    """Stopped while it works, a render (its staged .b.*.part.wav) or an export (its staging folder)
    removes its temporary files, keeps the old outputs, exits 143 with one line."""
    write_audio(tmp_path / "a.wav", tone(220, 60.0), 44100)
    if command == "render":
        (tmp_path / "b.wav").write_bytes(b"last week's take")
        argv = ["render", tmp_path / "a.wav", "--bundle", tiny_bundle, "-o", tmp_path / "b.wav", "--force"]
    else:
        shutil.copytree(tiny_bundle, tmp_path / "b.ctbundle")
        argv = ["export", tiny_run.folder, "-o", tmp_path / "b.ctbundle", "--force", "--memory", tmp_path / "a.wav"]
    before, names = snapshot(tmp_path), entries(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "host_scripts", *map(str, argv)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert _wait_for(lambda: any(".part" in p.name for p in tmp_path.iterdir())), "never started to write"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip() == "countertrack: stopped"
    assert snapshot(tmp_path) == before and entries(tmp_path) == names


@pytest.mark.slow
def test_sigterm_stops_a_batch_and_its_workers_and_leaves_no_temporary_file(tiny_bundle, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(6):
        write_audio(inputs / f"take{index}.wav", tone(110 + 20 * index, 30.0), 44100)
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "host_scripts", "batch", str(inputs / "*.wav"), "--bundle", str(tiny_bundle), "-o", str(out), "--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait_for(lambda: any(".part" in p.name for p in out.iterdir())), "never started to write"
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip() == "countertrack: stopped"  # one line: no traceback from a worker or the pool's threads
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert workers and not [pid for pid in workers if _alive(int(pid))]
    for done in out.glob("*.wav"):  # what was committed before the stop is whole
        assert probe_audio(done).num_samples == 30 * 44100


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False

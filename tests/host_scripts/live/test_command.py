"""``countertrack live`` from the command line, the fast part: bad arguments, no server, unknown ports
and no live extra are one line and exit code 1; a short run against a JACK dummy server stops cleanly
on SIGTERM or --duration, reports its xruns, and applies MIDI CC that arrives on a JACK MIDI port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.jack_harness import jack_available, jack_server
from tests.paths import ROOT

RUN_TIMEOUT_S = 120.0

unavailable = jack_available()
pytestmark = pytest.mark.skipif(unavailable is not None and not os.environ.get("CI"), reason=f"no JACK here: {unavailable}")


def _live(args: list[str], *, server: str | None = None, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    return subprocess.run(
        [sys.executable, "-m", "host_scripts.cli", "live", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("countertrack: error: "), result.stderr
    assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    with jack_server(tmp_path_factory.mktemp("jackd") / "jackd.log") as name:
        yield name


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--channels", "0"], "--channels 0 is out of range 1..8"),
        (["--input", "a:b", "--input", "c:d"], "2 --input ports for 1 channel(s)"),
        (["--duration", "0"], "--duration 0.0 must be more than 0 seconds"),
        (["--bpm", "1000"], "--bpm 1000.0 is out of range 20..400"),
        (["--cc", "1=temperature:0.3:2.0"], "--cc maps controllers of a MIDI input: give --midi-in PORT"),
        (["--midi-in", "x", "--cc", "1=volume:0:1"], "cannot automate 'volume'"),
        (["--midi-in", "x", "--cc", "1:temperature"], "must read CC=PARAMETER:LOW:HIGH"),
    ],
)
def test_bad_arguments_are_one_line_before_any_server_is_asked(args, fragment, monkeypatch, capsys):
    """In this process (the exit code and stderr are the command line's; a server asked by mistake is
    not started, and its different error fails the test)."""
    from host_scripts.cli import main

    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    code = main(["live", "--server", "ct-test-none", *args])
    _one_line_error(subprocess.CompletedProcess([], code, "", capsys.readouterr().err), fragment)


def test_no_server_running_is_one_line():
    _one_line_error(_live(["--bpm", "100", "--server", f"ct-test-none-{os.getpid()}"]), "cannot connect to JACK server 'ct-test-none-")


@pytest.mark.slow
def test_an_unknown_port_is_one_line_naming_the_ports_there_are(server):
    _one_line_error(
        _live(["--bpm", "100", "--input", "nosuch:out"], server=server),
        "--input 'nosuch:out' is not an audio output port (to read A from) of this JACK server; there are: system:capture_1",
    )
    _one_line_error(
        _live(["--bpm", "100", "--output", "nosuch:in"], server=server), "--output 'nosuch:in' is not an audio input port (to send B to)"
    )


@pytest.mark.slow
def test_an_unknown_midi_port_is_one_line(server):
    _one_line_error(_live(["--bpm", "100", "--midi-in", "nosuch", "--midi-api", "jack"], server=server), "no MIDI input port 'nosuch'")


@pytest.mark.slow
def test_a_beat_bundle_without_a_tempo_is_one_line(server):
    _one_line_error(_live([], server=server), "give a tempo (bpm)")


def test_without_the_live_extra_it_says_how_to_install_it(tmp_path):
    code = "import sys; sys.modules['jack'] = None\nfrom host_scripts.cli import main\nsys.exit(main(['live', '--bpm', '100']))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    _one_line_error(result, "live needs the live extra (jack not installed): in countertrack's source folder, pip install '.[live]'")


@pytest.mark.slow
def test_a_short_run_applies_midi_cc_and_stops_cleanly_on_sigterm(server, tmp_path):
    import mido

    os.environ["JACK_DEFAULT_SERVER"] = server  # python-rtmidi's JACK client finds its server only this way
    try:
        keyboard = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True).open_output("ct-test-cc", virtual=True)
    finally:
        del os.environ["JACK_DEFAULT_SERVER"]
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
    with open(out_path, "w") as out, open(err_path, "w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "host_scripts.cli",
                "live",
                "--bpm",
                "100",
                "--midi-in",
                "RtMidiOut Client:ct-test-cc",
                "--midi-api",
                "jack",
                "--cc",
                "1=temperature:0.3:2.0",
                "--cc",
                "74=top_k:1:17",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        _wait_for(out_path, "playing", process)
        keyboard.send(mido.Message("control_change", control=74, value=127))
        time.sleep(0.2)  # in separate periods: two events sent back to back may leave rtmidi's JACK port in either order
        keyboard.send(mido.Message("control_change", control=1, value=127))
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, err_path.read_text()
    finally:
        keyboard.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    text = out_path.read_text()
    assert re.search(r"^latency: \d+ samples \([\d.]+ s\)", text, re.M), text
    assert re.search(r"^stopped \(SIGTERM\) after [\d.]+ s of audio, \d+ blocks: \d+ xruns", text, re.M), text
    assert "MIDI: 2 control change(s) applied (last: temperature=2)" in text
    assert err_path.read_text() == ""


@pytest.mark.slow
def test_duration_stops_by_itself(server):
    result = _live(["--bpm", "100", "--duration", "1"], server=server)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^stopped \(--duration\) after [\d.]+ s of audio", result.stdout, re.M), result.stdout


def _wait_for(path: Path, word: str, process: subprocess.Popen, timeout_s: float = RUN_TIMEOUT_S) -> str:
    """The text of ``path`` once a line starts with ``word``; fails if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text()
        if re.search(rf"^{word}", text, re.M):
            return text
        if process.poll() is not None:
            raise AssertionError(f"countertrack live ended with {process.returncode} before '{word}': {text}")
        time.sleep(0.1)
    raise AssertionError(f"no '{word}' within {timeout_s} s")

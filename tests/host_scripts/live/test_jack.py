"""``countertrack live`` against a real JACK server (jackd2's dummy driver: 48 kHz, 256-sample periods,
in real time, no sound card): a test client plays 60 s of A into its input port and another records
its output port. Zero xruns, and the recording equals the offline render (``AnswerChain`` on the same
input, same seed and bpm, threaded) delayed by the latency countertrack printed at start, to the sample.

The tolerance is zero: JACK passes float32 buffers between clients untouched, the chain's output does
not depend on how its input is cut into blocks, and the stream stays on the server's frame clock.

The input countertrack heard is what the player wrote at each JACK frame from countertrack's first
cycle on (it prints that frame): silence until the player starts, then A. The player starts on a
frame the test picks, so the offline render is made of the same silence and the same A.

Real time means this machine must keep up: the test is marked ``realtime``, which the suite runs last
(with xdist, when the other workers are on their last tests); if the test's own clients still see
xruns before countertrack starts after two minutes of trying (a machine busy with other work), the
test is skipped, saying so; if xruns come
during the run, it runs once more on a fresh server, and the second run must have none. An xrun reaches
every client, so who was late is read from jackd's log ("client = NAME was not finished"): the test is
skipped only when the test's player, which does nothing but copy A and runs first in each cycle, was
late too in one of them (the machine missed deadlines); when only countertrack (and the recorder after
it) missed them, it fails.
A second test runs the same path with the server freewheeling (no clock: each cycle starts when the
last one is done), so the equality is checked to the sample on a machine too busy for real time.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path, example_a_path
from plugin_core.io.audio import read_audio
from plugin_core.stream.chain import AnswerChain
from tests.jack_harness import PERIOD, RATE, Player, Recorder, jack_available, jack_server, xrun_groups
from tests.paths import ROOT

SECONDS = 60.0
BPM, SEED = 100.0, 3
BASELINE_S = 3.0
SETTLE_S = 2.0  # a dummy server may report an xrun or two as it starts
STARTUP_TIMEOUT_S = 120.0
LEAD_S = 0.25  # the player starts this long after countertrack is playing
QUIET_WAIT_S = 120.0  # how long the real-time test waits for a baseline with no xrun

unavailable = jack_available()
pytestmark = pytest.mark.skipif(unavailable is not None and not os.environ.get("CI"), reason=f"no JACK here: {unavailable}")


def _a_track() -> np.ndarray:
    """60 s of the shipped example A (a flute melody) at 48 kHz, mono, repeated to length."""
    a = read_audio(example_a_path(), sample_rate=RATE, mono=True).samples[0]
    return np.tile(a, int(np.ceil(SECONDS * RATE / a.size)))[: int(SECONDS * RATE)].astype(np.float32)


def _wait_for_line(path: Path, pattern: str, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        text = path.read_text()
        if re.search(pattern, text, re.M):
            return text
        assert process.poll() is None, f"countertrack live ended with {process.returncode}: {text}"
        time.sleep(0.05)
    raise AssertionError(f"countertrack live did not print {pattern!r} within {STARTUP_TIMEOUT_S} s")


@dataclass
class LiveRun:
    """One run of ``countertrack live`` on a fresh server: what it printed, the recording from its first frame on."""

    report: str
    errors: str
    latency: int
    a_start: int  # stream sample where A starts (countertrack heard silence before)
    recording: np.ndarray  # countertrack's output from its stream sample 0 on
    client_xruns: int  # the xruns the test's own clients saw while it played (any client's: an xrun reaches all)
    late: list[dict[str, str]]  # per xrun while it played, the clients jackd named late and their state
    driver_late: int  # cycles the server's own (dummy) driver started late while it played: the machine's

    @property
    def xruns(self) -> int:
        found = re.search(r"^stopped \(SIGTERM\) after [\d.]+ s of audio, \d+ blocks: (\d+) xruns", self.report, re.M)
        assert found, self.report
        return int(found.group(1))


def _run_live(a: np.ndarray, folder: Path, *, freewheel: bool = False) -> LiveRun:
    """Start a server and the test's clients; skip if they alone see xruns; play A through countertrack live.
    ``freewheel``: the server runs its cycles as fast as its clients finish them, not on a clock."""
    folder.mkdir()
    log = folder / "jackd.log"
    gc.collect()
    gc.freeze()  # the test's clients call back into this (large) process: no full collection on their real-time thread
    try:
        return _play_through_live(a, folder, log, freewheel)
    finally:
        gc.unfreeze()


def _play_through_live(a: np.ndarray, folder: Path, log: Path, freewheel: bool) -> LiveRun:
    with jack_server(log) as server:
        player, recorder = Player(server, a), Recorder(server, SECONDS + 60.0)
        try:
            if not freewheel:  # the machine's own xruns, with nothing of countertrack's running (after the server settles)
                time.sleep(SETTLE_S)
                quiet_by = time.monotonic() + QUIET_WAIT_S  # in a parallel run, the other workers finish their last tests
                while True:
                    settled = player.xruns
                    time.sleep(BASELINE_S)
                    if player.xruns == settled:
                        break
                    if time.monotonic() > quiet_by:
                        pytest.skip(
                            f"this machine is too busy for real-time audio: {player.xruns - settled} xruns in {BASELINE_S:.0f} s "
                            f"with only the test's own JACK clients, still after {QUIET_WAIT_S:.0f} s"
                        )
            out_path, err_path = folder / "live.txt", folder / "live-err.txt"
            env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
            with open(out_path, "w") as out, open(err_path, "w") as err:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "host_scripts.cli",
                        "live",
                        "--bpm",
                        str(BPM),
                        "--seed",
                        str(SEED),
                        "--input",
                        player.port.name,
                        "--output",
                        recorder.port.name,
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=err,
                )
            try:
                text = _wait_for_line(out_path, r"^playing", process)
                latency = int(re.search(r"^latency: (\d+) samples", text, re.M).group(1))
                first = int(re.search(r"stream started at JACK frame (\d+)", text).group(1))
                start = first + (int(player.client.frame_time) + int(LEAD_S * RATE) - first) // PERIOD * PERIOD
                xruns_before, log_before = player.xruns, len(log.read_text(errors="replace"))
                player.play_from(start)
                if freewheel:
                    player.client.set_freewheel(True)
                end = start + a.size + latency  # the answer to the last sample of A has been played by then
                deadline = time.monotonic() + SECONDS + latency / RATE + 60.0
                while recorder.first_frame + recorder.filled < end + 2 * PERIOD and time.monotonic() < deadline:
                    time.sleep(0.1)
                if freewheel:
                    player.client.set_freewheel(False)
                client_xruns = player.xruns - xruns_before
                during = log.read_text(errors="replace")[log_before:]
                late, driver_late = xrun_groups(during), during.count("JackTimedDriver::Process XRun")
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0, err_path.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            return LiveRun(
                out_path.read_text(),
                err_path.read_text(),
                latency,
                start - first,
                recorder.frames(first, end - first).copy(),
                client_xruns,
                late,
                driver_late,
            )
        finally:
            player.close()
            recorder.close()


@pytest.mark.realtime
def test_live_on_a_jack_server_plays_the_offline_render_delayed_by_its_latency_with_no_xruns(tmp_path):
    a = _a_track()
    run = _run_live(a, tmp_path / "first")
    if run.xruns or run.client_xruns:  # a burst of load from elsewhere: one more try, on a fresh server
        run = _run_live(a, tmp_path / "second")
    if run.driver_late or any("ct-player" in group for group in run.late):  # the server, or the client that only copies A, was late
        pytest.skip(
            f"this machine could not keep real time during the run: the server's driver ({run.driver_late} late cycles) or the "
            f"test's player missed deadlines too (late per xrun: {run.late[:6]}; countertrack's report: {run.report.strip()[-160:]})"
        )
    assert run.errors == ""
    assert re.search(
        r"^stopped \(SIGTERM\) after [\d.]+ s of audio, \d+ blocks: 0 xruns \(0 frames skipped by the server heard as "
        r"silence, 0 repeated blocks played as silence\)",
        run.report,
        re.M,
    ), run.report
    assert run.client_xruns == 0
    _assert_offline_render_delayed(run, a)


def test_live_in_jack_freewheel_mode_plays_the_offline_render_to_the_sample_whatever_the_load(tmp_path):
    """The same path (server, ports, callback, worker) with the server's clock taken away: whatever else
    the machine is doing, no cycle is missed, so the recording must be the offline render exactly."""
    a = _a_track()
    run = _run_live(a, tmp_path / "freewheel", freewheel=True)
    assert run.errors == ""
    assert re.search(r"\(0 frames skipped by the server heard as silence, 0 repeated blocks played as silence\)", run.report), run.report
    _assert_offline_render_delayed(run, a)


def _assert_offline_render_delayed(run: LiveRun, a: np.ndarray) -> None:
    """The recording is silence for the latency, then the offline render of what countertrack heard, to the sample."""
    assert run.recording.size - run.a_start >= SECONDS * RATE
    heard = np.zeros((1, run.recording.size), dtype=np.float32)  # what countertrack heard from its first cycle on
    heard[0, run.a_start : run.a_start + a.size] = a
    chain = AnswerChain(load_bundle(default_bundle_path(), threads=1), sample_rate=RATE, channels=1, seed=SEED, bpm=BPM, threaded=True)
    assert chain.latency_samples == run.latency
    offline = chain(heard, RATE)[0]
    chain.effect.close()
    expected = np.concatenate([np.zeros(run.latency, dtype=np.float32), offline])[: run.recording.size]
    different = np.flatnonzero(run.recording != expected)
    assert different.size == 0, (
        f"{different.size} samples differ, the first at stream sample {different[0]} "
        f"(A starts at {run.a_start}); largest difference {np.abs(run.recording - expected).max()}"
    )
    assert np.abs(expected[run.latency + run.a_start :]).max() > 0.01  # an answer was played, not silence

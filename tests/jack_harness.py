"""A real JACK server for the live tests, and test clients that play A and record B by JACK frame time.

``jack_server`` starts Debian's jackd2 with the dummy driver (no sound card; it runs in real time)
under a unique server name, waits until a client can connect, and always stops it (SIGTERM, then
SIGKILL). ``Player`` writes A from a given frame on; ``Recorder`` keeps every frame it hears, indexed
by JACK frame time, so a recording lines up with what was played to the sample.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RATE, PERIOD = 48000, 256
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


def jack_available() -> str | None:
    """Why the JACK tests cannot run here, or None when jackd and JACK-Client are both there."""
    if shutil.which("jackd") is None:
        return "jackd is not installed (apt-get install jackd2)"
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"JACK-Client does not import ({exc})"
    return None


LATE_CLIENT = re.compile(r"JackEngine::XRun: client = (.+?) was not finished, state = (\w+)")
FINISHED_LATE = re.compile(r"JackEngine::XRun: client (.+?) finished after current callback")
XRUN_END = "ProcessGraphAsyncMaster: Process error"


def xrun_groups(log_text: str) -> list[dict[str, str]]:
    """Per xrun jackd counted, the clients its log names as late and their state (Running: it had started;
    Triggered: its turn had come but it had not started; FinishedLate: it finished after the deadline), in order."""
    groups: list[dict[str, str]] = [{}]
    for line in log_text.splitlines():
        found = LATE_CLIENT.search(line)
        finished = FINISHED_LATE.search(line)
        if found:
            groups[-1][found.group(1)] = found.group(2)
        elif finished:
            groups[-1][finished.group(1)] = "FinishedLate"
        elif XRUN_END in line and groups[-1]:
            groups.append({})
    return [group for group in groups if group]


def unique_server_name() -> str:
    return f"ct-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def jack_server(log: Path, name: str | None = None) -> Iterator[str]:
    """A jackd dummy server at 48 kHz with 256-sample periods; yields its name. Its output goes to ``log``."""
    import jack

    name = name or unique_server_name()
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            ["jackd", "-n", name, "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        _wait_for_server(jack, name, server, log)
        yield name
    finally:
        _stop(server)


def _wait_for_server(jack, name: str, server: subprocess.Popen, log: Path) -> None:
    jack.set_error_function(lambda message: None)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"jackd exited with {server.returncode}: {log.read_text(errors='replace')[-1000:]}")
            try:
                jack.Client("ct-probe", no_start_server=True, servername=name).close()
                return
            except jack.JackOpenError:
                time.sleep(0.1)
        raise RuntimeError(f"jackd did not start within {START_TIMEOUT_S} s: {log.read_text(errors='replace')[-1000:]}")
    finally:
        jack.set_error_function(None)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_S: never left running."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_S)


class Player:
    """A JACK client with one output port: silence until ``play(frame)``'s frame, then ``audio`` (1-D), then silence."""

    def __init__(self, server: str, audio: np.ndarray, name: str = "ct-player"):
        import jack

        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.outports.register("out")
        self.start_frame: int | None = None  # set by play(); frames before it are silence
        self.xruns = 0
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delayed_usecs: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        out = self.port.get_array()
        start = self.start_frame
        if start is None:
            out.fill(0.0)
            return
        offset = self.client.last_frame_time - start  # JACK frame times wrap at 2**32: not within a test's minutes
        out.fill(0.0)
        lo, hi = max(offset, 0), min(offset + frames, self.audio.size)
        if hi > lo:
            out[lo - offset : hi - offset] = self.audio[lo:hi]

    def play_from(self, frame: int) -> None:
        self.start_frame = frame

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class Recorder:
    """A JACK client with one input port, keeping every frame it hears from ``frame_time`` on (at most ``seconds``)."""

    def __init__(self, server: str, seconds: float, name: str = "ct-recorder"):
        import jack

        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.inports.register("in")
        # written through now, not by the callback: numpy asks for huge pages for a buffer this size, and
        # the first write to each would fault (zeroing, perhaps compacting memory) on the real-time thread
        self.buffer = np.full(int(seconds * self.client.samplerate), 0.0, dtype=np.float32)
        self.first_frame: int | None = None
        self.filled = 0
        self.xruns = 0
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delayed_usecs: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        now = self.client.last_frame_time
        if self.first_frame is None:
            self.first_frame = now
        offset = now - self.first_frame
        if offset + frames <= self.buffer.size:
            self.buffer[offset : offset + frames] = self.port.get_array()
            self.filled = offset + frames

    def frames(self, start: int, count: int) -> np.ndarray:
        """The recording of JACK frames start .. start + count (must have been recorded)."""
        offset = start - self.first_frame
        assert offset >= 0 and offset + count <= self.filled, (start, count, self.first_frame, self.filled)
        return self.buffer[offset : offset + count]

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()

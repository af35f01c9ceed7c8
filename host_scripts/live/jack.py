"""A JACK client for ``countertrack live``: input ports for A, output ports for B, the process callback
handed to a ``BlockBridge``, xruns counted, and the server's shutdown noticed.

JACK-Client (the live extra) wraps libjack with cffi; its process callback runs on JACK's real-time
thread. libjack's own messages ("Cannot connect to server socket", ...) are kept, not printed, so a
failure is one line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from plugin_core.errors import CountertrackError

Callback = Callable[[Sequence[np.ndarray], Sequence[np.ndarray], int], None]  # inputs, outputs, frame time


class JackAudio:
    """One JACK client named ``name`` on ``server`` (None: $JACK_DEFAULT_SERVER, else "default")."""

    def __init__(self, name: str, server: str | None = None):
        import jack

        self._jack = jack
        self._messages: list[str] = []
        jack.set_error_function(self._messages.append)
        jack.set_info_function(lambda message: None)
        try:
            self.client = jack.Client(name, no_start_server=True, servername=server)
        except jack.JackOpenError:
            jack.set_error_function(None)
            jack.set_info_function(None)
            where = f"JACK server {server!r}" if server else "a JACK server"
            raise CountertrackError(
                f"cannot connect to {where}: is it running? (start one with e.g. 'jackd -d alsa' or 'jackd -d dummy')"
            ) from None
        self.sample_rate = int(self.client.samplerate)
        self.block_size = int(self.client.blocksize)
        self.xruns = 0
        self.started = threading.Event()
        self.shutdown_reason: str | None = None
        self.shut_down = threading.Event()
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []

    def check_ports(self, names: Sequence[str], *, outputs: bool) -> None:
        """Every name is an existing audio port that can feed A (``outputs``: a port producing audio) or
        take B; else one line naming the ports there are."""
        for name in names:
            ports = self.client.get_ports(is_audio=True, is_output=outputs, is_input=not outputs)
            if name not in [port.name for port in ports]:
                flag, kind = (
                    ("--input", "an audio output port (to read A from)") if outputs else ("--output", "an audio input port (to send B to)")
                )
                known = ", ".join(port.name for port in ports) or "none"
                raise CountertrackError(f"{flag} {name!r} is not {kind} of this JACK server; there are: {known}")

    def start(self, channels: int, bridge: Callback, *, connect_from: Sequence[str] = (), connect_to: Sequence[str] = ()) -> None:
        """Register in_1.. and out_1.., activate, and connect ``connect_from[i]`` -> in_i+1 and out_i+1 -> ``connect_to[i]``."""
        self.check_ports(connect_from, outputs=True)
        self.check_ports(connect_to, outputs=False)
        self._inputs = [self.client.inports.register(f"in_{c + 1}") for c in range(channels)]
        self._outputs = [self.client.outports.register(f"out_{c + 1}") for c in range(channels)]
        inputs, outputs, client, started = self._inputs, self._outputs, self.client, self.started

        def process(frames: int) -> None:
            bridge([port.get_array() for port in inputs], [port.get_array() for port in outputs], client.last_frame_time)
            if not started.is_set():
                started.set()

        def xrun(delayed_usecs: float) -> None:
            self.xruns += 1

        def shutdown(status: Any, reason: str) -> None:
            self.shutdown_reason = reason or "no reason given"
            self.shut_down.set()

        client.set_process_callback(process)
        client.set_xrun_callback(xrun)
        client.set_shutdown_callback(shutdown)
        client.activate()
        for source, port in zip(connect_from, inputs):
            client.connect(source, port)
        for port, target in zip(outputs, connect_to):
            client.connect(port, target)

    @property
    def input_names(self) -> list[str]:
        return [port.name for port in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return [port.name for port in self._outputs]

    def close(self) -> None:
        """Deactivate and close the client (safe to call twice); restores libjack's message printing."""
        client, self.client = getattr(self, "client", None), None
        if client is not None:  # after a server shutdown too: JACK leaves freeing the client to us
            client.deactivate()
            client.close()
        self._jack.set_error_function(None)
        self._jack.set_info_function(None)

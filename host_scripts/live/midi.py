"""MIDI control changes in real time for ``countertrack live``: a mido input port whose mapped
controllers (``--cc CC=PARAM:LOW:HIGH``, as ``render --automation`` reads them from a file) set
parameters of the running chain as they arrive.

mido calls back on its own (rtmidi) thread, never on the audio thread. A change goes to
``AnswerChain.set_parameters``, which queues it in order with the audio already sent to the worker,
so it applies to the decisions made from the next segment on: the audio callback does no more work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from plugin_core.errors import CountertrackError
from plugin_core.io.midi_io import CCMapping

# --midi-api NAME -> mido backend (python-rtmidi, the live extra)
MIDI_APIS = {"jack": "mido.backends.rtmidi/UNIX_JACK", "alsa": "mido.backends.rtmidi/LINUX_ALSA"}


class ControlInput:
    """Mapped control changes from one MIDI input port applied with ``apply(**changes)``.

    ``applied`` counts the changes made; ``last`` is the last one. A change the chain refuses (a value
    out of range) is counted in ``refused`` and kept in ``error``, never raised on mido's thread.
    """

    def __init__(self, mappings: list[CCMapping], apply: Callable[..., None]):
        self._by_controller = {m.controller: m for m in mappings}
        self._apply = apply
        self._lock = threading.Lock()
        self.applied = 0
        self.refused = 0
        self.last: dict[str, Any] = {}
        self.error: str | None = None
        self._port: Any = None

    def handle(self, message: Any) -> None:
        """One MIDI message (a mido.Message): a mapped control change sets its parameter, the rest is ignored."""
        if getattr(message, "type", None) != "control_change":
            return
        mapping = self._by_controller.get(message.control)
        if mapping is None:
            return
        changes = {mapping.parameter: mapping.value(message.value)}
        with self._lock:
            try:
                self._apply(**changes)
            except CountertrackError as exc:
                self.refused += 1
                self.error = str(exc)
            else:
                self.applied += 1
                self.last = changes

    def open(self, port_name: str, api: str | None = None) -> None:
        """Listen on the input port ``port_name`` (as mido lists it) through ``api`` (jack, alsa, or
        None for mido's default backend, which $MIDO_BACKEND may set). An unknown port is one line
        naming the ports there are."""
        import mido

        try:
            backend = mido.Backend(MIDI_APIS[api], load=True) if api else mido
            names = backend.get_input_names()
        except Exception as exc:  # rtmidi raises its own SystemError when the API cannot start (no ALSA sequencer, no JACK)
            raise CountertrackError(f"cannot list MIDI inputs{f' through {api}' if api else ''}: {exc}") from None
        if port_name not in names:
            known = ", ".join(repr(n) for n in names) or "none"
            raise CountertrackError(f"no MIDI input port {port_name!r}; ports there are: {known}")
        try:
            self._port = backend.open_input(port_name, callback=self.handle)
        except Exception as exc:
            raise CountertrackError(f"cannot open MIDI input {port_name!r}: {exc}") from None

    def close(self) -> None:
        """Stop listening (safe to call twice, or without ``open``)."""
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def summary(self) -> str:
        """One line for the end-of-run report."""
        text = f"{self.applied} control change(s) applied"
        if self.last:
            text += " (last: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.last.items()) + ")"
        if self.refused:
            text += f", {self.refused} refused ({self.error})"
        return text

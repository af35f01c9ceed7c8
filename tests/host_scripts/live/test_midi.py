"""MIDI control changes on a live stream: mapped ones set parameters, the rest are ignored, and a change the
chain refuses is counted, never raised on MIDI's thread."""

from __future__ import annotations

import mido

from host_scripts.live.midi import ControlInput
from plugin_core.errors import CountertrackError
from plugin_core.io.midi_io import CCMapping, parse_cc_mapping


def test_mapped_control_changes_set_parameters_and_the_rest_is_ignored():
    applied: list[dict] = []
    controls = ControlInput(
        [parse_cc_mapping("1=temperature:0.3:2.0"), parse_cc_mapping("74=top_k:1:17")], lambda **changes: applied.append(changes)
    )
    controls.handle(mido.Message("control_change", control=1, value=127))
    controls.handle(mido.Message("control_change", control=74, value=64))
    controls.handle(mido.Message("control_change", control=7, value=10))  # not mapped
    controls.handle(mido.Message("note_on", note=60))
    assert applied == [{"temperature": 2.0}, {"top_k": 9}]
    assert controls.applied == 2 and controls.summary() == "2 control change(s) applied (last: top_k=9)"


def test_a_change_the_chain_refuses_is_counted_not_raised_on_midis_thread():
    def refuse(**changes):
        raise CountertrackError("temperature 0 is out of range")

    controls = ControlInput([CCMapping(1, "temperature", 0.0, 1.0)], refuse)  # built directly: parse_cc_mapping refuses a bound of 0
    controls.handle(mido.Message("control_change", control=1, value=0))
    assert controls.refused == 1 and "out of range" in controls.summary()

"""The parts of ``countertrack live`` that need no audio server: the callback's body (blocks copied
through the effect, the stream kept on the server's clock); MIDI CC is in test_midi.py."""

from __future__ import annotations

import numpy as np

from host_scripts.live.bridge import BlockBridge
from plugin_core.errors import CountertrackError

BLOCK = 4


class Echo:
    """A streaming effect that plays its input ``latency_samples`` later, recording everything it heard."""

    def __init__(self, latency: int = 3):
        self.latency_samples = latency
        self.heard: list[np.ndarray] = []
        self._pending = np.zeros((1, latency), dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.heard.append(block.copy())
        joined = np.concatenate([self._pending, block], axis=1)
        self._pending = joined[:, block.shape[1] :]
        return joined[:, : block.shape[1]]


def _call(bridge: BlockBridge, frame: int, values: np.ndarray) -> np.ndarray:
    out = np.full(values.size, np.nan, dtype=np.float32)
    bridge([values.astype(np.float32)], [out], frame)
    return out


def test_the_bridge_copies_blocks_through_the_effect_in_order():
    effect = Echo()
    bridge = BlockBridge(effect, 1, 48000)
    outs = [_call(bridge, 1000 + BLOCK * i, np.arange(BLOCK * i, BLOCK * (i + 1)) + 1.0) for i in range(3)]
    assert np.array_equal(np.concatenate(outs), np.concatenate([[0, 0, 0], np.arange(1, 10)]).astype(np.float32))
    assert (bridge.start_frame, bridge.blocks, bridge.samples, bridge.frames_filled, bridge.blocks_repeated) == (1000, 3, 12, 0, 0)
    assert 0.0 < bridge.percentile_share(50) <= bridge.percentile_share(99)


def test_frames_the_server_skipped_are_heard_as_silence_so_b_keeps_its_latency():
    effect = Echo(latency=0)
    bridge = BlockBridge(effect, 1, 48000)
    _call(bridge, 0, np.ones(BLOCK))
    out = _call(bridge, 3 * BLOCK, np.full(BLOCK, 2.0))  # the server skipped two blocks of this client
    assert np.array_equal(out, np.full(BLOCK, 2.0))  # B of frame n still comes at frame n + latency
    assert bridge.frames_filled == 2 * BLOCK and bridge.samples == 4 * BLOCK
    assert np.array_equal(np.concatenate(effect.heard, axis=1)[0], np.r_[np.ones(BLOCK), np.zeros(2 * BLOCK), np.full(BLOCK, 2.0)])


def test_a_late_call_for_frames_already_heard_plays_silence_and_leaves_the_effect_alone():
    effect = Echo(latency=0)
    bridge = BlockBridge(effect, 1, 48000)
    _call(bridge, 0, np.ones(BLOCK))
    _call(bridge, BLOCK, np.ones(BLOCK))
    out = _call(bridge, BLOCK, np.full(BLOCK, 5.0))
    assert np.array_equal(out, np.zeros(BLOCK)) and bridge.blocks_repeated == 1 and len(effect.heard) == 2


def test_a_failing_effect_is_kept_for_the_main_thread_and_the_callback_plays_silence():
    class Broken(Echo):
        def process(self, block):
            raise CountertrackError("the worker died")

    bridge = BlockBridge(Broken(), 1, 48000)
    assert np.array_equal(_call(bridge, 0, np.ones(BLOCK)), np.zeros(BLOCK))
    assert bridge.failed.is_set() and "worker died" in str(bridge.error)
    assert np.array_equal(_call(bridge, BLOCK, np.ones(BLOCK)), np.zeros(BLOCK))

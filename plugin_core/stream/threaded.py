"""The sidechain effect with its heavy work on a worker thread, for live use.

A host's audio thread must return every block on time. ``SidechainEffect`` labels a segment and
decides a token on the block where the segment completes, which can cost more than a small block's
duration (a Wav2Vec2 encoder far more). ``ThreadedSidechain`` hands A to a worker thread that runs
the effect, and plays its output from a FIFO one more segment later: the caller's thread only copies
blocks in and out. Because the effect's output does not depend on how its input is cut into blocks,
the result is the synchronous effect's output delayed by ``extra_latency_samples``, to the bit.

If the worker falls behind by more than that extra latency, ``process`` waits for it rather than
play anything else: output stays deterministic, and a benchmark counts the wait in the caller's time.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from plugin_core.errors import AudioError, ConfigurationError, CountertrackError
from plugin_core.stream.contract import process_whole
from plugin_core.stream.sidechain import Decision, SidechainEffect

_FLUSH = "flush"


class _Fifo:
    """(channels, n) blocks pushed at one end and popped by sample count at the other."""

    def __init__(self, channels: int):
        self.channels = channels
        self._blocks: deque[np.ndarray] = deque()
        self.size = 0

    def push(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self._blocks.append(block)
            self.size += block.shape[1]

    def pop(self, count: int) -> np.ndarray:
        out = np.empty((self.channels, count), dtype=np.float32)
        filled = 0
        while filled < count:
            head = self._blocks[0]
            take = min(count - filled, head.shape[1])
            out[:, filled : filled + take] = head[:, :take]
            if take == head.shape[1]:
                self._blocks.popleft()
            else:
                self._blocks[0] = head[:, take:]
            filled += take
        self.size -= count
        return out

    def clear(self) -> None:
        self._blocks.clear()
        self.size = 0


class _Shared:
    """What the caller and the worker share, guarded by one condition. Holds no reference to the
    ``ThreadedSidechain`` itself, so dropping that stops the worker."""

    def __init__(self, effect: SidechainEffect):
        self.effect = effect
        self.condition = threading.Condition()
        self.inbox: deque[np.ndarray | Callable[[SidechainEffect], None] | str] = deque()
        self.outbox = _Fifo(effect.channels)
        self.busy = False
        self.flushed = False
        self.error: BaseException | None = None
        self.stopping = False

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            self.condition.notify_all()

    def run(self) -> None:
        """The worker: take what the caller queued, in order, and run the effect on it."""
        _yield_to_audio_thread()
        while True:
            with self.condition:
                while not self.inbox and not self.stopping:
                    self.condition.wait()
                if self.stopping:
                    return
                items = list(self.inbox)
                self.inbox.clear()
                self.busy = True
            failure: BaseException | None
            try:
                outputs = self._work(items)
            except BaseException as exc:  # handed to the caller's thread, which raises it
                outputs, failure = [], exc
            else:
                failure = None
            with self.condition:
                for block in outputs:
                    self.outbox.push(block)
                if any(item is _FLUSH for item in items) and failure is None:
                    self.flushed = True
                self.error = self.error or failure
                self.busy = False
                self.condition.notify_all()

    def _work(self, items: list) -> list[np.ndarray]:
        outputs, audio = [], []
        for item in items + [None]:
            if isinstance(item, np.ndarray):
                audio.append(item)
                continue
            if audio:  # consecutive blocks in one call: the output does not depend on the cut
                outputs.append(self.effect.process(audio[0] if len(audio) == 1 else np.concatenate(audio, axis=1)))
                audio = []
            if item is _FLUSH:
                outputs.append(self.effect.flush())
            elif callable(item):
                item(self.effect)
        return outputs


ANTICIPATING_WORKER_S = 0.010


def default_extra_latency(effect: SidechainEffect) -> int:
    """One more segment, or for an anticipating effect the worker's time for one segment's work."""
    if effect.bundle.decision_config.anticipates:
        return int(round(ANTICIPATING_WORKER_S * effect.sample_rate))
    return int(effect.nominal_segment_samples)


WARM_UP_SEGMENTS = 2.5  # a throwaway stream this long: two boundaries, a late look, a decision after them
WARM_UP_MAX_S = 4.0  # at most this much tone, however long the segments
WARM_UP_BLOCK = 256


def warm_up(effect: SidechainEffect) -> None:
    """Run a throwaway stream of ``effect``'s bundle, rate, layout and parameters over a short tone, so the
    real stream's first beats do not pay for first-time work (onnxruntime's buffers, FFT plans, the
    memory's pages): at 48 kHz an anticipating bundle's first beat took 8.2 ms cold and 4.5 ms warm (benchmarks/anticipating_worker.py),
    more than the one block its worker has. It runs on a grid of its own (segments as long as the
    effect's longest), which any bundle can stream, and is flushed. Only what memoises is touched:
    the output is unchanged."""
    rate = effect.sample_rate
    segment = max(1, int(effect.nominal_segment_samples))
    total = max(1, min(int(WARM_UP_SEGMENTS * segment), int(WARM_UP_MAX_S * rate)))
    grid = np.unique(np.append(np.arange(0, total, segment), total))
    throwaway = SidechainEffect(
        effect.bundle,
        rate,
        effect.channels,
        seed=effect.seed,
        parameters=effect.parameters,
        boundaries=grid,
        segmentation=effect.segmentation,
    )
    t = np.arange(total) / rate
    tone = np.broadcast_to((0.25 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32), (effect.channels, total))
    for start in range(0, total, WARM_UP_BLOCK):
        throwaway.process(np.ascontiguousarray(tone[:, start : start + WARM_UP_BLOCK]))
    throwaway.flush()


def _yield_to_audio_thread() -> None:
    """Lower this (worker) thread's priority so the host's audio thread wins a contended core."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


class ThreadedSidechain:
    """``SidechainEffect``'s interface (process, flush, reset, set_parameters, schedule) with the
    effect run on a worker thread; ``latency_samples`` includes ``extra_latency_samples``.

    ``extra_latency_samples`` defaults to one more (longest) segment: enough for any perception and
    decision that run faster than real time on the worker's core. An anticipating effect decides a
    slot when A reaches its start, with no segment to spare; its default is ``ANTICIPATING_WORKER_S``,
    the time one labelling, decision and grain take on the worker (see benchmarks/).
    """

    def __init__(self, effect: SidechainEffect, extra_latency_samples: int | None = None):
        self.effect = effect
        self.sample_rate, self.channels = effect.sample_rate, effect.channels
        if extra_latency_samples is None:
            extra_latency_samples = default_extra_latency(effect)
        self.extra_latency_samples = int(extra_latency_samples)
        if self.extra_latency_samples < 0:
            raise ConfigurationError("extra latency must not be negative")
        self.latency_samples = effect.latency_samples + self.extra_latency_samples
        warm_up(effect)  # here, like a plugin's prepareToPlay: off the audio thread, before the stream
        self._shared = _Shared(effect)
        self._prime()
        self._thread = threading.Thread(target=self._shared.run, name="countertrack-sidechain", daemon=True)
        self._thread.start()
        self._finalizer = weakref.finalize(self, self._shared.stop)

    @property
    def worker_thread_id(self) -> int | None:
        """The worker's native thread id, for a host that sets its scheduling (``countertrack live``
        makes it real-time, below the audio thread, so it never holds Python's lock while preempted)."""
        return self._thread.native_id

    @property
    def decisions(self) -> list[Decision]:
        """What was decided so far (complete after ``flush``)."""
        return self.effect.decisions

    @property
    def crossfade_samples(self) -> int:
        """The crossfade the latency was set for (the effect's)."""
        return self.effect.crossfade_samples

    def _prime(self) -> None:
        self._shared.outbox.clear()
        self._shared.outbox.push(np.zeros((self.channels, self.extra_latency_samples), dtype=np.float32))

    def _raise_failure(self) -> None:
        if self._shared.error is not None:
            raise self._shared.error

    def process(self, block: np.ndarray) -> np.ndarray:
        """One block of A (channels, n) in, one block of B (channels, n) out; only copies here."""
        block = np.array(block, dtype=np.float32, copy=True)  # the host may reuse its buffer
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise AudioError(f"expected a block shaped ({self.channels}, samples), got {block.shape}")
        shared = self._shared
        with shared.condition:
            self._raise_failure()
            if shared.flushed:
                raise CountertrackError("the stream has been flushed; call reset() to start a new one")
            shared.inbox.append(block)
            shared.condition.notify_all()
            while shared.outbox.size < block.shape[1] and shared.error is None:
                shared.condition.wait()  # the worker is late: wait, never play something else
            self._raise_failure()
            return shared.outbox.pop(block.shape[1])

    def flush(self) -> np.ndarray:
        """End of A: wait for the worker to finish and return the last ``latency_samples`` of B."""
        shared = self._shared
        with shared.condition:
            self._raise_failure()
            shared.inbox.append(_FLUSH)
            shared.condition.notify_all()
            while not shared.flushed and shared.error is None:
                shared.condition.wait()
            self._raise_failure()
            return shared.outbox.pop(shared.outbox.size)

    def _idle(self) -> None:
        """Wait (holding the condition) until the worker has nothing queued or running."""
        while (self._shared.inbox or self._shared.busy) and self._shared.error is None:
            self._shared.condition.wait()

    def reset(self) -> None:
        """Forget everything heard (queued audio included): the next block starts a new track."""
        shared = self._shared
        with shared.condition:
            shared.inbox.clear()
            self._idle()
            self.effect.reset()
            shared.flushed, shared.error = False, None
            self._prime()

    def __call__(self, audio: np.ndarray, sample_rate: float, *, reset: bool = True) -> np.ndarray:
        """pedalboard's offline call: B for the whole ``audio`` (1-D or (channels, n)), aligned with it."""
        return process_whole(self, audio, sample_rate, reset=reset)

    def set_parameters(self, **changes: Any) -> None:
        """Queued in order with the audio: applies to the decisions made after the blocks sent so far.
        An unknown name fails here, on the caller's thread."""
        self.effect.parameters.changed(**changes)
        self._send(lambda effect: effect.set_parameters(**changes))

    def schedule(self, position: int, **changes: Any) -> None:
        """Automation on A's grid, as ``SidechainEffect.schedule``."""
        self.effect.parameters.changed(**changes)
        self._send(lambda effect: effect.schedule(position, **changes))

    def _send(self, command: Callable[[SidechainEffect], None]) -> None:
        with self._shared.condition:
            self._raise_failure()
            self._shared.inbox.append(command)
            self._shared.condition.notify_all()

    def close(self) -> None:
        """Stop the worker thread (also done when this object is garbage-collected)."""
        self._finalizer()
        self._thread.join()

    def __enter__(self) -> ThreadedSidechain:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

"""What the audio callback of ``countertrack live`` does, whatever the audio API: copy A's block from
the input buffers into the chain, copy B's block from it into the output buffers, and time itself.

The stream stays on the server's clock: stream sample n is the server's frame ``start_frame + n``,
so B always comes exactly ``latency_samples`` after A, even after an xrun. When the server skipped
this client for some cycles (the next call's frame time jumps ahead), the skipped frames are heard
as silence and their B is not played; when it calls again for frames already heard (a late call
catching up), that block plays silence and the chain is left alone.

The chain runs threaded (``AnswerChain(..., threaded=True)``): its ``process`` only queues A for the
worker thread and pops B from a FIFO, so the callback's own work is a few copies. Its timings go into
a fixed histogram (no allocation per block). A failure is kept and the callback plays silence from
then on; the main thread sees ``failed`` and stops with the error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from plugin_core.stream.contract import StreamingEffect

HISTOGRAM_BINS = 201  # 0..199 % of a block's duration, and one bin for 200 % or more
FRAME_WRAP = 1 << 32  # JACK's frame counter is 32 bits: it wraps after a day at 48 kHz


class BlockBridge:
    """The body of an audio callback around a streaming effect of ``channels`` channels."""

    def __init__(self, effect: StreamingEffect, channels: int, sample_rate: int):
        self.effect, self.channels, self.sample_rate = effect, channels, sample_rate
        self._block = np.zeros((channels, 0), dtype=np.float32)
        self.blocks = 0
        self.samples = 0
        self.start_frame: int | None = None  # the server's frame time of stream sample 0
        self.frames_filled = 0  # frames the server skipped, heard as silence to stay on its clock
        self.blocks_repeated = 0  # calls for frames already heard, played as silence
        self.max_share = 0.0
        self._histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        self.error: BaseException | None = None
        self.failed = threading.Event()

    def __call__(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], frame: int) -> None:
        """One block at the server's frame time ``frame``: ``inputs`` and ``outputs`` are one 1-D float32
        buffer per channel, all the same length."""
        started = time.perf_counter()
        frames = outputs[0].shape[0]
        if self.start_frame is None:
            self.start_frame = frame
        ahead = (frame - self.start_frame - self.samples + FRAME_WRAP // 2) % FRAME_WRAP - FRAME_WRAP // 2
        if self.error is not None or ahead < 0:
            self.blocks_repeated += self.error is None
            for out in outputs:
                out.fill(0.0)
            return
        try:
            if ahead:  # the server skipped this client: silence for those frames keeps the stream on its clock
                self.effect.process(np.zeros((self.channels, ahead), dtype=np.float32))
                self.frames_filled += ahead
                self.samples += ahead
            if self._block.shape[1] != frames:  # the first block, or the server changed its block size
                self._block = np.zeros((self.channels, frames), dtype=np.float32)
            for channel, buffer in enumerate(inputs):
                self._block[channel] = buffer
            answer = self.effect.process(self._block)
            for channel, out in enumerate(outputs):
                out[:] = answer[channel]
        except BaseException as exc:  # kept for the main thread; the callback must return
            self.error = exc
            self.failed.set()
            for out in outputs:
                out.fill(0.0)
            return
        self.blocks += 1
        self.samples += frames
        share = (time.perf_counter() - started) * self.sample_rate / frames
        self.max_share = max(self.max_share, share)
        self._histogram[min(int(share * 100), HISTOGRAM_BINS - 1)] += 1

    def percentile_share(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of the callback's time as a share of its block's duration, to 1 %."""
        total = int(self._histogram.sum())
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self._histogram), q / 100.0 * total))
        return min(index + 1, HISTOGRAM_BINS) / 100.0

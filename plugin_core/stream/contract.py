"""The streaming contract every effect of countertrack keeps, and the offline call built on it.

``SidechainEffect``, ``ThreadedSidechain`` and ``AnswerChain`` all take A block by block (any block
size: the output is the same samples), report a fixed latency, flush the rest at the end, reset to
start a new track, and take parameter changes by name between blocks or on A's grid. Like a
pedalboard plugin, each can also be called on a whole signal: ``effect(audio, sample_rate)``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from plugin_core.errors import AudioError, ConfigurationError


@runtime_checkable
class StreamingEffect(Protocol):
    """What a host needs to know (after neutone's and audiocraft's streaming modules)."""

    sample_rate: int
    channels: int
    latency_samples: int  # output sample n is the answer to input sample n - latency_samples

    def process(self, block: np.ndarray) -> np.ndarray:
        """A block of A shaped (channels, n) in, a block of B of the same shape out."""

    def flush(self) -> np.ndarray:
        """A has ended: the last ``latency_samples`` of B."""

    def reset(self) -> None:
        """Forget everything heard: the next block starts a new track."""

    def set_parameters(self, **changes: Any) -> None:
        """Change parameters by name between blocks; they apply to the decisions made next."""

    def schedule(self, position: int, **changes: Any) -> None:
        """Change parameters from the segment of A starting at or after ``position`` (samples)."""


def process_whole(
    effect: StreamingEffect, audio: np.ndarray, sample_rate: float, *, reset: bool = True, block_size: int = 1 << 16
) -> np.ndarray:
    """pedalboard's convention: B for the whole ``audio`` (1-D, or (channels, n)), the same shape,
    aligned with it (latency removed). ``reset=True`` starts a new track first and ends it after;
    ``reset=False`` continues the stream and returns the next ``n`` samples of it (latency included),
    as ``Plugin.process(..., reset=False)`` does."""
    if int(round(float(sample_rate))) != effect.sample_rate or float(sample_rate) != round(float(sample_rate)):
        raise ConfigurationError(f"this effect runs at {effect.sample_rate} Hz, not {sample_rate!r}; make another for that rate")
    signal = np.asarray(audio, dtype=np.float32)
    one_dimensional = signal.ndim == 1
    if one_dimensional:
        signal = signal[None, :]
    if signal.ndim != 2 or signal.shape[0] != effect.channels:
        raise AudioError(f"expected audio shaped ({effect.channels}, samples) or 1-D for mono, got {np.shape(audio)}")
    if reset:
        effect.reset()
    pieces = [effect.process(signal[:, start : start + block_size]) for start in range(0, signal.shape[1], block_size)]
    if reset:
        pieces.append(effect.flush())
        out = np.concatenate(pieces, axis=1)[:, effect.latency_samples : effect.latency_samples + signal.shape[1]]
        effect.reset()
    else:
        out = np.concatenate(pieces, axis=1) if pieces else signal[:, :0]
    return out[0] if one_dimensional else out

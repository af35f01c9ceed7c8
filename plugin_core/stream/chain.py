"""A DAW-style chain: pedalboard effects on A before perception, the sidechain effect, effects on B
after it, and a dry/wet mix with A delayed by the chain's latency.

pedalboard cannot host a Python stage inside a ``Pedalboard``, so the chain interleaves them itself
and keeps pedalboard's contract: processing block by block equals processing in one go.
pedalboard re-prepares its plugins (losing their state) when a call brings a larger block than
any before it, so the chain primes each board with one maximum-size block of silence and then
never hands it more than that at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pedalboard

from plugin_core.bundle.load import Bundle
from plugin_core.errors import ConfigurationError
from plugin_core.io.validation import check_stream_format
from plugin_core.perception.dsp import silence_non_finite
from plugin_core.perception.segmentation import with_tempo
from plugin_core.stream.contract import process_whole
from plugin_core.stream.delay import DelayLine
from plugin_core.stream.parameters import MIX_NAMES, Parameters
from plugin_core.stream.presets import MixLevels, Preset, build_effects, mix_levels
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain

EFFECT_BLOCK = 8192


def _primed(board: pedalboard.Pedalboard, sample_rate: int, channels: int) -> pedalboard.Pedalboard:
    if len(board):
        board.process(np.zeros((channels, EFFECT_BLOCK), dtype=np.float32), sample_rate, reset=True)
    return board


def _run_effects(board: pedalboard.Pedalboard, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``board`` over ``audio`` in pieces of at most EFFECT_BLOCK samples, keeping its state."""
    if not len(board) or audio.shape[1] == 0:
        return audio
    pieces = [board.process(audio[:, i : i + EFFECT_BLOCK], sample_rate, reset=False) for i in range(0, audio.shape[1], EFFECT_BLOCK)]
    return np.concatenate(pieces, axis=1)


class AnswerChain:
    """pre effects -> SidechainEffect -> post effects, mixed with dry A. ``latency_samples`` is the
    sidechain's (built-in pedalboard effects add none). ``threaded`` runs the sidechain on a worker
    thread (``ThreadedSidechain``) for live use, one segment later. ``bpm`` (and ``beat_offset_s``)
    lay a beat bundle's segments on A's tempo in a stream, where A's beats cannot be found ahead."""

    def __init__(
        self,
        bundle: Bundle,
        sample_rate: int,
        channels: int,
        *,
        preset: Preset | None = None,
        seed: int | None = None,
        boundaries: np.ndarray | None = None,
        threaded: bool = False,
        forced_tokens: np.ndarray | None = None,
        bpm: float | None = None,
        beat_offset_s: float = 0.0,
    ):
        self.sample_rate, self.channels = check_stream_format(sample_rate, channels)  # before any effect is prepared
        sampling, engine = bundle.sampling_defaults, bundle.engine_defaults
        levels = mix_levels(preset)
        self.wet, self.dry = levels.wet, levels.dry
        if preset is not None:
            sampling, engine = preset.sampling_config(sampling), preset.engine_config(engine)
        if seed is None:  # a seed given by the caller wins over the preset's; neither: 0
            seed = preset.seed if preset is not None and preset.seed is not None else 0
        self._preset_source = preset.source if preset is not None else None
        self.pre = _primed(build_effects(preset.pre, preset.source) if preset else pedalboard.Pedalboard([]), sample_rate, channels)
        self.post = _primed(build_effects(preset.post, preset.source) if preset else pedalboard.Pedalboard([]), sample_rate, channels)
        effect = SidechainEffect(
            bundle,
            sample_rate,
            channels,
            seed=seed,
            parameters=Parameters(sampling=sampling, engine=engine),
            boundaries=boundaries,
            forced_tokens=forced_tokens,
            segmentation=with_tempo(bundle.perception.spec.segmentation, bpm, beat_offset_s),
        )
        self.effect: SidechainEffect | ThreadedSidechain = ThreadedSidechain(effect) if threaded else effect
        self.latency_samples = self.effect.latency_samples
        self._dry_delay = DelayLine(channels, self.latency_samples)
        self.non_finite_samples = 0  # NaN or Inf input samples heard as silence since the last reset

    def __call__(self, audio: np.ndarray, sample_rate: float, *, reset: bool = True) -> np.ndarray:
        """pedalboard's offline call: the mixed output for the whole ``audio``, aligned with it."""
        return process_whole(self, audio, sample_rate, reset=reset)

    def set_parameters(self, **changes: Any) -> None:
        """``wet`` and ``dry`` (the mix, 0..2) here; every other name goes to the sidechain effect."""
        mix = {name: changes.pop(name) for name in MIX_NAMES if name in changes}
        levels = mix_levels(parameters=mix, base=MixLevels(self.wet, self.dry))  # checked before anything changes
        if changes:
            self.effect.set_parameters(**changes)
        self.wet, self.dry = levels.wet, levels.dry

    def schedule(self, position: int, **changes: Any) -> None:
        """Automation of the sidechain's parameters on A's grid (see ``SidechainEffect.schedule``)."""
        self.effect.schedule(position, **changes)

    def reset(self) -> None:
        self.non_finite_samples = 0
        self.effect.reset()
        _primed(self.pre, self.sample_rate, self.channels)
        _primed(self.post, self.sample_rate, self.channels)
        self._dry_delay.reset()

    def process(self, block: np.ndarray) -> np.ndarray:
        """A block (channels, n) in, the mixed output block (channels, n) out. NaN or Inf samples are
        silence here already, so neither the effects nor the dry path ever carry them into the output."""
        block, bad = silence_non_finite(block)
        self.non_finite_samples += bad
        key = self._effects(self.pre, block, "pre")
        wet = self.effect.process(key)
        return self._mix(block, wet)

    def flush(self) -> np.ndarray:
        """The last latency_samples of output after A has ended."""
        tail = self.effect.flush()
        return self._mix(np.zeros((self.channels, tail.shape[1]), dtype=np.float32), tail)

    def _effects(self, board: pedalboard.Pedalboard, audio: np.ndarray, where: str) -> np.ndarray:
        """``board`` over ``audio``; finite audio that comes out not finite is the preset's doing (an extreme parameter)."""
        out = _run_effects(board, audio, self.sample_rate)
        if len(board) and not np.isfinite(out).all() and np.isfinite(audio).all():
            raise ConfigurationError(
                f"the preset's {where} effects turn the audio into NaN or Inf samples; check their parameters", self._preset_source
            )
        return out

    def _mix(self, dry_in: np.ndarray, wet: np.ndarray) -> np.ndarray:
        wet = self._effects(self.post, wet, "post")
        dry = self._dry_delay.process(dry_in)
        return (self.wet * wet + self.dry * dry).astype(np.float32)

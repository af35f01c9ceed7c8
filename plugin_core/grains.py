"""The grain engine: choose a memory grain for each B token, and lay grains on A's grid.

Choosing (``GrainPicker``): first the grain that followed the previous pick in the memory, when it
carries the wanted label (continuity keeps real phrases whole, like Dicy2's factor-oracle
navigation in the paper), up to ``max_run`` grains in a row; otherwise a seeded draw among the
grains with that label that prefers a loudness close to A's and avoids grains heard recently. A
label the memory lacks is replaced by the nearest present label in codebook space.

Laying (``SeamWriter``): slot i of the output is A's segment i. Each output sample is written once:
the body of a slot when it is decided, the seam around a boundary when the slot after it is
decided. A seam between continued grains is the memory itself (no fade at all); any other seam is
an equal-power crossfade (sin / cos) of the outgoing grain's continuation and the incoming grain's
lead-in, so there are no gaps, no clicks and no level dips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from plugin_core.errors import CountertrackError
from plugin_core.memory import Memory


@dataclass(frozen=True)
class EngineConfig:
    """How grains are chosen and joined. Times in seconds, levels in dB."""

    crossfade_s: float = 0.04  # the paper's 40 ms range
    continuity: float = 1.0  # chance of taking the continuation when it carries the wanted label
    max_run: int = 16  # most grains played in a row from the memory before a jump is forced
    avoid_recent: int = 8  # grains picked in the last N slots are avoided when there is a choice
    loudness_match: float = 1.0  # weight of matching A's loudness when drawing a grain
    follow_loudness: float = 0.0  # 0..1: how far the output level follows A's level changes

    def __post_init__(self) -> None:
        if not 0.0 <= self.crossfade_s <= 0.5:
            raise CountertrackError(f"crossfade {self.crossfade_s} s is out of range 0..0.5 s")
        if not 0.0 <= self.continuity <= 1.0 or not 0.0 <= self.follow_loudness <= 1.0:
            raise CountertrackError("continuity and follow_loudness must be within 0..1")
        if self.max_run < 1 or self.avoid_recent < 0 or self.loudness_match < 0:
            raise CountertrackError("max_run must be at least 1; avoid_recent and loudness_match not negative")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nearest_present_labels(centroids: np.ndarray, present: np.ndarray) -> np.ndarray:
    """For every label, the present label whose centroid is nearest (itself when present)."""
    distances = ((centroids[:, None, :] - centroids[None, present, :]) ** 2).sum(axis=2)
    return present[np.argmin(distances, axis=1)]


@dataclass(frozen=True)
class Pick:
    grain: int
    label: int  # the label actually played (after substitution)
    continued: bool  # the grain follows the previous pick in the memory


class GrainPicker:
    """Seeded, stateful grain choice; one ``pick`` per output slot, in order."""

    def __init__(self, memory: Memory, centroids: np.ndarray, config: EngineConfig, seed: int):
        if len(memory.grains) == 0:
            raise CountertrackError("the memory holds no grains", memory.path)
        self.memory, self.config = memory, config
        self.substitute = nearest_present_labels(np.asarray(centroids, np.float32), memory.labels)
        self.rng = np.random.default_rng(seed)
        self.previous: int = -1
        self.run = 0
        self.recent: list[int] = []
        self.a_levels: list[float] = []
        self.memory_median_db = float(np.median(memory.grains.loudness_db))

    def pick(self, label: int, a_loudness_db: float) -> Pick:
        grains = self.memory.grains
        wanted = int(self.substitute[label])
        follower = int(self.memory.successor[self.previous]) if self.previous >= 0 else -1
        continued = (follower >= 0 and int(grains.label[follower]) == wanted and self.run < self.config.max_run
                     and self.rng.random() < self.config.continuity)
        if continued:
            choice = follower
            self.run += 1
        else:
            choice = self._draw(wanted, a_loudness_db)
            self.run = 1
        if a_loudness_db > -60.0:
            self.a_levels.append(a_loudness_db)
        self.previous = choice
        self.recent = (self.recent + [choice])[-max(1, self.config.avoid_recent):]
        return Pick(grain=choice, label=wanted, continued=continued)

    def target_db(self, a_loudness_db: float) -> float:
        """The memory level that corresponds to A's level now, relative to A's level so far."""
        if a_loudness_db <= -60.0 or not self.a_levels:
            return self.memory_median_db if a_loudness_db > -60.0 else float(self.memory.grains.loudness_db.min())
        return self.memory_median_db + (a_loudness_db - float(np.mean(self.a_levels)))

    def _draw(self, label: int, a_loudness_db: float) -> int:
        candidates = self.memory.by_label[label]
        levels = self.memory.grains.loudness_db[candidates]
        score = -self.config.loudness_match * np.abs(levels - self.target_db(a_loudness_db)) / 6.0
        if self.config.avoid_recent and candidates.size > 1:
            score = score - 4.0 * np.isin(candidates, self.recent)
        weights = np.exp(score - score.max())
        return int(candidates[self.rng.choice(candidates.size, p=weights / weights.sum())])


def seam_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power fade-out and fade-in of ``length`` samples: cos^2 + sin^2 = 1 at every sample."""
    theta = (np.arange(length, dtype=np.float64) + 0.5) / max(1, length) * (np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


@dataclass(frozen=True)
class Slot:
    """A decided output slot: where it sits on A's grid and where its audio starts in the memory."""

    start: int  # output samples
    stop: int
    source: int  # memory position (output rate) aligned with ``start``
    gain: float
    continued: bool


class SeamWriter:
    """Writes slots into an output buffer, each sample once, seams deferred to the next decision."""

    def __init__(self, memory: Memory, sample_rate: int, channels: int, crossfade_samples: int):
        self.memory, self.sample_rate, self.channels = memory, sample_rate, channels
        self.crossfade = crossfade_samples
        self.previous: Slot | None = None
        self.pending_half_seam = 0  # the seam size promised by the previous slot's body end

    def _read(self, start: int, stop: int) -> np.ndarray:
        audio = self.memory.read(start, stop, self.sample_rate)
        if audio.shape[0] == self.channels:
            return audio
        if audio.shape[0] == 1:
            return np.repeat(audio, self.channels, axis=0)
        return audio.mean(axis=0, keepdims=True).repeat(self.channels, axis=0)

    def half_seam(self, left_length: int, right_length: int) -> int:
        return min(self.crossfade, left_length, right_length) // 2

    def write(self, output: np.ndarray, offset: int, slot: Slot, next_length: int | None) -> None:
        """Write ``slot``'s leading seam (with the previous slot) and its body into ``output``
        (whose first sample is output position ``offset``). ``next_length`` is the following
        slot's length, or None when this slot is the last."""
        previous = self.previous
        length = slot.stop - slot.start
        head = self.pending_half_seam if previous else self.half_seam(length, length)
        tail = self.half_seam(length, next_length) if next_length is not None else 0
        if previous is None:
            lead = self._read(slot.source, slot.source + head)
            fade_in = seam_curves(head)[1]  # the track starts: fade in from silence
            self._put(output, offset, slot.start, lead * fade_in * slot.gain)
        else:
            seam_start = slot.start - head
            incoming = self._read(slot.source - head, slot.source + head)
            if slot.continued:
                ramp = np.linspace(previous.gain, slot.gain, 2 * head, dtype=np.float32) if previous.gain != slot.gain else np.float32(slot.gain)
                self._put(output, offset, seam_start, incoming * ramp)
            else:
                outgoing_source = previous.source + (previous.stop - previous.start)
                outgoing = self._read(outgoing_source - head, outgoing_source + head)
                fade_out, fade_in = seam_curves(2 * head)
                self._put(output, offset, seam_start, outgoing * fade_out * previous.gain + incoming * fade_in * slot.gain)
        body = self._read(slot.source + head, slot.source + length - tail)
        self._put(output, offset, slot.start + head, body * slot.gain)
        if next_length is None and tail == 0:
            self._fade_end(output, offset, slot)
        self.previous = slot
        self.pending_half_seam = tail

    def _fade_end(self, output: np.ndarray, offset: int, slot: Slot) -> None:
        """The last slot ends the track: fade its final samples out so the file ends without a click."""
        length = min(self.crossfade // 2, slot.stop - slot.start)
        if length:
            start = slot.stop - length - offset
            output[:, start : start + length] *= seam_curves(length)[0]

    @staticmethod
    def _put(output: np.ndarray, offset: int, position: int, audio: np.ndarray) -> None:
        start = position - offset
        if audio.shape[1] and start >= 0:
            output[:, start : start + audio.shape[1]] = audio
        elif audio.shape[1]:
            output[:, : audio.shape[1] + start] = audio[:, -start:]

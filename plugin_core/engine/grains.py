"""The grain engine: choose a memory grain for each B token, and lay grains on A's grid.

Choosing (``GrainPicker``): among the grains of the labels the decision would play (its nucleus,
each with its probability), each is scored by its label's probability, by how well it goes with A's
segment now (``Compatibility``, learned from the training pairs: which B
pitch classes and onset patterns sound with which A), how close its level is to A's, and whether
it was heard recently; the grain that followed the previous pick in the memory is kept (continuity
keeps real phrases whole, like Dicy2's factor-oracle navigation in the paper) unless a candidate
goes much better with A, up to ``max_run`` grains in a row. A label the memory lacks is replaced by
the nearest present label in codebook space. Draws are seeded.

Laying (``SeamWriter``): slot i of the output is A's segment i, and its grain starts where the slot
starts (a memory note lands on A's beat). A grain longer than its slot is cut at the next boundary;
a shorter one is time-stretched to fill it (``plugin_core.engine.stretch``: WSOLA, portable to the
bit), so A's tempo need not be the memory's. Each output sample is written once: the body of a slot when it is decided, the seam
before a boundary when the slot after it is decided. Seams end where slots start, so every grain's
attack sounds whole on A's beat, not half-faded. A seam inside an unbroken stretch of memory
is the memory itself; a seam between grains that continue each other but were cut or stretched is
a linear crossfade (the two sides are nearly the same sound); any other seam is an equal-power
crossfade (sin / cos) of the outgoing grain's continuation and the incoming grain's lead-in, so
there are no gaps, no clicks and no level dips.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from plugin_core.decision.rng import PortableRandom
from plugin_core.engine.compatibility import Compatibility
from plugin_core.engine.memory import Memory
from plugin_core.engine.stretch import stretch
from plugin_core.errors import BundleError, ConfigurationError
from plugin_core.perception.descriptors import SegmentDescriptor

ANTICIPATING_HARMONY = 16.0  # an anticipating bundle's harmony: its late look is where harmony comes from (chosen on validation songs)
STRETCH_TOLERANCE = 1.02  # a slot up to 2 % longer than its grain reads on into the memory instead
ATTACK_KEPT_S = 0.02  # a stretched grain keeps its first 20 ms as recorded (its attack)...
ATTACK_BLEND_S = 0.01  # ...then blends into the stretched rest over 10 ms


@dataclass(frozen=True)
class EngineConfig:
    """How grains are chosen and joined. Times in seconds, levels in dB."""

    crossfade_s: float = 0.04  # the paper's 40 ms range
    continuity: float = 1.0  # chance of taking the continuation when it carries the wanted label
    max_run: int = 16  # most grains played in a row from the memory before a jump is forced
    avoid_recent: int = 8  # grains picked in the last N slots are avoided when there is a choice
    loudness_match: float = 1.0  # weight of matching A's loudness when drawing a grain
    follow_loudness: float = 0.0  # 0..1: how far the output level follows A's level changes
    harmony: float = 8.0  # weight of the learned A/B compatibility when choosing a grain (0 = off); chosen on validation songs
    stretch: bool = True  # time-stretch a grain shorter than its slot (else read on into the memory)
    late_look_s: float = 0.06  # anticipating bundles: A's segment heard before the grain may change (0 = off); set before a stream starts

    def __post_init__(self) -> None:
        numbers = (self.crossfade_s, self.continuity, self.loudness_match, self.follow_loudness, self.harmony, self.late_look_s)
        if not all(np.isfinite(v) for v in numbers):
            raise ConfigurationError("engine settings must be finite numbers")
        if not 0.0 <= self.crossfade_s <= 0.5:
            raise ConfigurationError(f"crossfade {self.crossfade_s} s is out of range 0..0.5 s")
        if not 0.0 <= self.continuity <= 1.0 or not 0.0 <= self.follow_loudness <= 1.0:
            raise ConfigurationError("continuity and follow_loudness must be within 0..1")
        if self.max_run < 1 or self.avoid_recent < 0 or self.loudness_match < 0:
            raise ConfigurationError("max_run must be at least 1; avoid_recent and loudness_match not negative")
        if not 0.0 <= self.harmony <= 100.0:
            raise ConfigurationError(f"harmony {self.harmony} is out of range 0..100")
        if not 0.0 <= self.late_look_s <= 0.2:
            raise ConfigurationError(f"late look {self.late_look_s} s is out of range 0..0.2 s")

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
    draws: tuple[float, ...] = ()  # the uniforms this choice drew, in order (docs/bundle-format.md, step 5)


@dataclass(frozen=True)
class Moment:
    """What the picker hears of A at the slot it fills: its level and its descriptor."""

    level_db: float
    descriptor: SegmentDescriptor | None = None


class GrainPicker:
    """Seeded, stateful grain choice; one ``pick`` per output slot, in order."""

    CLASH = 1.0  # a continuation is dropped when a candidate goes this much better with A (weighted score)

    def __init__(self, memory: Memory, centroids: np.ndarray, config: EngineConfig, seed: int, compatibility: Compatibility | None = None):
        if len(memory.grains) == 0:
            raise BundleError("the memory holds no grains", memory.path)
        self.memory, self.config, self.compatibility = memory, config, compatibility
        self.substitute = nearest_present_labels(np.asarray(centroids, np.float32), memory.labels)
        self.rng = PortableRandom(seed)
        self.previous: int = -1
        self.run = 0
        self.recent: list[int] = []
        self.a_levels: list[float] = []
        self.memory_median_db = float(np.median(memory.grains.loudness_db))

    def pick(self, labels: np.ndarray | list[int] | int, moment: Moment | float, weights: np.ndarray | None = None) -> Pick:
        """A grain for the next slot among the grains of ``labels`` (the decision's candidates, with
        probabilities ``weights``; one label = that label): each scored by its label's log
        probability, its fit with A now, its level against A's and whether it was heard recently."""
        if not isinstance(moment, Moment):
            moment = Moment(level_db=float(moment))
        grains = self.memory.grains
        prior, candidates, log_prior = self._candidates(labels, weights)
        fit = self._fit(candidates, moment)
        follower = int(self.memory.successor[self.previous]) if self.previous >= 0 else -1
        draws: list[float] = []  # the uniforms this pick draws, in order (golden vectors list them)
        continued = False
        if follower >= 0 and int(grains.label[follower]) in prior and self.run < self.config.max_run:
            clash = float(fit.max() - fit[int(np.flatnonzero(candidates == follower)[0])])
            draws.append(self.rng.uniform())
            continued = draws[-1] < self.config.continuity and clash < self.CLASH
        if continued:
            choice = follower
            self.run += 1
        else:
            choice = self._draw(candidates, log_prior + fit, moment.level_db)
            draws.append(self.rng.last)
            self.run = 1
        if moment.level_db > -60.0:
            self.a_levels.append(moment.level_db)
        self.previous = choice
        self.recent = (self.recent + [choice])[-max(1, self.config.avoid_recent) :]
        return Pick(grain=choice, label=int(grains.label[choice]), continued=continued, draws=tuple(draws))

    def look_again(self, sounding: Pick, moment: Moment, labels: np.ndarray | list[int] | int, weights: np.ndarray | None = None) -> Pick:
        """A late look (anticipating mode): ``sounding`` was picked among ``labels`` (with ``weights``)
        before A's segment was heard; now that its start is (``moment``), it plays on unless a grain of
        those labels goes much better with A (as ``pick`` drops a continuation), then drawn as ``pick`` draws."""
        _, candidates, log_prior = self._candidates(labels, weights)
        fit = self._fit(candidates, moment)
        kept = Pick(grain=sounding.grain, label=sounding.label, continued=True)
        at = np.flatnonzero(candidates == sounding.grain)
        if candidates.size < 2 or at.size == 0 or float(fit.max() - fit[int(at[0])]) < self.CLASH:
            return kept
        choice = self._draw(candidates, log_prior + fit, moment.level_db)
        if choice == sounding.grain:
            return Pick(grain=sounding.grain, label=sounding.label, continued=True, draws=(self.rng.last,))
        self.previous, self.run = choice, 1
        self.recent = (self.recent[:-1] + [choice])[-max(1, self.config.avoid_recent) :]
        return Pick(grain=choice, label=int(self.memory.grains.label[choice]), continued=False, draws=(self.rng.last,))

    def _candidates(
        self, labels: np.ndarray | list[int] | int, weights: np.ndarray | None
    ) -> tuple[dict[int, float], np.ndarray, np.ndarray]:
        """The labels to play (a label the memory lacks plays its nearest present one) with their
        summed weights, their grains, and each grain's log weight."""
        labels = np.atleast_1d(np.asarray(labels, dtype=np.int64))
        weights = np.full(labels.size, 1.0 / labels.size) if weights is None else np.asarray(weights, dtype=np.float64)
        prior: dict[int, float] = {}
        for label, weight in zip(self.substitute[labels], weights):
            prior[int(label)] = prior.get(int(label), 0.0) + float(weight)
        candidates = np.concatenate([self.memory.by_label[label] for label in prior])
        log_prior = np.concatenate(
            [np.full(self.memory.by_label[label].size, np.log(max(weight, 1e-12))) for label, weight in prior.items()]
        )
        return prior, candidates, log_prior

    def target_db(self, a_loudness_db: float) -> float:
        """The memory level that corresponds to A's level now, relative to A's level so far."""
        if a_loudness_db <= -60.0 or not self.a_levels:
            return self.memory_median_db if a_loudness_db > -60.0 else float(self.memory.grains.loudness_db.min())
        return self.memory_median_db + (a_loudness_db - float(np.mean(self.a_levels)))

    def _fit(self, candidates: np.ndarray, moment: Moment) -> np.ndarray:
        """How well each candidate goes with A now: the learned compatibility, weighted by ``harmony``."""
        if self.compatibility is None or moment.descriptor is None or self.config.harmony == 0.0:
            return np.zeros(candidates.size)
        grains = self.memory.grains
        return self.config.harmony * self.compatibility.score(
            moment.descriptor, grains.pitch_classes[candidates], grains.onsets[candidates]
        )

    def _draw(self, candidates: np.ndarray, score: np.ndarray, a_loudness_db: float) -> int:
        levels = self.memory.grains.loudness_db[candidates]
        score = score - self.config.loudness_match * np.abs(levels - self.target_db(a_loudness_db)) / 6.0
        if self.config.avoid_recent and candidates.size > 1:
            score = score - 4.0 * np.isin(candidates, self.recent)
        return int(candidates[self.rng.pick(np.exp(score - score.max()))])


def seam_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power fade-out and fade-in of ``length`` samples: cos^2 + sin^2 = 1 at every sample."""
    theta = (np.arange(length, dtype=np.float64) + 0.5) / max(1, length) * (np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def linear_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-gain fade-out and fade-in (they sum to 1): for two sides that are nearly the same sound."""
    ramp = ((np.arange(length, dtype=np.float64) + 0.5) / max(1, length)).astype(np.float32)
    return 1.0 - ramp, ramp


@dataclass(frozen=True)
class Slot:
    """A decided output slot: where it sits on A's grid and what of the memory plays in it.

    A grain is laid over a *take* of ``take`` output samples from ``start - lead`` (its segment, or
    ``stop - start`` when 0) and a slot plays part of it: all of it, or with a late look, the part from
    ``lead`` on (``plugin_core.stream.sidechain``): slots of one take read one stretch of the memory."""

    start: int  # output samples
    stop: int
    source: int  # memory position (output rate) of the grain's start, aligned with the take's start
    gain: float
    continued: bool
    ratio: float = 1.0  # memory samples per output sample: 1 reads the memory as it is, < 1 stretches it
    lead: int = 0  # output samples from the take's start to this slot's start
    take: int = 0  # output samples the grain is laid over from the take's start (0: this slot's length)

    @property
    def anchor(self) -> int:
        """Output position where the grain's start sits."""
        return self.start - self.lead

    @property
    def take_length(self) -> int:
        return self.take or self.stop - self.start

    def seam_room(self, side: str) -> int:
        """The length a seam on this slot's ``side`` ("start" or "end") is measured against: its take's,
        where the take starts (or ends) with it, else its own. Seams at A's boundaries are then those
        of the whole take, whether a late look split it or not."""
        whole = self.lead == 0 if side == "start" else self.lead + self.stop - self.start == self.take_length
        return self.take_length if whole else self.stop - self.start

    def same_take(self, previous: Slot) -> bool:
        """Whether this slot plays on the grain ``previous`` laid, from where it stopped."""
        return (
            self.continued
            and self.source == previous.source
            and self.anchor == previous.anchor
            and self.ratio == previous.ratio
            and self.take_length == previous.take_length
            and self.start == previous.stop
        )

    def continues_memory_of(self, previous: Slot) -> bool:
        """Whether this slot plays the memory from where ``previous``'s grain ended (stretched or not)."""
        previous_end = previous.source + int(round((previous.stop - previous.anchor) * previous.ratio))
        return self.continued and abs(self.source + int(round(self.lead * self.ratio)) - previous_end) <= 2

    def follows_directly(self, previous: Slot) -> bool:
        """Whether this slot's audio is the memory (or the take) right after ``previous``'s: no seam at all."""
        if self.same_take(previous):
            return True
        return (
            self.continued
            and self.ratio == 1.0
            and previous.ratio == 1.0
            and self.source + self.lead == previous.source + previous.lead + (previous.stop - previous.start)
        )


def stretch_ratio(grain_samples: int, slot_samples: int, enabled: bool = True) -> float:
    """Memory samples per output sample for a grain in a slot: 1 unless the slot is longer than the
    grain by more than STRETCH_TOLERANCE (a longer grain is cut at the slot's end instead)."""
    if not enabled or slot_samples <= grain_samples * STRETCH_TOLERANCE:
        return 1.0
    return grain_samples / slot_samples


class SeamWriter:
    """Writes slots into an output buffer, each sample once, seams deferred to the next decision."""

    GUARD = 2048  # output samples stretched beyond what a slot needs, away from the stretcher's edges
    LIBRARY_BYTES = 16 << 20  # stretched takes kept for reuse

    def __init__(self, memory: Memory, sample_rate: int, channels: int, crossfade_samples: int):
        self.memory, self.sample_rate, self.channels = memory, sample_rate, channels
        self.crossfade = crossfade_samples
        self.previous: Slot | None = None
        self.pending_seam = 0  # the seam the previous slot's body left before this slot's start
        self._stretched: OrderedDict[tuple, tuple[int, np.ndarray]] = OrderedDict()  # (margin, audio) per take
        # a grain stretched to a slot length once is the same audio whenever it comes back at that length
        self._library: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._library_bytes = 0

    def _read(self, start: int, stop: int) -> np.ndarray:
        audio = self.memory.read(start, stop, self.sample_rate)
        if audio.shape[0] == self.channels:
            return audio
        if audio.shape[0] == 1:
            return np.repeat(audio, self.channels, axis=0)
        return audio.mean(axis=0, keepdims=True).repeat(self.channels, axis=0)

    def slot_audio(self, slot: Slot, first: int, last: int) -> np.ndarray:
        """Output positions ``slot.start + first`` .. ``slot.start + last`` of the slot's audio
        (negative ``first``: the grain's lead-in; ``last`` past its length: its continuation), before
        gain and seams. Public so an arrangement can hand a DAW the engine's own stretched audio."""
        first, last = first + slot.lead, last + slot.lead  # from the take's start
        if slot.ratio == 1.0:
            return self._read(slot.source + first, slot.source + last)
        take = (slot.source, slot.anchor, slot.take_length, slot.ratio)
        cached = self._stretched.get(take)
        length = slot.take_length
        if cached is None or -first > cached[0] or last - length > cached[0]:  # outside what was stretched
            # stretched with the margin it was first read with: a seam read later (after the crossfade
            # was automated) indexes that same audio, and a wider read stretches it again, wider
            margin = max(self.crossfade, -first, last - length, cached[0] if cached else 0) + self.GUARD
            cached = (margin, self._stretched_take(slot, margin))
            self._stretched[take] = cached
            while len(self._stretched) > 4:  # a take is read by its slots' writes and the next one's
                self._stretched.popitem(last=False)
        margin, stretched = cached
        return stretched[:, margin + first : margin + last]

    def _stretched_take(self, slot: Slot, margin: int) -> np.ndarray:
        """``_stretch``, kept for the grain's next take of the same length (it depends on nothing else):
        up to LIBRARY_BYTES of them, the least recently used dropped first."""
        key = (slot.source, slot.take_length, slot.ratio, margin)
        audio = self._library.get(key)
        if audio is not None:
            self._library.move_to_end(key)
            return audio
        audio = self._stretch(slot, margin)
        audio.flags.writeable = False  # shared by every take that reads it
        self._library[key] = audio
        self._library_bytes += audio.nbytes
        while self._library_bytes > self.LIBRARY_BYTES and self._library:
            self._library_bytes -= self._library.popitem(last=False)[1].nbytes
        return audio

    def _stretch(self, slot: Slot, margin: int) -> np.ndarray:
        """The slot's grain time-stretched over its take, ``margin`` output samples beyond each end."""
        length = slot.take_length + 2 * margin
        source_start = slot.source - int(round(margin * slot.ratio))  # the take's start, less the margin
        stretched = stretch(self._read, source_start, slot.ratio, length, self.sample_rate)
        # the attack as recorded (a stretcher smears it), then a short linear blend into the stretched body
        # (both cut at the take's end: a take shorter than the attack is the memory as recorded)
        attack = min(int(round(ATTACK_KEPT_S * self.sample_rate)), length - margin)
        blend = min(max(1, int(round(ATTACK_BLEND_S * self.sample_rate))), length - margin - attack)
        recorded = self._read(slot.source - margin, slot.source + attack + blend)
        stretched[:, : margin + attack] = recorded[:, : margin + attack]
        if blend > 0:
            fade_out, fade_in = linear_curves(blend)
            stretched[:, margin + attack : margin + attack + blend] = (
                recorded[:, margin + attack :] * fade_out + stretched[:, margin + attack : margin + attack + blend] * fade_in
            )
        return stretched

    def seam(self, left_length: int, right_length: int) -> int:
        """Samples of crossfade before a boundary: the crossfade, at most half of either slot."""
        return min(self.crossfade, left_length // 2, right_length // 2)

    def write(self, output: np.ndarray, offset: int, slot: Slot, next_length: int | None) -> None:
        """Write the seam before ``slot`` (with the previous slot) and ``slot``'s body into ``output``
        (whose first sample is output position ``offset``). ``next_length`` is the following slot's
        ``seam_room("start")``, or None when this slot is the last. Seams end where a slot starts, so
        the grain's first note sounds at full level exactly on A's boundary."""
        previous = self.previous
        length = slot.stop - slot.start
        tail = self.seam(slot.seam_room("end"), next_length) if next_length is not None else 0
        body_start = 0
        if previous is None:
            body_start = min(self.crossfade // 2, length - tail)  # the track starts: fade in from silence
            self._put(output, offset, slot.start, self.slot_audio(slot, 0, body_start) * seam_curves(body_start)[1] * slot.gain)
        elif self.pending_seam:
            seam = self.pending_seam
            incoming = self.slot_audio(slot, -seam, 0)
            if slot.follows_directly(previous):
                ramp = (
                    np.linspace(previous.gain, slot.gain, seam, dtype=np.float32) if previous.gain != slot.gain else np.float32(slot.gain)
                )
                self._put(output, offset, slot.start - seam, incoming * ramp)
            else:
                previous_length = previous.stop - previous.start
                outgoing = self.slot_audio(previous, previous_length - seam, previous_length)
                fade_out, fade_in = (linear_curves if slot.continues_memory_of(previous) else seam_curves)(seam)
                self._put(output, offset, slot.start - seam, outgoing * fade_out * previous.gain + incoming * fade_in * slot.gain)
        body = self.slot_audio(slot, body_start, length - tail)
        self._put(output, offset, slot.start + body_start, body * slot.gain)
        if next_length is None:
            self._fade_end(output, offset, slot)
        self.previous = slot
        self.pending_seam = tail

    def finish(self, output: np.ndarray, offset: int) -> None:
        """No slot follows the last one written after all: write the tail it left for a seam, as
        ``write`` with ``next_length=None`` would have, and fade its end."""
        slot, tail = self.previous, self.pending_seam
        if slot is None or not tail:
            return
        length = slot.stop - slot.start
        self._put(output, offset, slot.stop - tail, self.slot_audio(slot, length - tail, length) * slot.gain)
        self._fade_end(output, offset, slot)
        self.pending_seam = 0

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

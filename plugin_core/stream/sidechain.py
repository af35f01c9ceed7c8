"""The sidechain effect: A (the key input) in, block by block at any block size; B out, a fixed,
reported latency later.

Segments of A are labelled (and described: pitch, onsets) as soon as they and their analysis
window are in, each B token is decided once the lookahead's A segments are labelled, and grains are
laid with ``SeamWriter``, which writes every output sample exactly once. The latency is derived from
that schedule (``plugin_core.stream.schedule``). Nothing depends on how the input was cut into blocks, so
the output is the same for every block size, and an offline render is this same object fed the
whole file and flushed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from plugin_core.bundle.load import Bundle
from plugin_core.decision.sampling import allowed_mask, nucleus
from plugin_core.decision.session import DecisionState, decode_step
from plugin_core.engine.grains import GrainPicker, Moment, Pick, SeamWriter, Slot, seam_curves, stretch_ratio
from plugin_core.errors import AudioError, CountertrackError, InternalError
from plugin_core.io.validation import check_stream_format
from plugin_core.perception.descriptors import PREROLL_S, describe_piece
from plugin_core.perception.dsp import rms_db, silence_non_finite
from plugin_core.perception.labeller import segment_at_encoder_rate
from plugin_core.perception.segmentation import SegmentationConfig, make_grid, open_grid
from plugin_core.perception.side_by_side import side_by_side
from plugin_core.stream.contract import process_whole
from plugin_core.stream.parameters import AutomationEvent, Parameters
from plugin_core.stream.schedule import ANTICIPATING_LEAD, Schedule

SEGMENTS_AT_ONCE = 4  # per perception thread: segments prepared and labelled together (bounds their copies)


class _Timeline:
    """A growing (channels, samples) buffer addressed by absolute sample position; appends are
    amortised O(1) (capacity doubles) and samples no longer needed can be dropped."""

    def __init__(self, channels: int):
        self._buffer = np.zeros((channels, 1 << 12), dtype=np.float32)
        self._length = 0
        self.origin = 0

    @property
    def end(self) -> int:
        return self.origin + self._length

    @property
    def data(self) -> np.ndarray:
        return self._buffer[:, : self._length]

    def _reserve(self, length: int) -> None:
        if length > self._buffer.shape[1]:
            grown = np.zeros((self._buffer.shape[0], max(length, 2 * self._buffer.shape[1])), dtype=np.float32)
            grown[:, : self._length] = self._buffer[:, : self._length]
            self._buffer = grown

    def append(self, block: np.ndarray) -> None:
        self._reserve(self._length + block.shape[1])
        self._buffer[:, self._length : self._length + block.shape[1]] = block
        self._length += block.shape[1]

    def extend_to(self, end: int) -> None:
        if end > self.end:
            self._reserve(end - self.origin)
            self._buffer[:, self._length : end - self.origin] = 0.0
            self._length = end - self.origin

    def view(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((self._buffer.shape[0], stop - start), dtype=np.float32)
        lo, hi = max(start, self.origin), min(stop, self.end)
        if hi > lo:
            out[:, lo - start : hi - start] = self._buffer[:, lo - self.origin : hi - self.origin]
        return out

    def drop_before(self, position: int) -> None:
        cut = min(max(0, position - self.origin), self._length)
        if cut > self._length // 2 and cut > 1 << 16:  # amortise the copy
            keep = self._length - cut
            self._buffer[:, :keep] = self._buffer[:, cut : self._length].copy()
            self._length = keep
            self.origin += cut


@dataclass(frozen=True)
class Decision:
    """What was played in one output slot (A's segment ``segment``), and why."""

    segment: int
    start: int  # output samples
    stop: int
    a_token: int  # the A token the choice heard: this segment's, or the one before when anticipating (-1: none yet)
    b_token: int  # the decision model's (or the forced) token
    played_label: int  # after substituting a label the memory lacks
    grain: int
    continued: bool  # the grain follows the previous one in the memory
    gain: float
    ratio: float  # memory samples per output sample (1 = as recorded, < 1 = stretched)
    pitch_midi: float  # the grain's pitch (MIDI note number), -1 when unpitched
    level_db: float  # the grain's level in the memory, before ``gain``
    crossfade: int = 0  # the engine's crossfade F (output samples) when this slot was laid (automation may shorten it)
    lead: int = 0  # a late look's slot: output samples from the segment's start (where the grain is laid) to this slot's
    take: int = 0  # output samples the grain is laid over from the segment's start (0: this slot's length)
    draws: tuple[float, ...] = ()  # the uniforms the grain choice drew for this slot, in order

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _LateLook:
    """An anticipated slot laid before its A segment was heard, waiting to hear the segment's start."""

    due: int  # the A position at which the look is taken: the segment's start + the late look
    slot: Slot  # the slot laid on the segment's start...
    decision: Decision  # ...and its record (segment, grain, label)
    labels: np.ndarray  # the labels the pick was made among (the nucleus, or the forced label) ...
    weights: np.ndarray | None  # ... and their probabilities


class SidechainEffect:
    """Feed A with ``process(block)``; get B blocks of the same size, ``latency_samples`` late.

    ``boundaries`` (a full grid of the whole A) is for offline use; without it the grid is built as
    the stream goes, which needs a strategy whose grid is known ahead (uniform or beats from a BPM).
    """

    def __init__(
        self,
        bundle: Bundle,
        sample_rate: int,
        channels: int,
        *,
        seed: int = 0,
        parameters: Parameters | None = None,
        boundaries: np.ndarray | None = None,
        allowed_labels: np.ndarray | None = None,
        forced_tokens: np.ndarray | None = None,
        segmentation: SegmentationConfig | None = None,
    ):
        sample_rate, channels = check_stream_format(sample_rate, channels)
        self.bundle, self.sample_rate, self.channels, self.seed = bundle, int(sample_rate), int(channels), int(seed)
        self.parameters = parameters or Parameters(sampling=bundle.sampling_defaults, engine=bundle.engine_defaults)
        self._base_parameters = self.parameters  # what a reset returns to: automation applies within one stream
        self.segmentation = segmentation or bundle.perception.spec.segmentation  # e.g. the bundle's beats at a given bpm
        self._fixed_grid = None if boundaries is None else np.asarray(boundaries, dtype=np.int64)
        needs_whole_track = (
            self.segmentation.strategy == "onsets"
            or bool(self.segmentation.tempo_map)
            or (self.segmentation.strategy == "beats" and self.segmentation.bpm is None)
        )
        if self._fixed_grid is None and needs_whole_track:
            raise CountertrackError(
                f"{self.segmentation.strategy} segmentation from the audio or a tempo map needs the whole track: "
                "render offline, or give a tempo (bpm)"
            )
        allowed = allowed_labels if allowed_labels is not None else bundle.memory.labels
        self._mask = allowed_mask(bundle.decision_config.vocab_size, allowed)  # labels the memory can play
        self._forced = None if forced_tokens is None else np.asarray(forced_tokens, dtype=np.int64)
        # slot i is decided once segments up to i + lead are labelled: -1 for an anticipating model
        self._anticipates = bundle.decision_config.anticipates
        self._lead = ANTICIPATING_LEAD if self._anticipates else max(bundle.decision_config.lookahead, 1)
        self.crossfade_samples = int(round(self.parameters.engine.crossfade_s * self.sample_rate)) // 2 * 2
        window = self.segmentation.window_s
        self._window_samples = None if window is None else int(round(window * self.sample_rate))
        self._preroll = int(round(PREROLL_S * self.sample_rate))
        self.schedule_plan = Schedule.plan(
            self._fixed_grid,
            self.segmentation,
            self.sample_rate,
            lead=self._lead,
            window_samples=self._window_samples,
            crossfade_samples=self.crossfade_samples,
        )
        self.nominal_segment_samples = self.schedule_plan.longest_segment
        self._margin = self.schedule_plan.margin
        self.latency_samples = self.schedule_plan.latency_samples
        self._describe = bundle.compatibility is not None
        bundle.memory.prepare(self.sample_rate)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard: the next block starts a new track, with the parameters last set
        by ``set_parameters`` (automation replays from its start, as a DAW's does)."""
        self.parameters = self._base_parameters
        self._input = _Timeline(self.channels)
        self._output = _Timeline(self.channels)
        self._received = 0
        self._finished = False
        self._emitted = -self.latency_samples  # output position of the next sample to return
        self._grid: list[int] = [0]
        self._tokens: list[int] = []
        self._moments: list[Moment] = []
        self._state = DecisionState(self.bundle.decision_config)
        self._picker = GrainPicker(
            self.bundle.memory, self.bundle.response_centroids, self.parameters.engine, self.seed, self.bundle.compatibility
        )
        self._writer = SeamWriter(self.bundle.memory, self.sample_rate, self.channels, self.crossfade_samples)
        self._writer.crossfade = self._usable_crossfade()
        self._slots: list[Slot] = []
        self._decided = 0  # segments whose (first) slot is laid
        self._late_hearing, self._late_samples = self._late_look_samples()
        self._late: _LateLook | None = None
        self._final = 0  # output samples before this position are written for good
        self._next_event = 0  # received count at which _advance has something to do
        self.decisions: list[Decision] = []
        self.non_finite_samples = 0  # NaN or Inf input samples heard as silence since the last reset
        self._schedule: list[AutomationEvent] = getattr(self, "_schedule", [])
        self._automation = list(self._schedule)  # what is still to apply in this stream

    def __call__(self, audio: np.ndarray, sample_rate: float, *, reset: bool = True) -> np.ndarray:
        """pedalboard's offline call: B for the whole ``audio`` (1-D or (channels, n)), aligned with it."""
        return process_whole(self, audio, sample_rate, reset=reset)

    def set_parameters(self, **changes: Any) -> None:
        """Change parameters by name between blocks (``temperature=1.4``, ``harmony=8``, see
        ``plugin_core.stream.parameters``); they apply to the decisions made next, and after a reset."""
        self._base_parameters = self._base_parameters.changed(**changes)
        self._apply(changes)

    def _apply(self, changes: dict[str, Any]) -> None:
        """Change the parameters of this stream only (automation)."""
        self.parameters = self.parameters.changed(**changes)
        self._picker.config = self.parameters.engine
        self._writer.crossfade = self._usable_crossfade()
        if not self._decided:  # the late look is fixed once a stream has laid its first slot
            self._late_hearing, self._late_samples = self._late_look_samples()

    def _late_look_samples(self) -> tuple[int, int]:
        """Anticipating, with a compatibility table: the grain laid on a segment's start is looked at
        again once ``hearing`` samples of A's segment are in, and may change from a second slot on,
        ``boundary`` samples in. The latency lets the change be heard before it is decided: the seam
        before the boundary starts ``boundary - seam`` in and leaves the output ``latency`` later, so
        the smallest boundary with ``boundary - seam + latency >= hearing`` is taken (0: no split).
        Fixed for a stream (from its first slot to a reset): the slot lengths ahead must be known
        when a seam is laid."""
        if not (self._anticipates and self._describe and self.parameters.engine.harmony > 0):
            return 0, 0
        hearing = int(round(self.parameters.engine.late_look_s * self.sample_rate))
        beyond = hearing - self.crossfade_samples  # how far past the latency the look hears
        if beyond <= 0:
            return 0, 0
        seam = min(beyond, self.crossfade_samples)  # the seam before the boundary (at most half of it)
        return hearing, beyond + seam

    def _usable_crossfade(self) -> int:
        """The crossfade asked for, but never longer than the one the latency was set for (that
        would need output already sent)."""
        wanted = int(round(self.parameters.engine.crossfade_s * self.sample_rate)) // 2 * 2
        return min(wanted, self.crossfade_samples)

    def schedule(self, position: int, **changes: Any) -> None:
        """Automation: from the segment starting at or after ``position`` (samples of A), set these
        parameters. Timed by A's grid, so it is the same for any block size."""
        self.parameters.changed(**changes)  # an unknown name fails now, not mid-stream
        self._schedule.append(AutomationEvent(int(position), dict(changes)))
        self._schedule.sort(key=lambda event: event.position)
        self._automation = [event for event in self._schedule if not self._decided or event.position > self._grid[self._decided - 1]]

    # ---- the stream ------------------------------------------------------------------------
    def process(self, block: np.ndarray) -> np.ndarray:
        """One block of A (channels, n) in, one block of B (channels, n) out. NaN or Inf samples are
        heard as silence and counted in ``non_finite_samples``."""
        block, bad = silence_non_finite(block)
        self.non_finite_samples += bad
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise AudioError(f"expected a block shaped ({self.channels}, samples), got {block.shape}")
        if self._finished:
            raise CountertrackError("the stream has been flushed; call reset() to start a new one")
        self._input.append(block)
        self._received += block.shape[1]
        self._advance()
        return self._emit(block.shape[1])

    def flush(self) -> np.ndarray:
        """End of A: decide what is left and return the remaining latency_samples of output."""
        self._finished = True
        self._advance()
        return self._emit(self.latency_samples)

    # ---- internals -------------------------------------------------------------------------
    def _stable_boundaries(self) -> list[int]:
        """Grid boundaries that no later audio can move."""
        if self._fixed_grid is not None:
            limit = self._received if not self._finished else self._fixed_grid[-1]
            ahead = 2 if self._anticipates else 0  # an anticipated slot is laid before A reaches its end
            return self._fixed_grid[: max(1, int(np.searchsorted(self._fixed_grid, limit, side="right")) + ahead)].tolist()
        if self._finished and self._anticipates:
            return [int(b) for b in open_grid(self._received, self.sample_rate, self.segmentation)]
        if self._finished:
            return [int(b) for b in make_grid(self._received, self.sample_rate, self.segmentation)]
        horizon = self._received + 4 * self.nominal_segment_samples
        grid = make_grid(horizon, self.sample_rate, self.segmentation, merge_tail=not self._anticipates)
        if self._anticipates:  # the grid ahead of A is final: it has no end-of-track merge
            return [0] + [int(b) for b in grid[1:-1]]
        return [0] + [int(b) for b in grid[1:-1] if b + self._margin <= self._received]

    def _advance(self) -> None:
        if self._received == 0 or (not self._finished and self._received < self._next_event):
            return
        self._grid = self._stable_boundaries()
        segments = len(self._grid) - 1
        heard: list[tuple[int, int, int, int]] = []  # every segment A has now completed: (first, end, start, stop)
        for j in range(len(self._tokens), segments):
            start, stop = self._grid[j], self._grid[j + 1]
            needed = stop if self._window_samples is None else max(stop, start + self._window_samples)
            if not self._finished and self._received < needed:
                self._next_event = needed
                break
            first = max(0, start - self._preroll)
            heard.append((first, max(stop, min(needed, self._received)), start, stop))
        else:
            self._next_event = self._next_boundary_event()
        # side by side: a whole file arrives in large blocks; a few at a time, so the copies they need stay
        # small however many segments a block completes (short hops under a long analysis window)
        chunk = SEGMENTS_AT_ONCE * self.bundle.perception.threads
        for offset in range(0, len(heard), chunk):
            prepared = side_by_side(self._prepare, heard[offset : offset + chunk], self.bundle.perception.threads)
            tokens, _ = self.bundle.perception.label_segments([at_rate for at_rate, _ in prepared])
            self._tokens.extend(int(token) for token in tokens)
            self._moments.extend(moment for _, moment in prepared)
        decidable = segments if self._finished else min(segments, len(self._tokens) - self._lead)
        if self._anticipates:  # only slots whose start A has reached (a slot starting where A ends included)
            decidable = min(decidable, int(np.searchsorted(self._grid, self._received, side="right")))
        while True:  # in A's order: a slot, its late look (if any), the next slot
            if self._late is not None:
                if not self._finished and self._received < self._late.due:
                    self._next_event = min(self._next_event, self._late.due)
                    break
                self._look_again(self._late)
            elif self._decided < decidable:
                self._decide(self._decided)
            else:
                break
        if self._anticipates and self._decided < segments:  # the next slot is due when A reaches its start
            self._next_event = min(self._next_event, self._grid[self._decided])
        if self._anticipates and self._finished:
            self._end_anticipated()
        # keep A from the first segment not yet labelled (with its pre-roll)
        first_unlabelled = self._grid[len(self._tokens)] if len(self._tokens) < len(self._grid) else self._received
        self._input.drop_before(first_unlabelled - self._preroll)

    def _prepare(self, heard: tuple[int, int, int, int]) -> tuple[np.ndarray, Moment]:
        """A completed segment (A from ``first`` to ``end`` holds its pre-roll, the segment from ``start``
        to ``stop`` and its analysis window) at the encoder's rate, and what the grain choice hears of it."""
        first, end, start, stop = heard
        mono = self._input.view(first, end).mean(axis=0)
        start, stop = start - first, stop - first
        at_rate = segment_at_encoder_rate(mono, self.sample_rate, start, stop, self.bundle.perception.spec)
        return at_rate, self._hear(mono, start, stop)

    def _hear(self, mono: np.ndarray, start: int, stop: int) -> Moment:
        """What the grain choice hears of ``mono[start:stop]`` (read with the pre-roll before it):
        its level, and its descriptor when the bundle has a compatibility table."""
        descriptor = describe_piece(mono, self.sample_rate, start, stop) if self._describe else None
        return Moment(level_db=rms_db(mono[start:stop]), descriptor=descriptor)

    def _next_boundary_event(self) -> int:
        """The received count at which the next grid boundary becomes stable."""
        last = self._grid[-1]
        if self._fixed_grid is not None:
            later = self._fixed_grid[self._fixed_grid > last]
            return int(later[0]) if later.size else 1 << 62
        horizon = make_grid(last + 4 * self.nominal_segment_samples, self.sample_rate, self.segmentation)
        later = horizon[horizon > last]
        return int(later[0]) + self._margin if later.size else last + self._margin

    def _decide(self, i: int) -> None:
        start = self._grid[i]
        while self._automation and self._automation[0].position <= start:
            self._apply(self._automation.pop(0).changes)
        parameters = self.parameters
        mask = self._mask
        heard = i - 1 if self._anticipates else i  # the A segment the choice hears (the one before, when anticipating)
        moment = self._moments[heard] if heard >= 0 else Moment(level_db=-120.0)
        if self._forced is not None:  # the oracle: the true B's token, its grain chosen as always
            label = int(self._forced[i]) if i < self._forced.size else int(self._forced[-1])
            pick = self._picker.pick(label, moment)
            among: tuple[np.ndarray, np.ndarray | None] = (np.array([label]), None)
        else:  # the grain is chosen among the nucleus's labels; what is played becomes B's history
            picked: list[tuple[Pick, np.ndarray, np.ndarray]] = []

            def play(logits: np.ndarray) -> int:
                labels, probabilities = nucleus(logits, parameters.sampling, mask)
                pick = self._picker.pick(labels, moment, probabilities)
                if self._anticipates and not parameters.sampling.greedy:
                    # a late look weighs every label the memory holds by the decision's probability: the
                    # labels that fit the A it will hear are often outside a nucleus made before hearing it
                    labels, probabilities = nucleus(logits, replace(parameters.sampling, top_p=1.0, top_k=0), mask)
                picked.append((pick, labels, probabilities))
                return pick.label

            label = decode_step(self.bundle.decision, self._state, self._tokens, play)
            pick, among = picked[-1][0], picked[-1][1:]
        start, stop = self._grid[i], self._grid[i + 1]
        previous = self._slots[-1] if self._slots else None
        grains = self.bundle.memory.grains
        source, ratio = self._placement(pick.grain, stop - start)
        gain = 1.0
        if parameters.engine.follow_loudness > 0 and moment.level_db > -60.0:
            wanted = self._picker.target_db(moment.level_db)
            gain_db = parameters.engine.follow_loudness * (wanted - float(grains.loudness_db[pick.grain]))
            gain = float(10 ** (np.clip(gain_db, -12.0, 12.0) / 20))
        late = self._late_at(i)
        slot = Slot(
            start=start,
            stop=start + late if late else stop,
            source=source,
            gain=gain,
            continued=pick.continued and previous is not None,
            ratio=ratio,
            take=stop - start if late else 0,
        )
        decision = Decision(
            segment=i,
            start=slot.start,
            stop=slot.stop,
            a_token=self._tokens[heard] if heard >= 0 else -1,
            b_token=int(label),
            played_label=pick.label,
            grain=pick.grain,
            continued=slot.continued,
            gain=gain,
            ratio=ratio,
            pitch_midi=float(grains.pitch_midi[pick.grain]),
            level_db=float(grains.loudness_db[pick.grain]),
            crossfade=self._writer.crossfade,
            take=slot.take,
            draws=pick.draws,
        )
        self._lay(slot, decision, stop - slot.stop if late else self._next_length(i))
        self._decided += 1
        if late:
            due = start + self._late_hearing
            self._late = _LateLook(due=due, slot=slot, decision=decision, labels=among[0], weights=among[1])

    def _look_again(self, look: _LateLook) -> None:
        """The late look of an anticipated slot: A's segment has begun, so its grain may change for the
        rest of the slot (``GrainPicker.look_again``). An A that ends before the look keeps the grain."""
        self._late = None
        i = look.decision.segment
        start, stop = self._grid[i], self._grid[i + 1]
        pick = Pick(grain=look.decision.grain, label=look.decision.played_label, continued=True)  # the laid grain plays on...
        if self._received >= look.due:  # ...unless A, now heard, asks for another
            first = max(0, start - self._preroll)
            heard = self._hear(self._input.view(first, look.due).mean(axis=0), start - first, look.due - first)
            pick = self._picker.look_again(pick, heard, look.labels, look.weights)
            if self._forced is None:
                self._state.previous = pick.label  # what is played becomes B's history (the next decision is not made yet)
        source, ratio = self._placement(pick.grain, stop - start)
        grains = self.bundle.memory.grains
        lead = look.slot.stop - start
        slot = Slot(
            start=look.slot.stop,
            stop=stop,
            source=source,
            gain=look.slot.gain,
            continued=pick.continued,
            ratio=ratio,
            lead=lead,
            take=stop - start,
        )
        decision = replace(
            look.decision,
            start=slot.start,
            stop=slot.stop,
            played_label=pick.label,
            grain=pick.grain,
            continued=pick.continued,
            ratio=ratio,
            pitch_midi=float(grains.pitch_midi[pick.grain]),
            level_db=float(grains.loudness_db[pick.grain]),
            crossfade=self._writer.crossfade,
            lead=lead,
            draws=pick.draws,
        )
        self._lay(slot, decision, self._next_length(i))

    def _placement(self, grain: int, slot_samples: int) -> tuple[int, float]:
        """Where a grain starts in the memory (output rate) and how it is stretched over a slot."""
        memory = self.bundle.memory
        source = memory.to_rate(int(memory.grains.start[grain]), self.sample_rate)
        grain_length = memory.to_rate(int(memory.grains.end[grain]), self.sample_rate) - source
        return source, stretch_ratio(grain_length, slot_samples, self.parameters.engine.stretch)

    def _late_at(self, i: int) -> int:
        """Samples into segment i at which a late look's slot starts (0: none; a segment shorter than
        twice that or than the look's hearing is laid whole)."""
        length, late = self._grid[i + 1] - self._grid[i], self._late_samples
        if not (0 < 2 * late <= length and self._late_hearing < length):
            return 0
        if i == 0 and late - self._writer.seam(late, length - late) < self._writer.crossfade // 2:
            return 0  # the track's fade-in would reach into the look's seam: the first segment is laid whole
        return late

    def _next_length(self, i: int) -> int | None:
        """The seam room of the slot after segment i's last one (the next segment's length: it starts a
        take, split by a late look or not), or None when segment i ends the track."""
        if (self._finished and i == len(self._grid) - 2) or i + 2 >= len(self._grid):
            return None
        return self._grid[i + 2] - self._grid[i + 1]

    def _lay(self, slot: Slot, decision: Decision, next_length: int | None) -> None:
        """Write a decided slot into the output and record it."""
        self._output.extend_to(slot.stop + self.crossfade_samples)
        self._writer.write(self._output.data, self._output.origin, slot, next_length)
        self._slots.append(slot)
        self._final = slot.stop - self._writer.pending_seam
        self.decisions.append(decision)

    def _end_anticipated(self) -> None:
        """A has ended: the last slot, laid expecting another after it, is written out whole, and B
        fades out over the end of A (not yet sent: the latency is longer than that fade)."""
        self._output.extend_to(max(self._received, self._slots[-1].stop if self._slots else 0) + self.crossfade_samples)
        self._writer.finish(self._output.data, self._output.origin)
        fade = min(self.crossfade_samples // 2, self._received)
        if fade:
            start = self._received - fade - self._output.origin
            self._output.data[:, start : start + fade] *= seam_curves(fade)[0]

    def _emit(self, count: int) -> np.ndarray:
        start, stop = self._emitted, self._emitted + count
        total = self._received if self._finished else None
        if total is None and stop > self._final:
            raise InternalError("output requested before it was decided (latency too small)")
        wet = self._output.view(start, stop)
        if total is not None:
            wet[:, max(0, total - start) :] = 0.0  # past the end of A: silence
        out = wet
        self._emitted = stop
        self._output.drop_before(stop)
        return out.astype(np.float32)

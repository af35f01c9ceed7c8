"""The answer as a format-neutral clip list: the one place that knows how slots become clips.

Each slot of the render (``plugin_core.stream.sidechain.Decision``) is laid by ``SeamWriter`` as
bundle-format.md step 6 says: its audio sounds over ``[b[t] - seam[t], b[t+1])``, faded in over the
seam before it (its lead-in) and out over the seam before the next slot, both seams ending on the
boundaries. So a slot is a clip starting ``seam[t]`` samples before its boundary, reading the memory
from its grain's start minus that lead-in. Consecutive slots that follow each other directly in the
memory, unstretched and at one gain, have no seam at all: they are one clip (a run); at two gains,
the engine ramps the gain across the seam, which two overlapping clips with linear fades over the
same audio reproduce (``RAMP``). A stretched slot's audio is the engine's own time-stretch (WSOLA,
with the recorded attack), which no DAW reproduces: it is a clip of pre-rendered audio, as is
a clip that would read past either end of the memory. Fades are sample-centred: sample ``j`` of an
``f``-sample fade has weight ``w = (j + 0.5) / f``, equal-power ``sin(w pi/2)`` / ``cos(w pi/2)`` or
linear ``w`` / ``1 - w``, as the engine computes them; a ramp's is ``j / (f - 1)``.

An anticipating answer ends differently: its last slot was laid before A ended, so it runs past A's
end, and the engine fades the whole of B out over A's last ``end_fade`` samples. Clips cannot multiply
one fade by another, so the clips that sound in that fade become one pre-rendered clip (their
mix, faded, cut at A's end); the clips before it stay clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from plugin_core.engine.grains import SeamWriter, Slot, linear_curves, seam_curves
from plugin_core.engine.memory import Memory
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.stream.sidechain import Decision

EQUAL_POWER, LINEAR, RAMP = "equal_power", "linear", "ramp"
MEMORY = "memory"  # the source name of clips that read the memory itself
TEMPO_TOLERANCE_S = 0.001  # the tempo map puts every boundary of A within this of its beat


@dataclass(frozen=True)
class Fade:
    """A fade of ``samples`` output samples with the engine's curve ``shape``: EQUAL_POWER or LINEAR
    (sample-centred), or RAMP: the linear gain ramp between two slots that play one unbroken stretch
    of memory at different gains, which runs from the first sample to the last (``np.linspace``)."""

    samples: int = 0
    shape: str = EQUAL_POWER


@dataclass(frozen=True)
class Clip:
    """One clip of B: output samples ``[start, start + length)`` play ``source`` from ``offset``
    (samples at the session's rate) times ``gain``, with its fades inside that span."""

    start: int
    length: int
    source: str  # MEMORY, or the name of a pre-rendered clip in ``ClipList.rendered``
    offset: int
    gain: float
    fade_in: Fade
    fade_out: Fade
    segments: tuple[int, ...]  # the A segments of the slots it plays (one per slot)
    grains: tuple[int, ...]  # their grains (grain table rows)
    ratio: float = 1.0  # the stretch it was rendered with (1: read as recorded)
    first_slot: int = 0  # the render's slot it starts with (one slot per segment, two where a late look split one)

    @property
    def name(self) -> str:
        grains = f"grain {self.grains[0]}" if len(self.grains) == 1 else f"grains {self.grains[0]}-{self.grains[-1]}"
        return grains if self.ratio == 1.0 else f"{grains} stretched x{1 / self.ratio:.3f}"


@dataclass(frozen=True)
class TempoPoint:
    """From ``seconds`` into the session (its beat ``beat``), ``bpm`` quarter notes per minute."""

    seconds: float
    beat: float
    bpm: float


@dataclass(frozen=True)
class ClipList:
    """B as clips on A's timeline, with what a session needs around them."""

    sample_rate: int
    channels: int  # B's (a mono memory is played on every channel)
    length: int  # A's samples
    boundaries: np.ndarray  # A's grid, output samples
    beats: np.ndarray | None  # beat position of every boundary on a beat grid, else None
    clips: tuple[Clip, ...]
    rendered: dict[str, np.ndarray] = field(default_factory=dict)  # pre-rendered clip audio, (channels, length)

    def tempo_map(self) -> list[TempoPoint]:
        """Where the tempo changes, fewest points first: a run of segments shares one tempo as long as
        every boundary in it lands within TEMPO_TOLERANCE_S of its beat (A's beats are rounded to
        samples, or tracked, so a steady A gets one tempo, not a jitter of them). Each point's time
        is where the tempo before it reaches its beat, so the map is continuous and ``to_beats`` is
        exactly what a DAW computes from it. Off a beat grid: 120 qpm throughout."""
        if self.beats is None:
            return [TempoPoint(0.0, 0.0, 120.0)]
        seconds, beats = self.boundaries.astype(np.float64) / self.sample_rate, self.beats

        def fitting(first: int, last: int, time: float) -> float | None:
            """A tempo from ``time`` (beat ``beats[first]``) that lands every boundary up to ``last`` near
            its beat: the exact one rounded to 0.01 qpm when that fits (what a musician reads), else exact."""
            exact = 60.0 * (beats[last] - beats[first]) / (seconds[last] - time)
            for bpm in (round(exact, 2), exact):
                landed = time + (beats[first : last + 1] - beats[first]) * 60.0 / bpm
                if bpm > 0 and np.abs(landed - seconds[first : last + 1]).max() <= TEMPO_TOLERANCE_S:
                    return bpm
            return None

        points: list[TempoPoint] = []
        first, time = 0, float(seconds[0])
        while first < seconds.size - 1:
            two = fitting(first, first + 1, time)
            if two is None:  # the exact tempo between two boundaries always lands them
                raise InternalError("no tempo lands two consecutive grid boundaries")
            last, bpm = first + 1, two
            while last + 1 < seconds.size and (wider := fitting(first, last + 1, time)) is not None:
                last, bpm = last + 1, wider
            points.append(TempoPoint(time, float(beats[first]), float(bpm)))
            time += (beats[last] - beats[first]) * 60.0 / bpm
            first = last
        return points

    def to_beats(self, samples: np.ndarray | int) -> np.ndarray:
        """Output positions in beats under ``tempo_map`` (exactly its inverse: a reader gets the samples back)."""
        positions = np.asarray(samples, dtype=np.float64) / self.sample_rate
        points = self.tempo_map()
        starts = np.array([p.seconds for p in points])
        index = np.clip(np.searchsorted(starts, positions, side="right") - 1, 0, len(points) - 1)
        start_beats = np.array([p.beat for p in points])[index]
        bpms = np.array([p.bpm for p in points])[index]
        return start_beats + (positions - starts[index]) * bpms / 60.0


def rendered_name(slot: int) -> str:
    """The file name of a pre-rendered clip whose first slot is ``slot`` (the render's slots in order)."""
    return f"clip-{slot:05d}.wav"


def beat_positions(boundaries: np.ndarray, sample_rate: int, segments_per_beat: int | None) -> np.ndarray | None:
    """Each boundary's beat when every segment is 1 / segments_per_beat of a beat (a first or last
    segment, a pickup or a remainder, its share of its neighbour's), as ``midi_io`` lays them, except
    that a first or last segment within a sample of its neighbour's length counts as whole."""
    if segments_per_beat is None or boundaries.size < 3:
        return None
    lengths = np.diff(boundaries).astype(np.float64)
    spans = np.full(lengths.size, 1.0 / segments_per_beat)
    if lengths.size == 2:  # a pickup and one segment, or one and a remainder: the longer is whole
        whole = lengths.max()
        spans = np.where(np.abs(lengths - whole) > 1, spans * lengths / whole, spans)
    elif lengths.size > 2:  # a length within a sample of its neighbour's is a whole segment, its beat rounded to samples
        if abs(lengths[0] - lengths[1]) > 1:
            spans[0] = spans[0] * lengths[0] / lengths[1]
        if abs(lengths[-1] - lengths[-2]) > 1:
            spans[-1] = spans[-1] * lengths[-1] / lengths[-2]
    return np.concatenate([[0.0], np.cumsum(spans)])


def clip_audio(clip: Clip, clips: ClipList, memory: Memory) -> np.ndarray:
    """The clip's source audio over its span (channels, length), before gain and fades."""
    if clip.source != MEMORY:
        return clips.rendered[clip.source]
    audio = memory.read(clip.offset, clip.offset + clip.length, clips.sample_rate)
    if audio.shape[0] not in (1, clips.channels):
        audio = audio.mean(axis=0, keepdims=True)
    return audio


def fade_weights(fade: Fade, fading_in: bool) -> np.ndarray:
    """The engine's weights (float32) over a fade's samples, as ``SeamWriter`` applies them."""
    n = fade.samples
    if fade.shape == RAMP:
        ramp = (np.arange(n, dtype=np.float64) / (n - 1) if n > 1 else np.zeros(n)).astype(np.float32)
        return ramp if fading_in else np.float32(1.0) - ramp
    if fade.shape == LINEAR:
        fade_out, fade_in = linear_curves(n)
    else:
        fade_out, fade_in = seam_curves(n)
    return fade_in if fading_in else fade_out


def build_clip_list(
    decisions: Sequence[Decision],
    boundaries: np.ndarray,
    memory: Memory,
    *,
    sample_rate: int,
    channels: int,
    length: int,
    segments_per_beat: int | None = None,
    end_fade: int | None = None,
) -> ClipList:
    """The clips that mix to the rendered B, from the render's decisions (each with its crossfade).
    ``end_fade``: an anticipating answer's fade of all of B over the end of A (samples), which every
    anticipating answer has (its last slot runs past A's end on a grid known ahead)."""
    if not decisions:
        raise CountertrackError("the render decided no segment: there is no answer to arrange")
    if end_fade is None and decisions[-1].stop > length:
        raise InternalError("an answer whose last slot runs past A's end needs its end fade")
    crossfades = [d.crossfade for d in decisions]
    slots = [
        Slot(
            start=d.start,
            stop=d.stop,
            source=memory.to_rate(int(memory.grains.start[d.grain]), sample_rate),
            gain=d.gain,
            continued=d.continued,
            ratio=d.ratio,
            lead=d.lead,
            take=d.take,
        )
        for d in decisions
    ]
    count = len(slots)
    lengths = [slot.stop - slot.start for slot in slots]
    seams = [0] + [min(crossfades[t - 1], slots[t - 1].seam_room("end") // 2, slots[t].seam_room("start") // 2) for t in range(1, count)]
    joined = [False] + [slots[t].follows_directly(slots[t - 1]) and slots[t].gain == slots[t - 1].gain for t in range(1, count)]

    def seam_fade(t: int) -> Fade:  # the seam before slot t, as seen from either side
        if slots[t].follows_directly(slots[t - 1]):
            return Fade(seams[t], RAMP)  # one stretch of memory, its gain ramped (same gains: never a seam)
        return Fade(seams[t], LINEAR if slots[t].continues_memory_of(slots[t - 1]) else EQUAL_POWER)

    clips: list[Clip] = []
    rendered: dict[str, np.ndarray] = {}
    first = 0
    while first < count:
        last = first
        while last + 1 < count and joined[last + 1] and (slots[first].ratio == 1.0 or slots[last + 1].same_take(slots[last])):
            last += 1
        head, tail = slots[first], slots[last]
        if first == 0:
            fade_in = Fade(min(crossfades[0] // 2, lengths[0] - (seams[1] if count > 1 else 0)), EQUAL_POWER)
        else:
            fade_in = seam_fade(first)
        fade_out = seam_fade(last + 1) if last + 1 < count else Fade(min(crossfades[last] // 2, lengths[last]), EQUAL_POWER)
        start = head.start - seams[first]
        clip_length = tail.stop - start
        source, offset = MEMORY, head.source + head.lead - seams[first]
        if head.ratio != 1.0:
            source, offset = rendered_name(first), 0
            writer = SeamWriter(memory, sample_rate, channels, crossfades[first])  # the margin the engine stretched with
            rendered[source] = writer.slot_audio(head, -seams[first], clip_length - seams[first]).copy()  # the engine's own stretch
        elif offset < 0 or offset + clip_length > memory.to_rate(memory.frames, sample_rate):
            source, offset = rendered_name(first), 0  # reads silence beyond the memory's ends, which no file holds
            rendered[source] = (
                SeamWriter(memory, sample_rate, channels, 0).slot_audio(head, -seams[first], clip_length - seams[first]).copy()
            )
        clips.append(
            Clip(
                start=start,
                length=clip_length,
                source=source,
                offset=offset,
                gain=head.gain,
                fade_in=fade_in,
                fade_out=fade_out,
                segments=tuple(d.segment for d in decisions[first : last + 1]),
                grains=tuple(d.grain for d in decisions[first : last + 1]),
                ratio=head.ratio,
                first_slot=first,
            )
        )
        first = last + 1
    boundaries = np.asarray(boundaries, dtype=np.int64)
    arranged = ClipList(
        sample_rate=sample_rate,
        channels=channels,
        length=length,
        boundaries=boundaries,
        beats=beat_positions(boundaries, sample_rate, segments_per_beat),
        clips=tuple(clips),
        rendered=rendered,
    )
    return arranged if end_fade is None else _ended_at_a(arranged, memory, min(end_fade, length))


def _ended_at_a(clips: ClipList, memory: Memory, fade: int) -> ClipList:
    """``clips`` with B faded out over A's last ``fade`` samples and silent after A, as an anticipating
    stream ends: the clips sounding in the fade mixed (gains and fades applied) into one pre-rendered
    clip from the first one's start to A's end; clips starting at or after A's end dropped."""
    end = clips.length
    kept = [c for c in clips.clips if c.start < end and c.start + c.length <= end - fade]
    tail = [c for c in clips.clips if c.start < end and c.start + c.length > end - fade]
    if not tail:
        return clips
    start = min(c.start for c in tail)
    mixed = np.zeros((clips.channels, end - start), dtype=np.float32)
    for clip in tail:
        weights = np.ones(clip.length, dtype=np.float32)
        weights[: clip.fade_in.samples] *= fade_weights(clip.fade_in, True)
        if clip.fade_out.samples:
            weights[clip.length - clip.fade_out.samples :] *= fade_weights(clip.fade_out, False)
        audio = clip_audio(clip, clips, memory) * (weights * np.float32(clip.gain))
        span = min(clip.length, end - clip.start)
        mixed[:, clip.start - start : clip.start - start + span] += audio[:, :span]
    if fade:
        mixed[:, end - start - fade :] *= seam_curves(fade)[0]
    name = rendered_name(tail[0].first_slot)
    rendered = {key: audio for key, audio in clips.rendered.items() if any(c.source == key for c in kept)}
    rendered[name] = mixed
    ending = Clip(
        start=start,
        length=end - start,
        source=name,
        offset=0,
        gain=1.0,
        fade_in=Fade(),
        fade_out=Fade(),
        segments=tuple(s for c in tail for s in c.segments),
        grains=tuple(g for c in tail for g in c.grains),
        first_slot=tail[0].first_slot,
    )
    return replace(clips, clips=(*kept, ending), rendered=rendered)

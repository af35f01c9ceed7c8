"""Offline rendering: a DAW bounce of A in, B out with A's length, rate, channel layout and bit
depth, sample-aligned with A (the effect's latency removed). It runs the same SidechainEffect a
stream would (inside the preset's chain), fed the whole file, so offline and streaming renders
are the same samples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.arrangement.session import session_name, session_output, write_session
from plugin_core.bundle.load import Bundle
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.audio import Audio, output_subtype, probe_audio, probe_writer, read_audio, write_audio_file
from plugin_core.io.midi_io import write_answer_midi
from plugin_core.io.outputs import plan_outputs
from plugin_core.io.validation import check_segment_count, check_stream_format
from plugin_core.perception.segmentation import SegmentationConfig, check_grid, make_grid, open_grid
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.parameters import AutomationEvent
from plugin_core.stream.presets import MixLevels, Preset
from plugin_core.stream.sidechain import Decision

BLOCK = 1 << 19


@dataclass(frozen=True)
class Rendered:
    """A rendered B aligned with A, and what was decided for each segment."""

    samples: np.ndarray  # (channels, A's samples)
    sample_rate: int
    decisions: list[Decision]
    boundaries: np.ndarray
    end_fade: int | None = None  # an anticipating answer's fade over A's last samples (its last slot runs past A)
    levels: MixLevels = MixLevels()  # the wet/dry the chain mixed ``samples`` with (parameters over preset over defaults)

    @property
    def laid(self) -> list[Decision]:
        """One decision per segment: the slot laid on its start (a late look's slot, if any, follows it)."""
        return [d for d in self.decisions if d.lead == 0]


def render_audio(
    bundle: Bundle,
    a: Audio,
    *,
    seed: int | None = None,
    preset: Preset | None = None,
    segmentation: SegmentationConfig | None = None,
    automation: Sequence[AutomationEvent] = (),
    boundaries: np.ndarray | None = None,
    forced_tokens: np.ndarray | None = None,
    parameters: dict[str, Any] | None = None,
) -> Rendered:
    """B for the whole of ``a``: grid from the bundle's segmentation (or ``segmentation``, or the
    given ``boundaries``), then the chain (preset effects around the sidechain effect, ``parameters``
    by name over the preset's, e.g. ``{"temperature": 1.4, "wet": 0.8}``) fed block by
    block and flushed; latency removed. ``forced_tokens`` replace the decisions (the oracle)."""
    check_stream_format(a.sample_rate, a.num_channels)
    if boundaries is None:
        config = segmentation or bundle.perception.spec.segmentation
        grid = open_grid if bundle.decision_config.anticipates else make_grid  # as an anticipating stream lays it
        boundaries = grid(a.num_samples, a.sample_rate, config, a.samples.mean(axis=0, keepdims=True))
    else:  # a caller's grid; an anticipating one may end past A, as open_grid's does
        check_grid(boundaries, a.num_samples, may_overrun=bundle.decision_config.anticipates)
    check_segment_count(len(boundaries) - 1, a.num_samples / a.sample_rate, "the segment grid")
    chain = AnswerChain(bundle, a.sample_rate, a.num_channels, preset=preset, seed=seed, boundaries=boundaries, forced_tokens=forced_tokens)
    if parameters:
        chain.set_parameters(**parameters)
    for event in coalesce_automation(automation, boundaries):
        chain.schedule(event.position, **event.changes)
    pieces = [chain.process(a.samples[:, start : start + BLOCK]) for start in range(0, a.num_samples, BLOCK)]
    pieces.append(chain.flush())
    out = np.concatenate(pieces, axis=1)[:, chain.latency_samples : chain.latency_samples + a.num_samples]
    cut = np.append(boundaries[boundaries < a.num_samples], a.num_samples)  # A's segments (a last slot may run past A's end)
    end_fade = min(chain.effect.crossfade_samples // 2, a.num_samples) if bundle.decision_config.anticipates else None
    return Rendered(
        samples=out,
        sample_rate=a.sample_rate,
        decisions=chain.effect.decisions,
        boundaries=cut,
        end_fade=end_fade,
        levels=MixLevels(chain.wet, chain.dry),
    )


def coalesce_automation(automation: Sequence[AutomationEvent], boundaries: np.ndarray) -> list[AutomationEvent]:
    """The automation as it acts: a change applies from the first segment starting at or after it, so
    the changes before one segment merge into one (later ones win) and those after the last start are
    dropped. At most one event per segment, however many CC events a MIDI file holds."""
    starts = np.asarray(boundaries[:-1], dtype=np.int64)
    merged: dict[int, dict] = {}
    for event in sorted(automation, key=lambda item: item.position):  # stable: events at one position keep their order
        index = int(np.searchsorted(starts, event.position, side="left"))
        if index < starts.size:
            merged.setdefault(int(starts[index]), {}).update(event.changes)
    return [AutomationEvent(start, changes) for start, changes in sorted(merged.items())]


def render_file(
    bundle: Bundle,
    a_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    seed: int | None = None,
    preset: Preset | None = None,
    segmentation: SegmentationConfig | None = None,
    mix_path: str | os.PathLike[str] | None = None,
    midi_path: str | os.PathLike[str] | None = None,
    force: bool = False,
    automation: Sequence[AutomationEvent] = (),
    inputs: Sequence[str | os.PathLike[str]] = (),
    arrangement_path: str | os.PathLike[str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> Rendered:
    """Render B for the file ``a_path`` into ``out_path`` (A + B into ``mix_path``, the answer as MIDI
    into ``midi_path``, the answer as a DAW session folder into ``arrangement_path``) as one transaction
    (``plugin_core.io.outputs``).

    Every output is checked before the render (against the others, A, the bundle and ``inputs``, its
    folder and its format at A's rate); existing outputs are refused unless ``force``; what was written
    is read back; nothing is changed when anything fails.
    """
    if midi_path and Path(midi_path).suffix.lower() not in (".mid", ".midi"):
        raise CountertrackError("is not a MIDI file name: a MIDI output ends in .mid or .midi", midi_path)
    info = probe_audio(a_path)
    tempo_map = (segmentation or bundle.perception.spec.segmentation).tempo_map
    bundle_files = [bundle.folder / name for name in ("manifest.json", *bundle.manifest.get("files", {}))]
    audio_outputs = [Path(p) for p in (out_path, mix_path) if p]
    session = session_output(arrangement_path) if arrangement_path else None
    with plan_outputs(
        [*audio_outputs, midi_path, session], [a_path, tempo_map, bundle.folder, *bundle_files, *inputs], force=force
    ) as outputs:
        subtypes = {p: output_subtype(p, info.subtype) for p in audio_outputs}
        for path in audio_outputs:
            probe_writer(outputs.staged(path), path, info.sample_rate, info.num_channels)
        a = read_audio(a_path)
        rendered = render_audio(
            bundle, a, seed=seed, preset=preset, segmentation=segmentation, automation=automation, parameters=parameters
        )
        if not np.isfinite(rendered.samples).all():  # A, the bundle and the preset were checked: this is ours, not the output's
            raise InternalError("the render produced samples that are not finite numbers")
        out_path = Path(out_path)
        write_audio_file(outputs.staged(out_path), rendered.samples, a.sample_rate, subtypes[out_path], name=out_path)
        if mix_path:
            # A once, at unity: the output already holds dry * A (wet * B beside it)
            mix = rendered.samples + (1.0 - rendered.levels.dry) * a.samples
            peak = float(np.abs(mix).max())
            write_audio_file(
                outputs.staged(mix_path), mix / peak if peak > 1.0 else mix, a.sample_rate, subtypes[Path(mix_path)], name=Path(mix_path)
            )
        used = segmentation or bundle.perception.spec.segmentation
        segments_per_beat = used.subdivision if used.strategy == "beats" else None
        if midi_path:
            try:
                write_answer_midi(
                    rendered.decisions,
                    rendered.boundaries,
                    rendered.sample_rate,
                    outputs.staged(midi_path),
                    segments_per_beat=segments_per_beat,
                )
            except OSError as exc:
                raise CountertrackError(f"cannot write MIDI ({exc.strerror or exc})", midi_path) from exc
        if session is not None:
            write_session(
                rendered.decisions,
                rendered.boundaries,
                bundle.memory,
                a_path,
                a.info,
                outputs.staged(session.target),
                session_name(session.target),
                wet=rendered.levels.wet,
                segments_per_beat=segments_per_beat,
                end_fade=rendered.end_fade,
            )
        outputs.commit()
    return rendered

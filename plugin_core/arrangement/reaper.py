"""Reaper's project format (RPP): the session as plain text, written from the format's documented
state chunks (ReaTeam/Doc "State Chunk Definitions"), so no RPP library is needed.

Two tracks: B, one ``ITEM`` per clip, each a take on ``audio/memory.wav`` at its slip offset
(``SOFFS``, seconds of that file) or on a pre-rendered clip, with the clip's gain as the take's
volume and its fades as ``FADEIN``/``FADEOUT`` (shape 1, Reaper's default curve, for the engine's
equal-power seams; 0, linear, for its linear ones); and A, one item of A's file. The tempo map
(``TEMPOENVEX``, square points) puts every boundary of A on its beat when A's grid is a beat grid.
Positions are seconds, written so that they read back to the same float. Each item's notes name
the engine's fade curves, which Reaper's shapes only approximate.
"""

from __future__ import annotations

from pathlib import Path

from plugin_core import __version__
from plugin_core.arrangement.clips import EQUAL_POWER, MEMORY, Clip, ClipList
from plugin_core.arrangement.media import AUDIO_FOLDER, MEMORY_FILE
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import AudioInfo

FADE_SHAPE = {EQUAL_POWER: 1}  # every other engine curve is linear (0)
SOURCE_TYPES = {".flac": "FLAC", ".ogg": "VORBIS", ".oga": "VORBIS", ".mp3": "MP3", ".opus": "OPUS"}  # else WAVE (wav, aiff, ...)


def source_type(file_name: str) -> str:
    """Reaper's source chunk type for a media file, by its extension."""
    return SOURCE_TYPES.get(Path(file_name).suffix.lower(), "WAVE")


def _number(value: float) -> str:
    """A float that reads back to the same float."""
    return repr(float(value))


def quote(text: str) -> str:
    """An RPP string: in the first of ", ' or ` it does not contain (a backtick becomes ' if all three are there)."""
    for mark in "\"'`":
        if mark not in text:
            return f"{mark}{text}{mark}"
    return "`" + text.replace("`", "'") + "`"


def _item(
    lines: list[str],
    *,
    position: float,
    length: float,
    name: str,
    source: str,
    offset: float = 0.0,
    gain: float = 1.0,
    fade_in: tuple[int, float] = (0, 0.0),
    fade_out: tuple[int, float] = (0, 0.0),
    notes: str | None = None,
) -> None:
    lines += [
        "  <ITEM",
        f"    POSITION {_number(position)}",
        f"    LENGTH {_number(length)}",
        "    LOOP 0",
        f"    FADEIN {fade_in[0]} {_number(fade_in[1])} 0",
        f"    FADEOUT {fade_out[0]} {_number(fade_out[1])} 0",
        "    MUTE 0 0",
    ]
    if notes:
        lines += ["    <NOTES", f"      |{notes}", "    >"]
    lines += [
        f"    NAME {quote(name)}",
        f"    VOLPAN 1.0 0.0 {_number(gain)} -1.0",
        f"    SOFFS {_number(offset)}",
        "    PLAYRATE 1.0 1 0.0 -1 0 0.0025",
        f"    <SOURCE {source_type(source)}",
        f"      FILE {quote(source)}",
        "    >",
        "  >",
    ]


def _clip_item(lines: list[str], clip: Clip, rate: int) -> None:
    source = f"{AUDIO_FOLDER}/{MEMORY_FILE}" if clip.source == MEMORY else f"{AUDIO_FOLDER}/{clip.source}"
    notes = f"countertrack: A segments {clip.segments[0]}-{clip.segments[-1]}; fade-in {clip.fade_in.shape}; fade-out {clip.fade_out.shape}"
    _item(
        lines,
        position=clip.start / rate,
        length=clip.length / rate,
        name=clip.name,
        source=source,
        offset=clip.offset / rate,
        gain=clip.gain,
        fade_in=(FADE_SHAPE.get(clip.fade_in.shape, 0), clip.fade_in.samples / rate),
        fade_out=(FADE_SHAPE.get(clip.fade_out.shape, 0), clip.fade_out.samples / rate),
        notes=notes,
    )


def _tempo_points(clips: ClipList) -> list[tuple[float, float]]:
    """(seconds, qpm) where the tempo changes (``ClipList.tempo_map``): every boundary of A on its beat."""
    return [(point.seconds, point.bpm) for point in clips.tempo_map()]


def project_text(clips: ClipList, a_info: AudioInfo, a_name: str, *, wet: float) -> str:
    """The .rpp text: the project header with A's rate and tempo map, track B (``wet`` as its volume) and track A."""
    rate = clips.sample_rate
    points = _tempo_points(clips)
    lines = [
        f"<REAPER_PROJECT 0.1 {quote(f'6.0/countertrack-{__version__}')} 0",
        f"  SAMPLERATE {rate} 1 0",
        f"  TEMPO {_number(points[0][1])} 4 4",
    ]
    if clips.beats is not None:
        lines += ["  <TEMPOENVEX", "    ACT 1 -1"] + [f"    PT {_number(when)} {_number(bpm)} 1" for when, bpm in points] + ["  >"]
    lines += [
        "  <TRACK",
        f"    NAME {quote('B (countertrack answer)')}",
        f"    VOLPAN {_number(wet)} 0.0 -1.0",
        "    MUTESOLO 0 0 0",
        f"    NCHAN {max(2, clips.channels)}",
    ]
    body: list[str] = []
    for clip in clips.clips:
        _clip_item(body, clip, rate)
    lines += ["  " + line for line in body] + ["  >"]
    lines += ["  <TRACK", f"    NAME {quote(f'A ({a_name})')}", "    VOLPAN 1.0 0.0 -1.0", "    MUTESOLO 0 0 0"]
    a_item: list[str] = []
    _item(a_item, position=0.0, length=a_info.num_samples / a_info.sample_rate, name=a_name, source=f"{AUDIO_FOLDER}/{a_name}")
    lines += ["  " + line for line in a_item] + ["  >", ">"]
    return "\n".join(lines) + "\n"


def write_rpp(clips: ClipList, a_info: AudioInfo, a_name: str, target: Path, *, wet: float) -> None:
    """The session as a Reaper project at ``target``, its audio in ``audio/`` beside it (``write_media``)."""
    try:
        target.write_text(project_text(clips, a_info, a_name, wet=wet), encoding="utf-8")
    except OSError as exc:
        raise CountertrackError(f"cannot write the Reaper project ({exc.strerror or exc})", target) from exc

"""DAWproject 1.0 (bitwig/dawproject: Project.xsd, MetaData.xsd): a zip of project.xml,
metadata.xml and the audio, written from the published schema's element and attribute names.

Two audio tracks and a master: B is a ``Clips`` lane with one ``Clip`` per clip of the clip list,
each holding an ``Audio`` timeline on the session's memory file (``playStart``/``playStop`` in
seconds of that file) and ``fadeInTime``/``fadeOutTime`` in seconds; A is one clip of A's file. On a
beat grid the arrangement is in beats with ``TempoAutomation`` (a ``hold`` point wherever the tempo
changes, ``ClipList.tempo_map``) putting every boundary of A on its beat; otherwise it is in seconds
at 120 qpm. Written with the standard library's ElementTree; checked against Project.xsd and
MetaData.xsd when this was written (the test suite has no XML Schema validator).

What DAWproject 1.0 cannot say: a clip's gain and a fade's curve. A clip whose gain is not 1 is
pre-rendered with its gain baked in (``audio/gain/clip-*.wav``); fades carry no shape, so a DAW
applies its own curve to the engine's seams. Each clip's ``comment`` names the engine's curves
(``fade-in equal_power; fade-out linear``) so a reader can mix the clips exactly as the engine did.
All audio is inside the zip: the memory (``audio/memory.wav``), A, and the pre-rendered clips.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from plugin_core import __version__
from plugin_core.arrangement.clips import MEMORY, Clip, ClipList, clip_audio, rendered_name
from plugin_core.arrangement.media import AUDIO_FOLDER, MEMORY_FILE, memory_channels, memory_frames
from plugin_core.engine.memory import Memory
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import AudioInfo, write_reproducible_float_wav

GAIN_FOLDER = f"{AUDIO_FOLDER}/gain"


def _number(value: float) -> str:
    """A float that reads back to the same float."""
    return repr(float(value))


class _Ids:
    """Unique ``id`` attributes (xs:ID) in document order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"id{self.count - 1}"


def _channel(
    track: ET.Element, ids: _Ids, channels: int, volume: float, *, role: str = "regular", destination: str | None = None
) -> ET.Element:
    """A track's mixer channel: unmuted, centred, at ``volume`` (linear), routed to ``destination``."""
    attributes = {"id": ids(), "role": role, "audioChannels": str(channels), "solo": "false"}
    if destination:
        attributes["destination"] = destination
    channel = ET.SubElement(track, "Channel", attributes)
    ET.SubElement(channel, "Mute", {"id": ids(), "name": "Mute", "value": "false"})
    ET.SubElement(channel, "Pan", {"id": ids(), "name": "Pan", "unit": "normalized", "min": "0.0", "max": "1.0", "value": "0.5"})
    ET.SubElement(
        channel, "Volume", {"id": ids(), "name": "Volume", "unit": "linear", "min": "0.0", "max": "2.0", "value": _number(volume)}
    )
    return channel


def _audio(parent: ET.Element, ids: _Ids, path: str, frames: int, sample_rate: int, channels: int) -> None:
    """An ``Audio`` timeline on the zip member ``path``."""
    audio = ET.SubElement(
        parent,
        "Audio",
        {
            "id": ids(),
            "timeUnit": "seconds",
            "duration": _number(frames / sample_rate),
            "sampleRate": str(sample_rate),
            "channels": str(channels),
        },
    )
    ET.SubElement(audio, "File", {"path": path})


def _clip_element(clips_element: ET.Element, clip: Clip, clips: ClipList, position: tuple[float, float]) -> ET.Element:
    """A ``Clip`` at ``position`` (time, duration) on the arrangement, its content in seconds of its file."""
    rate = clips.sample_rate
    start_s = clip.offset / rate
    return ET.SubElement(
        clips_element,
        "Clip",
        {
            "time": _number(position[0]),
            "duration": _number(position[1]),
            "contentTimeUnit": "seconds",
            "playStart": _number(start_s),
            "playStop": _number(start_s + clip.length / rate),
            "fadeTimeUnit": "seconds",
            "fadeInTime": _number(clip.fade_in.samples / rate),
            "fadeOutTime": _number(clip.fade_out.samples / rate),
            "name": clip.name,
            "comment": clip_comment(clip),
        },
    )


def clip_comment(clip: Clip) -> str:
    """What the format cannot hold, for people and for readers: A's segments, the engine's fade curves, the gain."""
    return (
        f"countertrack: A segments {clip.segments[0]}-{clip.segments[-1]}; fade-in {clip.fade_in.shape}; "
        f"fade-out {clip.fade_out.shape}; gain {clip.gain!r}"
    )


def project_xml(clips: ClipList, a_info: AudioInfo, a_name: str, memory: Memory, *, wet: float) -> ET.Element:
    """project.xml for ``clips``: B's clips on the memory file, on pre-rendered ``audio/clip-*.wav`` or,
    with a gain, on ``audio/gain/clip-*.wav``; A as one clip; the tempo map of A's beats."""
    ids = _Ids()
    project = ET.Element("Project", {"version": "1.0"})
    ET.SubElement(project, "Application", {"name": "countertrack", "version": __version__})
    tempo = clips.tempo_map()
    transport = ET.SubElement(project, "Transport")
    tempo_id = ids()
    ET.SubElement(
        transport, "Tempo", {"id": tempo_id, "name": "Tempo", "unit": "bpm", "min": "20.0", "max": "999.0", "value": _number(tempo[0].bpm)}
    )
    ET.SubElement(transport, "TimeSignature", {"id": ids(), "numerator": "4", "denominator": "4"})
    structure = ET.SubElement(project, "Structure")
    master = ET.Element("Track", {"id": ids(), "name": "Master", "contentType": "audio", "loaded": "true"})
    master_channel = _channel(master, ids, clips.channels, 1.0, role="master")
    b_track = ET.SubElement(structure, "Track", {"id": ids(), "name": "B (countertrack answer)", "contentType": "audio", "loaded": "true"})
    _channel(b_track, ids, clips.channels, wet, destination=master_channel.get("id"))
    a_track = ET.SubElement(structure, "Track", {"id": ids(), "name": f"A ({a_name})", "contentType": "audio", "loaded": "true"})
    _channel(a_track, ids, a_info.num_channels, 1.0, destination=master_channel.get("id"))
    structure.append(master)

    arrangement = ET.SubElement(project, "Arrangement", {"id": ids()})
    in_beats = clips.beats is not None
    lanes = ET.SubElement(arrangement, "Lanes", {"id": ids(), "timeUnit": "beats" if in_beats else "seconds"})

    def place(start: int, length: int) -> tuple[float, float]:
        if not in_beats:
            return start / clips.sample_rate, length / clips.sample_rate
        begin, end = clips.to_beats(np.array([start, start + length]))
        return float(begin), float(end - begin)

    b_lane = ET.SubElement(lanes, "Lanes", {"id": ids(), "track": b_track.attrib["id"]})
    b_clips = ET.SubElement(b_lane, "Clips", {"id": ids()})
    for clip in clips.clips:
        element = _clip_element(b_clips, clip, clips, place(clip.start, clip.length))
        if clip.source == MEMORY and clip.gain == 1.0:
            _audio(
                element,
                ids,
                f"{AUDIO_FOLDER}/{MEMORY_FILE}",
                memory_frames(memory, clips.sample_rate),
                clips.sample_rate,
                memory_channels(memory, clips.channels),
            )
        else:
            element.set("playStart", "0.0")
            element.set("playStop", _number(clip.length / clips.sample_rate))
            channels = memory_channels(memory, clips.channels) if clip.source == MEMORY else clips.channels
            _audio(element, ids, _file_of(clip), clip.length, clips.sample_rate, channels)
    a_lane = ET.SubElement(lanes, "Lanes", {"id": ids(), "track": a_track.attrib["id"]})
    a_clips = ET.SubElement(a_lane, "Clips", {"id": ids()})
    a_clip = ET.SubElement(
        a_clips,
        "Clip",
        {
            "time": "0.0",
            "duration": _number(place(0, clips.length)[1]),
            "contentTimeUnit": "seconds",
            "playStart": "0.0",
            "playStop": _number(a_info.num_samples / a_info.sample_rate),
            "name": a_name,
        },
    )
    _audio(a_clip, ids, f"{AUDIO_FOLDER}/{a_name}", a_info.num_samples, a_info.sample_rate, a_info.num_channels)

    tempo_points = ET.SubElement(
        arrangement, "TempoAutomation", {"id": ids(), "timeUnit": "beats" if in_beats else "seconds", "unit": "bpm"}
    )
    ET.SubElement(tempo_points, "Target", {"parameter": tempo_id})
    for point in tempo:
        when = point.beat if in_beats else point.seconds
        ET.SubElement(tempo_points, "RealPoint", {"time": _number(when), "value": _number(point.bpm), "interpolation": "hold"})
    ET.SubElement(project, "Scenes")
    return project


def _file_of(clip: Clip) -> str:
    """The zip member a clip that does not read the memory at gain 1 plays."""
    if clip.gain != 1.0:
        return f"{GAIN_FOLDER}/{rendered_name(clip.first_slot)}"
    return f"{AUDIO_FOLDER}/{clip.source}"


def metadata_xml(a_name: str) -> ET.Element:
    """metadata.xml: a title and a comment that says what the session is."""
    metadata = ET.Element("MetaData")
    ET.SubElement(metadata, "Title").text = f"countertrack answer to {a_name}"
    ET.SubElement(
        metadata, "Comment"
    ).text = (
        "B is the answer countertrack rendered for A, one clip per grain or run of grains into the memory's audio; move, mute or swap them."
    )
    return metadata


def write_dawproject(clips: ClipList, memory: Memory, a_info: AudioInfo, a_name: str, folder: Path, target: Path, *, wet: float) -> None:
    """The session as a .dawproject zip at ``target``, holding the audio ``write_media`` put in
    ``folder / audio`` and the gain-baked clips (written through a scratch file in ``folder``)."""
    audio = folder / AUDIO_FOLDER
    scratch = folder / ".gain-scratch.wav"
    try:
        with zipfile.ZipFile(target, "w") as archive:
            for name, element in (
                ("project.xml", project_xml(clips, a_info, a_name, memory, wet=wet)),
                ("metadata.xml", metadata_xml(a_name)),
            ):
                ET.indent(element)
                archive.writestr(
                    name,
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(element, encoding="utf-8"),
                    compress_type=zipfile.ZIP_DEFLATED,
                )
            archive.write(audio / MEMORY_FILE, f"{AUDIO_FOLDER}/{MEMORY_FILE}")
            archive.write(audio / a_name, f"{AUDIO_FOLDER}/{a_name}")
            for clip in clips.clips:
                if clip.gain == 1.0 and clip.source != MEMORY:
                    archive.write(audio / clip.source, _file_of(clip))
                elif clip.gain != 1.0:
                    write_reproducible_float_wav(scratch, clip_audio(clip, clips, memory) * np.float32(clip.gain), clips.sample_rate)
                    archive.write(scratch, _file_of(clip))
        scratch.unlink(missing_ok=True)
    except OSError as exc:
        raise CountertrackError(f"cannot write the DAWproject ({exc.strerror or exc})", target) from exc

"""Read a written DAW session back and mix it as a DAW would, with the engine's fade curves.

Independent of ``plugin_core.arrangement``: the XML is read with ElementTree, the RPP text with a
small tokenizer written from the format's documentation, and the curves from bundle-format.md
step 6 (equal-power and linear seams sample-centred; a gain ramp from first to last sample).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import soundfile


@dataclass
class ReadClip:
    start: int  # samples on the session's timeline
    length: int
    offset: int  # samples into its file
    gain: float
    fade_in: tuple[int, str]  # (samples, engine curve named in the clip's notes)
    fade_out: tuple[int, str]
    audio: np.ndarray  # (channels, n) the whole file


@dataclass
class ReadTrack:
    name: str
    volume: float
    clips: list[ReadClip]


def _shapes(text: str) -> tuple[str, str]:
    found = dict(re.findall(r"fade-(in|out) (\w+)", text))
    return found.get("in", "equal_power"), found.get("out", "equal_power")


def _file_audio(data: bytes | Path) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(data) if isinstance(data, bytes) else str(data), dtype="float32", always_2d=True)
    return samples.T, rate


# ---- DAWproject ------------------------------------------------------------------------------
def _beats_to_seconds(points: list[tuple[float, float]]):
    """Seconds at a beat position, for hold (stepwise) tempo points (beat, qpm)."""

    def convert(beat: float) -> float:
        seconds = 0.0
        for index, (when, bpm) in enumerate(points):
            end = points[index + 1][0] if index + 1 < len(points) else float("inf")
            if beat <= when:
                break
            seconds += (min(beat, end) - when) * 60.0 / bpm
        return seconds

    return convert


def read_dawproject(path: Path, rate: int) -> dict[str, ReadTrack]:
    """Tracks by name (their first word: "B", "A") with their clips, from a .dawproject zip."""
    with zipfile.ZipFile(path) as archive:
        project = ET.fromstring(archive.read("project.xml"))
        ET.fromstring(archive.read("metadata.xml"))
        members = {name: archive.read(name) for name in archive.namelist() if name.endswith(".wav") or name.endswith(".flac")}
    tracks = {track.get("id"): track for track in project.iter("Track")}
    lanes = project.find("Arrangement/Lanes")
    in_beats = lanes.get("timeUnit") == "beats"
    tempo = project.find("Arrangement/TempoAutomation")
    points = [(float(p.get("time")), float(p.get("value"))) for p in tempo.findall("RealPoint")] if tempo is not None else []
    to_seconds = _beats_to_seconds(points) if in_beats else (lambda t: t)
    out: dict[str, ReadTrack] = {}
    cache: dict[str, tuple[np.ndarray, int]] = {}
    for lane in lanes.findall("Lanes"):
        track = tracks[lane.get("track")]
        volume = float(track.find("Channel/Volume").get("value"))
        clips = []
        for clip in lane.iter("Clip"):
            assert clip.get("contentTimeUnit") == "seconds"
            audio_element = clip.find("Audio")
            name = audio_element.find("File").get("path")
            if name not in cache:
                cache[name] = _file_audio(members[name])
            audio, file_rate = cache[name]
            assert file_rate == int(audio_element.get("sampleRate")) == rate and audio.shape[0] == int(audio_element.get("channels"))
            begin = float(clip.get("time"))
            start_s, end_s = to_seconds(begin), to_seconds(begin + float(clip.get("duration")))
            play_start, play_stop = float(clip.get("playStart")), float(clip.get("playStop"))
            length = round((play_stop - play_start) * rate)
            assert abs((end_s - start_s) * rate - length) < 1e-6 * rate, "the clip's duration on the timeline is its content's"
            fade_in, fade_out = _shapes(clip.get("comment", ""))
            seconds = 1.0 if clip.get("fadeTimeUnit", "seconds") == "seconds" else None
            clips.append(
                ReadClip(
                    start=round(start_s * rate),
                    length=length,
                    offset=round(play_start * rate),
                    gain=1.0,
                    fade_in=(round(float(clip.get("fadeInTime", 0)) * seconds * rate), fade_in),
                    fade_out=(round(float(clip.get("fadeOutTime", 0)) * seconds * rate), fade_out),
                    audio=audio,
                )
            )
        out[track.get("name").split()[0]] = ReadTrack(track.get("name"), volume, clips)
    return out


# ---- RPP -------------------------------------------------------------------------------------
@dataclass
class Chunk:
    name: str
    args: list[str]
    lines: list[list[str]]
    children: list[Chunk]
    notes: list[str]

    def first(self, key: str) -> list[str]:
        return next(line[1:] for line in self.lines if line[0] == key)


def rpp_tokens(line: str) -> list[str]:
    """Whitespace-separated tokens; one that starts with ", ' or ` runs to the next same mark."""
    tokens, index = [], 0
    while index < len(line):
        if line[index].isspace():
            index += 1
        elif line[index] in "\"'`":
            end = line.index(line[index], index + 1)
            tokens.append(line[index + 1 : end])
            index = end + 1
        else:
            end = index
            while end < len(line) and not line[end].isspace():
                end += 1
            tokens.append(line[index:end])
            index = end
    return tokens


def parse_rpp(text: str) -> Chunk:
    """RPP text as nested chunks: ``<NAME args`` opens one, ``>`` closes it, ``|text`` is a notes line."""
    stack: list[Chunk] = []
    root = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<"):
            tokens = rpp_tokens(line[1:])
            chunk = Chunk(tokens[0], tokens[1:], [], [], [])
            if stack:
                stack[-1].children.append(chunk)
            else:
                root = chunk
            stack.append(chunk)
        elif line == ">":
            stack.pop()
        elif line.startswith("|"):
            stack[-1].notes.append(line[1:])
        else:
            stack[-1].lines.append(rpp_tokens(line))
    assert not stack and root is not None, "unbalanced chunks"
    return root


def read_rpp(path: Path, rate: int) -> tuple[Chunk, dict[str, ReadTrack]]:
    """The parsed project and its tracks by name (first word), clips with files read beside the .rpp."""
    project = parse_rpp(path.read_text(encoding="utf-8"))
    out: dict[str, ReadTrack] = {}
    cache: dict[str, tuple[np.ndarray, int]] = {}
    for track in (c for c in project.children if c.name == "TRACK"):
        name = track.first("NAME")[0]
        clips = []
        for item in (c for c in track.children if c.name == "ITEM"):
            source = next(c for c in item.children if c.name == "SOURCE")
            assert source.args == [{".flac": "FLAC"}.get(Path(source.first("FILE")[0]).suffix, "WAVE")] and item.first("LOOP") == ["0"]
            file = source.first("FILE")[0]
            if file not in cache:
                cache[file] = _file_audio(path.parent / file)
            audio, file_rate = cache[file]
            notes = next((c for c in item.children if c.name == "NOTES"), None)
            fade_in, fade_out = _shapes(" ".join(notes.notes) if notes else "")
            fin, fout = item.first("FADEIN"), item.first("FADEOUT")
            volpan = item.first("VOLPAN")
            clips.append(
                ReadClip(
                    start=round(float(item.first("POSITION")[0]) * rate),
                    length=round(float(item.first("LENGTH")[0]) * rate),
                    offset=round(float(item.first("SOFFS")[0]) * file_rate),
                    gain=float(volpan[0]) * float(volpan[2]),
                    fade_in=(round(float(fin[1]) * rate), fade_in),
                    fade_out=(round(float(fout[1]) * rate), fade_out),
                    audio=audio,
                )
            )
        out[name.split()[0]] = ReadTrack(name, float(track.first("VOLPAN")[0]), clips)
    return project, out


# ---- mixing ----------------------------------------------------------------------------------
def fade(samples: int, shape: str, rising: bool) -> np.ndarray:
    """bundle-format.md step 6: w = (j + 0.5) / f, sin/cos(w pi/2) or w / 1 - w; a ramp is j / (f - 1)."""
    j = np.arange(samples, dtype=np.float64)
    if shape == "ramp":
        w = j / (samples - 1) if samples > 1 else np.zeros(samples)
        return w if rising else 1.0 - w
    w = (j + 0.5) / max(1, samples)
    if shape == "linear":
        return w if rising else 1.0 - w
    assert shape == "equal_power", shape
    return np.sin(w * np.pi / 2) if rising else np.cos(w * np.pi / 2)


def mix(track: ReadTrack, channels: int, length: int) -> np.ndarray:
    """The track's clips summed on a (channels, length) timeline, each with its gain and fades, times the track's volume."""
    out = np.zeros((channels, length), dtype=np.float64)
    for clip in track.clips:
        piece = np.zeros((clip.audio.shape[0], clip.length))
        lo, hi = max(0, clip.offset), min(clip.audio.shape[1], clip.offset + clip.length)
        if hi > lo:
            piece[:, lo - clip.offset : hi - clip.offset] = clip.audio[:, lo:hi]
        weights = np.ones(clip.length)
        weights[: clip.fade_in[0]] *= fade(clip.fade_in[0], clip.fade_in[1], True)
        if clip.fade_out[0]:
            weights[clip.length - clip.fade_out[0] :] *= fade(clip.fade_out[0], clip.fade_out[1], False)
        end = min(length, clip.start + clip.length)
        out[:, clip.start : end] += (piece * weights * clip.gain)[:, : end - clip.start]
    return out * track.volume

"""Small stand-ins for the paper's data sets, laid out as each documents itself, with tones for audio.

- MoisesDB (github.com/moises-ai/moises-db): ``<root>/moisesdb_v0.1/<track uuid>/data.json`` and one
  folder per stem type holding ``<source id>.<extension>``; data.json lists ``stems`` with ``stemName``
  and ``tracks`` (``id``, ``trackType``, ``extension``, ``has_bleed``). Audio: stereo, 44.1 kHz.
- MUSDB18-HQ (sigsep.github.io/datasets/musdb.html): ``<root>/train|test/<Artist - Title>/`` with
  ``mixture.wav``, ``drums.wav``, ``bass.wav``, ``other.wav``, ``vocals.wav``. Stereo, 44.1 kHz.
- Slakh2100 (github.com/ethman/slakh-utils): ``TrackNNNNN/`` with ``metadata.yaml`` (``stems``: ``Sxx``
  -> ``inst_class``, ``program_num``, ``is_drum``, ``audio_rendered``, ``midi_saved``…), ``stems/Sxx.flac``,
  ``MIDI/Sxx.mid``, ``all_src.mid``, ``mix.flac``. Mono, 44.1 kHz.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mido
import numpy as np

from plugin_core.io.audio import write_audio
from tests.conftest import tone

RATE = 44100
SECONDS = 1.0


def write(
    path: Path, freq_hz: float, *, channels: int = 1, rate: int = RATE, amplitude: float = 0.3, seconds: float = SECONDS
) -> np.ndarray:
    """A tone written to ``path`` (folders made); returns its samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = tone(freq_hz, seconds, rate, amplitude=amplitude, channels=channels)
    write_audio(path, samples, rate)
    return samples


def moisesdb_song(
    root: Path, sources: dict[str, list[tuple[str, float]]], *, song: str = "a song", provider: str = "moisesdb_v0.1", channels: int = 2
) -> Path:
    """A MoisesDB track folder: ``sources`` maps a stem type to its (trackType, frequency) sources."""
    folder = root / provider / str(uuid.uuid4())
    stems = []
    for stem_name, tracks in sources.items():
        entries = []
        for track_type, freq in tracks:
            track_id = str(uuid.uuid4())
            write(folder / stem_name / f"{track_id}.wav", freq, channels=channels)
            entries.append({"id": track_id, "trackType": track_type, "extension": "wav", "has_bleed": False})
        stems.append({"id": str(uuid.uuid4()), "stemName": stem_name, "tracks": entries})
    data = {"id": folder.name, "artist": "An Artist", "song": song, "genre": "rock", "stems": stems}
    (folder / "data.json").write_text(json.dumps(data, indent=1))
    return folder


def musdb_song(root: Path, subset: str, name: str, *, freqs: dict[str, float] | None = None) -> Path:
    """A MUSDB18-HQ song folder: the four sources and their mixture, stereo."""
    folder = root / subset / name
    freqs = freqs or {"drums": 200.0, "bass": 55.0, "other": 330.0, "vocals": 440.0}
    mixture = sum(write(folder / f"{source}.wav", freq, channels=2, amplitude=0.2) for source, freq in freqs.items())
    write_audio(folder / "mixture.wav", mixture, RATE)
    return folder


def slakh_track(root: Path, name: str, stems: dict[str, dict], *, amplitudes: dict[str, float] | None = None) -> Path:
    """A Slakh2100 track folder; ``stems`` maps ``Sxx`` to its metadata (``inst_class``, ``program_num``…).
    A stem with ``audio_rendered: false`` gets no audio, as in the data set."""
    folder = root / name
    amplitudes = amplitudes or {}
    lines = [f"UUID: {uuid.uuid4().hex}", "audio_dir: stems", "midi_dir: MIDI", "normalized: true", "overall_gain: 0.5", "stems:"]
    for index, (stem, meta) in enumerate(stems.items()):
        entry = {
            "audio_rendered": True,
            "is_drum": False,
            "midi_saved": True,
            "plugin_name": "a_patch.nkm",
            "integrated_loudness": -13.0,
            **meta,
        }
        lines.append(f"  {stem}:")
        lines += [f"    {key}: {_yaml_scalar(value)}" for key, value in entry.items()]
        if entry["audio_rendered"]:
            write(folder / "stems" / f"{stem}.flac", 110.0 * (index + 1), amplitude=amplitudes.get(stem, 0.3))
        _midi(folder / "MIDI" / f"{stem}.mid")
    lines.append("target_peak: -1.0")
    (folder / "metadata.yaml").write_text("\n".join(lines) + "\n")
    _midi(folder / "all_src.mid")
    write(folder / "mix.flac", 100.0)
    return folder


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _midi(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    midi = mido.MidiFile()
    track = mido.MidiTrack(
        [mido.MetaMessage("set_tempo", tempo=500000), mido.Message("note_on", note=60, time=0), mido.Message("note_off", note=60, time=480)]
    )
    midi.tracks.append(track)
    midi.save(str(path))


SLAKH_BAND = {
    "S00": {"inst_class": "Piano", "program_num": 0, "midi_program_name": "Acoustic Grand Piano"},
    "S01": {"inst_class": "Bass", "program_num": 33, "midi_program_name": "Electric Bass (finger)"},
    "S02": {"inst_class": "Piano", "program_num": 4, "midi_program_name": "Electric Piano 1"},
    "S03": {"inst_class": "Sound Effects", "program_num": 120, "audio_rendered": False, "midi_program_name": "Guitar Fret Noise"},
}

"""Slakh2100 (and its redux and baby versions): ``TrackNNNNN/`` folders, directly under the root or
under split folders (``train``, ``validation``, ``test``, ``omitted``), each with ``metadata.yaml``,
``stems/Sxx.flac``, ``MIDI/Sxx.mid``, ``all_src.mid`` and ``mix.flac``.

``metadata.yaml``'s ``stems`` maps ``S00``… to ``inst_class`` (the General MIDI class: ``Piano``,
``Bass``, ``Guitar``, ``Drums``…), ``program_num``, ``is_drum``, ``midi_program_name``,
``audio_rendered`` (a few sources have no audio) and ``midi_saved``. Stems are chosen by class
(``Bass`` or ``class:Bass``, globs allowed: ``Synth*``); the song's MIDI (``all_src.mid``, which the
stems were rendered from) is its tempo map. The YAML is read with PyYAML's ``safe_load`` only (plain
data, never objects), from the train extra.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from export.data.datasets.base import Song, Stem, glob_match, has_marked_song, nested_songs, plain_name
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import AUDIO_EXTENSIONS

METADATA = "metadata.yaml"
CLASS = "class:"
SPLITS = ("train", "validation", "test", "omitted")


class Slakh:
    """Slakh2100: stems chosen by instrument class (``Bass``, ``Piano``, or ``class:Bass``)."""

    name = "slakh"
    title = "Slakh2100"
    expects = "TrackNNNNN folders with metadata.yaml and stems/, directly or inside train/, validation/, test/"
    selectors = "instrument classes such as Piano, Bass, Guitar, Drums (optionally written class:Bass)"
    origin = "Slakh2100 (Manilow et al. 2019; slakh.com)"
    licence = "CC BY 4.0"

    def detect(self, root: Path) -> bool:
        return has_marked_song(root, lambda folder: (folder / METADATA).is_file() and (folder / "stems").is_dir())

    def song_folders(self, root: Path) -> list[Path]:
        _yaml()  # before any song: without PyYAML no song can be read
        return nested_songs(root, METADATA)

    def read_song(self, folder: Path) -> Song:
        metadata = _read_metadata(folder)
        audio_dir = folder / _dir_name(metadata, "audio_dir", "stems", folder)
        midi_dir = folder / _dir_name(metadata, "midi_dir", "MIDI", folder)
        stems = []
        for key, entry in sorted(metadata["stems"].items(), key=lambda item: str(item[0])):
            name = plain_name(str(key))
            if name is None:
                raise CountertrackError(f"metadata.yaml names a stem {key!r}, which is not a file name", folder)
            if not isinstance(entry, dict) or entry.get("audio_rendered", True) is False:
                continue  # a source Slakh did not render (e.g. sound effects) has no audio
            inst_class = entry.get("inst_class")
            if not isinstance(inst_class, str):
                raise CountertrackError(f"metadata.yaml gives stem {name} no inst_class", folder)
            audio = _stem_audio(audio_dir, name, folder)
            saved = midi_dir / f"{name}.mid"
            midi = saved if entry.get("midi_saved", True) and saved.is_file() else None
            details = {
                field: entry[field]
                for field in ("inst_class", "program_num", "midi_program_name", "is_drum")
                if isinstance(entry.get(field), (str, int, float, bool))
            }  # plain values only: they go into JSON
            details["audio"] = audio.relative_to(folder).as_posix()
            if midi is not None:
                details["midi"] = midi.relative_to(folder).as_posix()
            stems.append(Stem(name=name, files=(audio,), kind=inst_class, midi=midi, details=details))
        provenance: dict[str, Any] = {"split": folder.parent.name} if folder.parent.name in SPLITS else {}
        if isinstance(metadata.get("UUID"), str):
            provenance["lakh_uuid"] = metadata["UUID"]
        all_src = folder / "all_src.mid"
        return Song(
            id=folder.name, folder=folder, stems=tuple(stems), provenance=provenance, tempo_midi=all_src if all_src.is_file() else None
        )

    def accepts(self, selector: str) -> bool:
        return bool(_class_pattern(selector))

    def matches(self, stem: Stem, selector: str) -> bool:
        return glob_match(stem.kind, _class_pattern(selector))

    def label(self, stem: Stem) -> str:
        return stem.kind


def _class_pattern(selector: str) -> str:
    """The instrument-class pattern of a selector, without its optional ``class:`` prefix."""
    text = selector.strip()
    return text[len(CLASS) :].strip() if text.lower().startswith(CLASS) else text


def _dir_name(metadata: dict[str, Any], key: str, default: str, folder: Path) -> str:
    """``audio_dir``/``midi_dir`` of metadata.yaml: a plain folder name inside the track folder."""
    value = metadata.get(key)
    if value is None:
        return default
    name = plain_name(value)
    if name is None:
        raise CountertrackError(f"metadata.yaml's {key} {value!r} is not a folder name", folder)
    return name


def _read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA
    if not path.is_file():
        raise CountertrackError(f"has no {METADATA} (not a Slakh track folder)", folder)
    yaml = _yaml()
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CountertrackError(f"not readable YAML ({' '.join(str(exc).split())})", path) from exc
    if not isinstance(metadata, dict) or not isinstance(metadata.get("stems"), dict):
        raise CountertrackError("has no 'stems' mapping", path)
    return metadata


def _yaml() -> ModuleType:
    """PyYAML, from the train extra; when it is missing the ModuleNotFoundError (name 'yaml') reaches
    the command line, which says in one line how to install the extra."""
    import yaml

    return yaml


def _stem_audio(audio_dir: Path, name: str, folder: Path) -> Path:
    """``stems/Sxx.flac`` (or .wav, as in baby Slakh and converted copies)."""
    for extension in AUDIO_EXTENSIONS:
        path = audio_dir / f"{name}{extension}"
        if path.is_file():
            return path
    raise CountertrackError(f"metadata.yaml says stem {name} was rendered but {audio_dir.name}/{name}.flac is missing", folder)

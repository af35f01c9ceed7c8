"""MoisesDB: ``<provider>/<track uuid>/`` song folders (the release has one provider,
``moisesdb_v0.1``), each with ``data.json`` and one sub-folder per stem type.

``data.json`` lists ``stems``, each with a ``stemName`` (the sub-folder: ``bass``, ``drums``,
``other_keys``…) and ``tracks``: the sources of that stem, each with ``id``, ``extension`` and
``trackType`` (``bass_guitar``, ``kick_drum``…), stored as ``<stemName>/<id>.<extension>``. As in the
moisesdb package, a stem is the sum of its sources, and entries sharing a ``stemName`` are one stem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from export.data.datasets.base import Song, Stem, glob_match, has_marked_song, nested_songs, plain_name
from plugin_core.errors import CountertrackError

METADATA = "data.json"


class MoisesDB:
    """MoisesDB: stems chosen by stem type (``bass``, ``drums``, ``guitar``…)."""

    name = "moisesdb"
    title = "MoisesDB"
    expects = "song folders with data.json, directly or inside a provider folder such as moisesdb_v0.1"
    selectors = "stem types such as bass, drums, guitar, vocals"
    origin = "MoisesDB (Pereira et al. 2023; github.com/moises-ai/moises-db)"
    licence = "non-commercial use only, under the terms Moises gives with the download (see github.com/moises-ai/moises-db)"

    def detect(self, root: Path) -> bool:
        return has_marked_song(root, lambda folder: (folder / METADATA).is_file())

    def song_folders(self, root: Path) -> list[Path]:
        return nested_songs(root, METADATA)

    def read_song(self, folder: Path) -> Song:
        data = _read_data_json(folder)
        sources: dict[str, list[tuple[Path, str]]] = {}
        for entry in data["stems"]:
            stem_name = _field(entry, "stemName", folder)
            for track in entry.get("tracks") or []:
                path = folder / stem_name / f"{_field(track, 'id', folder)}.{_field(track, 'extension', folder)}"
                if not path.is_file():
                    raise CountertrackError(f"{path.relative_to(folder)} (listed in data.json) is missing", folder)
                sources.setdefault(stem_name, []).append((path, str(track.get("trackType", ""))))
        stems = tuple(
            Stem(
                name=name,
                files=tuple(path for path, _ in tracks),
                kind=name,
                details={
                    "sources": [path.relative_to(folder).as_posix() for path, _ in tracks],
                    "track_types": [track_type for _, track_type in tracks],
                },
            )
            for name, tracks in sorted(sources.items())
        )
        provenance = {"provider": folder.parent.name}  # the moisesdb package's <data_path>/<provider>/<track id>
        names = {"artist": "artist", "song": "title", "genre": "genre"}  # data.json's key -> ours
        provenance.update({ours: data[key] for key, ours in names.items() if isinstance(data.get(key), str)})
        return Song(id=folder.name, folder=folder, stems=stems, provenance=provenance)

    def accepts(self, selector: str) -> bool:
        return not selector.lower().startswith("class:")

    def matches(self, stem: Stem, selector: str) -> bool:
        return glob_match(stem.name, selector)

    def label(self, stem: Stem) -> str:
        return stem.name


def _read_data_json(folder: Path) -> dict[str, Any]:
    path = folder / METADATA
    if not path.is_file():
        raise CountertrackError(f"has no {METADATA} (not a MoisesDB song folder)", folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CountertrackError(f"not readable JSON ({exc})", path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("stems"), list):
        raise CountertrackError("has no 'stems' list", path)
    return data


def _field(entry: Any, key: str, folder: Path) -> str:
    value = plain_name(entry.get(key) if isinstance(entry, dict) else None)
    if value is None:
        raise CountertrackError(f"data.json has an entry without a usable {key!r}", folder)
    return value

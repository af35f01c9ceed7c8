"""``render --arrangement OUT``: the answer as a folder a DAW opens.

    OUT/OUT.dawproject   Bitwig Studio, Studio One, Cubase ... (self-contained zip)
    OUT/OUT.rpp          Reaper, playing the files in OUT/audio/
    OUT/audio/           memory.wav (the memory as the engine played it), A, clip-*.wav (pre-rendered clips)

The folder is one output of the render's transaction (``plugin_core.io.outputs``): checked before the
render, built in a staged folder, moved into place with the other outputs, and replaced only with
``force`` and only when it is a session folder already.
"""

from __future__ import annotations

import os
from pathlib import Path

from plugin_core.arrangement.clips import ClipList, build_clip_list
from plugin_core.arrangement.dawproject import write_dawproject
from plugin_core.arrangement.media import AUDIO_FOLDER, MEMORY_FILE, write_media
from plugin_core.arrangement.reaper import write_rpp
from plugin_core.engine.memory import Memory
from plugin_core.io.audio import AudioInfo
from plugin_core.io.outputs import Output
from plugin_core.stream.sidechain import Decision


def session_name(target: str | os.PathLike[str]) -> str:
    """The stem of the session files inside the folder ``target`` (its own name)."""
    return Path(target).name.removesuffix(".session") or "answer"


def is_session(folder: Path) -> bool:
    """Whether ``folder`` looks like a session this command wrote (so ``--force`` may replace it)."""
    return (folder / AUDIO_FOLDER / MEMORY_FILE).is_file() and any(folder.glob("*.rpp"))


def session_output(target: str | os.PathLike[str]) -> Output:
    """The session folder as an output of a transaction."""
    return Output(
        Path(target),
        folder=True,
        replaceable=is_session,
        not_replaceable="exists and is not a countertrack session; refusing to replace it",
    )


def write_session(
    decisions: list[Decision],
    boundaries,
    memory: Memory,
    a_path: str | os.PathLike[str],
    a_info: AudioInfo,
    folder: Path,
    name: str,
    *,
    wet: float = 1.0,
    segments_per_beat: int | None = None,
    end_fade: int | None = None,
) -> ClipList:
    """Both session files and their audio into ``folder`` (a staged, empty folder); returns the clips.
    ``end_fade``: an anticipating answer's (``Rendered.end_fade``)."""
    clips = build_clip_list(
        decisions,
        boundaries,
        memory,
        sample_rate=a_info.sample_rate,
        channels=a_info.num_channels,
        length=a_info.num_samples,
        segments_per_beat=segments_per_beat,
        end_fade=end_fade,
    )
    a_name = write_media(clips, memory, a_path, folder)
    write_rpp(clips, a_info, a_name, folder / f"{name}.rpp", wet=wet)
    write_dawproject(clips, memory, a_info, a_name, folder, folder / f"{name}.dawproject", wet=wet)
    return clips

"""Reading a user's MIDI file for its timing (a tempo map, CC automation): parsed with mido, then
checked, so a damaged or hostile file is one line naming it, never a traceback or a runaway.

Refused: a file that does not parse or is not a regular file, one larger than ``MAX_MIDI_BYTES``, a
chunk whose size runs past the end of the file (checked before mido, which allocates what a chunk
claims), SMPTE or zero time
division (``ticks_per_beat`` must be 1..32767), type 2 files (independent sequences: no single
timeline), and tempo events outside ``MIN_TEMPO_US..MAX_TEMPO_US`` microseconds per beat
(1000 BPM down to the slowest tempo MIDI can write).
"""

from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError

from plugin_core.errors import ConfigurationError

MAX_MIDI_BYTES = 64 << 20
MIN_TEMPO_US = 60_000  # 1000 quarter notes a minute
MAX_TEMPO_US = 16_777_215  # the largest a set_tempo event holds (3.6 BPM)
DEFAULT_TEMPO_US = 500_000
_PARSE_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error, KeySignatureError)


def read_midi(path: str | os.PathLike[str]) -> mido.MidiFile:
    """The MIDI file at ``path``, parsed and checked for timing (see the module's docstring)."""
    path = Path(path)
    try:
        status = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"cannot read this MIDI file ({exc.strerror})", path) from exc
    if not stat.S_ISREG(status.st_mode):
        raise ConfigurationError("is not a regular file", path)
    size = status.st_size
    if size > MAX_MIDI_BYTES:
        raise ConfigurationError(f"is {size} bytes, more than a MIDI file of tempo or automation may hold ({MAX_MIDI_BYTES})", path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read this MIDI file ({exc.strerror})", path) from exc
    _check_chunks(data, path)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except _PARSE_ERRORS as exc:
        raise ConfigurationError(f"not a readable MIDI file ({' '.join(str(exc).split())[:120] or type(exc).__name__})", path) from exc
    if not 1 <= midi.ticks_per_beat <= 32767:
        raise ConfigurationError(
            f"its time division ({midi.ticks_per_beat} ticks per beat) is not 1..32767 ticks per quarter note "
            "(SMPTE time is not supported)",
            path,
        )
    if midi.type == 2:
        raise ConfigurationError("is a type 2 MIDI file (independent sequences, no single timeline); save it as type 0 or 1", path)
    for track in midi.tracks:
        for message in track:
            if message.type == "set_tempo" and not MIN_TEMPO_US <= message.tempo <= MAX_TEMPO_US:
                raise ConfigurationError(
                    f"holds a tempo of {message.tempo} microseconds per beat; tempos must be "
                    f"{MIN_TEMPO_US}..{MAX_TEMPO_US} (1000 down to 3.6 quarter notes a minute)",
                    path,
                )
    return midi


def _check_chunks(data: bytes, path: Path) -> None:
    """Every chunk (MThd, MTrk, ...) fits in the file: mido allocates what a chunk's size field says
    before reading, so one damaged byte there asked for gigabytes (found by the fuzz test)."""
    if data[:4] != b"MThd":
        raise ConfigurationError("not a readable MIDI file (it does not start with MThd)", path)
    position = 0
    while len(data) - position >= 8:
        name, size = data[position : position + 4], struct.unpack(">I", data[position + 4 : position + 8])[0]
        if size > len(data) - position - 8:
            shown = name.decode("latin-1") if name.isascii() and name.decode("latin-1").isprintable() else name.hex()
            raise ConfigurationError(
                f"not a readable MIDI file (its {shown} chunk claims {size} bytes; {len(data) - position - 8} follow)", path
            )
        position += 8 + size


def tempo_changes(midi: mido.MidiFile) -> list[tuple[int, int]]:
    """(tick, microseconds per beat) of every tempo event of a checked file, in order, starting at tick 0
    (120 BPM until the first event, as MIDI says)."""
    changes: list[tuple[int, int]] = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                changes.append((tick, message.tempo))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, DEFAULT_TEMPO_US))
    return changes

"""A session's audio: the memory as the engine played it (copied, or resampled and mixed down), A
under a name that cannot collide with ours, and pre-rendered clips as float WAV."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from plugin_core.arrangement.media import MEMORY_FILE, a_file_name, memory_channels, memory_frames, write_media, write_memory
from plugin_core.errors import CountertrackError
from tests.arranged import arrange


def test_a_is_renamed_only_where_it_would_collide():
    assert a_file_name("/x/song.wav") == "song.wav"
    assert a_file_name("/x/Memory.WAV") == "A-Memory.WAV"
    assert a_file_name("clip-00001.wav") == "A-clip-00001.wav"


def test_the_memory_at_its_own_rate_is_copied_byte_for_byte_and_a_beside_it(tmp_path):
    arranged = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0)
    memory = arranged.bundle.memory
    name = write_media(arranged.clips, memory, arranged.a_path, tmp_path)
    assert name == "a.wav" and (tmp_path / "audio" / name).read_bytes() == arranged.a_path.read_bytes()
    assert (tmp_path / "audio" / MEMORY_FILE).read_bytes() == memory.path.read_bytes()
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == sorted([MEMORY_FILE, name, *arranged.clips.rendered])


def test_the_memory_at_another_rate_is_written_as_the_engine_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "cache"))
    memory = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0).bundle.memory
    assert memory_channels(memory, 2) == memory.channels and memory_frames(memory, memory.sample_rate) == memory.frames
    write_memory(memory, 48000, 2, tmp_path / "m.wav")
    samples, rate = soundfile.read(str(tmp_path / "m.wav"), dtype="float32", always_2d=True)
    assert rate == 48000 and samples.shape == (memory_frames(memory, 48000), memory_channels(memory, 2))
    np.testing.assert_array_equal(samples.T, memory.read(0, samples.shape[0], 48000))


def test_a_folder_that_cannot_hold_the_audio_is_one_line(tmp_path):
    arranged = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0)
    (tmp_path / "session").write_text("a file where the folder should be")
    with pytest.raises(CountertrackError, match="cannot make the session's audio folder"):
        write_media(arranged.clips, arranged.bundle.memory, arranged.a_path, tmp_path / "session")

"""The DAWproject: a zip of project.xml, metadata.xml and the audio, whose clips (gains baked into
their own files) mix back to the rendered B on A's tempo map."""

from __future__ import annotations

import zipfile
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from plugin_core.arrangement.dawproject import clip_comment, metadata_xml, write_dawproject
from plugin_core.arrangement.media import write_media
from plugin_core.errors import CountertrackError
from tests.arranged import arrange
from tests.bundles import RATE
from tests.sessions import mix, read_dawproject


@pytest.mark.parametrize(("bpm", "channels"), [(97.0, 2), (120.0, 1)])
def test_the_projects_clips_mix_back_to_b(tmp_path, bpm, channels):
    arranged = arrange(tmp_path, bpm=bpm, channels=channels)
    write_media(arranged.clips, arranged.bundle.memory, arranged.a_path, tmp_path)
    write_dawproject(arranged.clips, arranged.bundle.memory, arranged.a.info, "a.wav", tmp_path, tmp_path / "s.dawproject", wet=0.5)
    tracks = read_dawproject(tmp_path / "s.dawproject", RATE)
    assert set(tracks) == {"A", "B"} and tracks["B"].volume == 0.5
    assert len(tracks["B"].clips) == len(arranged.clips.clips)
    np.testing.assert_allclose(mix(tracks["B"], channels, arranged.a.num_samples), 0.5 * arranged.rendered.samples, atol=2e-6, rtol=0)
    with zipfile.ZipFile(tmp_path / "s.dawproject") as archive:
        names = set(archive.namelist())
        project = ET.fromstring(archive.read("project.xml"))
    assert {"project.xml", "metadata.xml", "audio/memory.wav", "audio/a.wav"} <= names
    assert project.find("Arrangement/Lanes").get("timeUnit") == "beats"
    gained = [clip for clip in arranged.clips.clips if clip.gain != 1.0]
    assert len([n for n in names if n.startswith("audio/gain/")]) == len(gained)
    assert not (tmp_path / ".gain-scratch.wav").exists()


def test_a_clips_comment_says_what_the_format_cannot_hold(tmp_path):
    arranged = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0)
    clip = arranged.clips.clips[0]
    comment = clip_comment(clip)
    assert comment.startswith(f"countertrack: A segments {clip.segments[0]}-{clip.segments[-1]};")
    assert f"fade-in {clip.fade_in.shape}" in comment and f"gain {clip.gain!r}" in comment
    assert metadata_xml("song.wav").find("Title").text == "countertrack answer to song.wav"


def test_a_project_that_cannot_be_written_is_one_line(tmp_path):
    arranged = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0)
    write_media(arranged.clips, arranged.bundle.memory, arranged.a_path, tmp_path)
    with pytest.raises(CountertrackError, match="cannot write the DAWproject"):
        write_dawproject(
            arranged.clips, arranged.bundle.memory, arranged.a.info, "a.wav", tmp_path, tmp_path / "no" / "s.dawproject", wet=1.0
        )

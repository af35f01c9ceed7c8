"""The Reaper project: strings quoted so they read back, the source types, the tempo map, and clips that
mix back to the rendered B."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.arrangement.media import write_media
from plugin_core.arrangement.reaper import quote, source_type, write_rpp
from plugin_core.errors import CountertrackError
from tests.arranged import arrange
from tests.bundles import RATE
from tests.sessions import mix, parse_rpp, read_rpp


@pytest.mark.parametrize("text", ["plain", "with space", 'say "hi"', 'it\'s "both"', "all ` ' \" three"])
def test_rpp_strings_read_back(text):
    chunk = parse_rpp(f"<ROOT\n  NAME {quote(text)}\n>\n")
    assert chunk.first("NAME") == [text if not all(mark in text for mark in "\"'`") else text.replace("`", "'")]


def test_source_types_follow_the_file_extension():
    assert [source_type(n) for n in ("a.flac", "a.OGG", "a.mp3", "a.opus", "a.wav", "a.aiff")] == [
        "FLAC",
        "VORBIS",
        "MP3",
        "OPUS",
        "WAVE",
        "WAVE",
    ]


def test_the_project_holds_a_b_and_a_tempo_map_and_its_clips_mix_back_to_b(tmp_path):
    arranged = arrange(tmp_path, bpm=97.0, channels=2)
    write_media(arranged.clips, arranged.bundle.memory, arranged.a_path, tmp_path)
    write_rpp(arranged.clips, arranged.a.info, "a.wav", tmp_path / "s.rpp", wet=0.7)
    project, tracks = read_rpp(tmp_path / "s.rpp", RATE)
    assert project.first("SAMPLERATE")[0] == str(RATE)
    assert set(tracks) == {"A", "B"} and tracks["B"].volume == 0.7 and tracks["A"].volume == 1.0
    assert len(tracks["B"].clips) == len(arranged.clips.clips)
    np.testing.assert_allclose(
        mix(tracks["B"], 2, arranged.a.num_samples), 0.7 * arranged.rendered.samples, atol=2e-6, rtol=0
    )  # at B's volume
    assert float(project.first("TEMPO")[0]) == pytest.approx(arranged.clips.tempo_map()[0].bpm)
    assert "<TEMPOENVEX" in (tmp_path / "s.rpp").read_text()  # A's beats: a tempo map, not one tempo


def test_an_unwritable_project_is_one_line(tmp_path):
    arranged = arrange(tmp_path, bpm=120.0, channels=1, seconds=3.0)
    with pytest.raises(CountertrackError, match="cannot write the Reaper project"):
        write_rpp(arranged.clips, arranged.a.info, "a.wav", tmp_path / "missing" / "s.rpp", wet=1.0)

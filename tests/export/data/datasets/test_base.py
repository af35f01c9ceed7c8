"""What every layout shares: song folders found by a marker file, names from metadata that cannot
lead out of a song, case-insensitive patterns."""

from __future__ import annotations

import pytest

from export.data.datasets.base import glob_match, has_marked_song, nested_songs, plain_name, subfolders


def test_song_folders_are_found_directly_or_one_level_down_and_hidden_ones_skipped(tmp_path):
    for folder in ("b-song", "a-song", "split/one", "split/two", ".staging/x", "lacks-marker"):
        (tmp_path / folder).mkdir(parents=True)
    for marked in ("a-song", "b-song", "split/one", "split/two", ".staging/x"):
        (tmp_path / marked / "data.json").write_text("{}")
    assert [p.name for p in subfolders(tmp_path)] == ["a-song", "b-song", "lacks-marker", "split"]
    found = [p.relative_to(tmp_path).as_posix() for p in nested_songs(tmp_path, "data.json")]
    assert found == ["a-song", "b-song", "lacks-marker", "split/one", "split/two"]  # the unmarked one is kept, to be reported
    assert has_marked_song(tmp_path, lambda folder: (folder / "data.json").is_file())
    assert not has_marked_song(tmp_path / "lacks-marker", lambda folder: True)
    assert subfolders(tmp_path / "missing") == []


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "a\0b", 3, None, ["x"]])
def test_a_name_that_could_leave_the_song_folder_is_no_name(bad):
    assert plain_name(bad) is None


def test_plain_names_pass_and_patterns_ignore_case():
    assert plain_name("S01.flac") == "S01.flac" and plain_name("..hidden") == "..hidden"
    assert glob_match("Bass.WAV", "bass*") and glob_match("drums.wav", "DRUMS.wav") and not glob_match("bass.wav", "drums*")

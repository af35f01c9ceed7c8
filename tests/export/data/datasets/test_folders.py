"""Plain song folders: one sub-folder per song, each audio file a stem chosen by its file name."""

from __future__ import annotations

from export.data.datasets.folders import Folders
from export.data.stems_corpus import build_from_stems
from plugin_core.io.corpus import load_corpus
from tests.dataset_layouts import write


def test_every_audio_file_of_a_song_folder_is_a_stem_matched_by_its_name_or_its_stem(tmp_path):
    write(tmp_path / "one" / "Bass.wav", 55.0)
    write(tmp_path / "one" / "drums.flac", 200.0)
    (tmp_path / "one" / "notes.txt").write_text("not audio")
    layout = Folders()
    assert [p.name for p in layout.song_folders(tmp_path)] == ["one"]
    song = layout.read_song(tmp_path / "one")
    assert song.id == "one" and sorted(s.name for s in song.stems) == ["Bass.wav", "drums.flac"]
    bass = next(s for s in song.stems if s.name == "Bass.wav")
    assert layout.matches(bass, "bass") and layout.matches(bass, "bass*") and layout.matches(bass, "BASS.wav")
    assert not layout.matches(bass, "drums") and layout.label(bass) == "Bass.wav"
    assert layout.accepts("bass*") and not layout.accepts("class:Bass")


def test_a_corpus_is_built_from_plain_song_folders(tmp_path):
    for song in ("one", "two"):
        write(tmp_path / "songs" / song / "melody.wav", 440.0)
        write(tmp_path / "songs" / song / "bass.wav", 55.0)
    corpus, problems = build_from_stems(tmp_path / "songs", ("melody",), ("bass",), tmp_path / "corpus")
    assert problems == [] and [p.id for p in load_corpus(tmp_path / "corpus").pairs] == ["one", "two"]

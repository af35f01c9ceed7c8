"""``countertrack batch``: outputs keep the inputs' sub-folders, --force renders again, --mix/--midi-out
write beside each B, and tempo and decision options reach every file as they reach ``render``."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.io.audio import read_audio, write_audio
from tests.bundles import RATE, make_synthetic_bundle, tone_melody


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """Two song folders each holding a melody.wav (names that collide without their folders), and a bundle."""
    folder = tmp_path_factory.mktemp("batch-songs")
    bundle = make_synthetic_bundle(folder / "bundle", segmentation={"strategy": "beats", "bpm": 120.0})
    for index, song in enumerate(("first song", "second")):
        (folder / "songs" / song).mkdir(parents=True)
        write_audio(folder / "songs" / song / "melody.wav", tone_melody(4.0, 120.0, seed=index), RATE, subtype="FLOAT")
    return folder, bundle


def _batch(songs, out, *options: str) -> int:
    folder, bundle = songs
    return main(["batch", str(folder / "songs" / "*" / "melody.wav"), "--bundle", str(bundle), "-o", str(out), "--jobs", "1", *options])


def test_outputs_keep_the_song_folders_and_extra_files_sit_beside_b(songs, tmp_path, capsys):
    out = tmp_path / "out"
    assert _batch(songs, out, "--mix", "--midi-out", "--bpm", "120") == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    named = [line.removeprefix("wrote ") for line in capsys.readouterr().out.splitlines() if line.startswith("wrote ")]
    assert sorted(named) == sorted(str(out / name) for name in written if name != "batch-summary.json")  # every file named
    assert json.loads((out / "batch-summary.json").read_text())["written"] == sorted(named)
    assert written == [
        "batch-summary.json",
        "first song/melody.mid",
        "first song/melody.mix.wav",
        "first song/melody.wav",
        "second/melody.mid",
        "second/melody.mix.wav",
        "second/melody.wav",
    ]
    for song in ("first song", "second"):
        a = read_audio(songs[0] / "songs" / song / "melody.wav").samples
        b = read_audio(out / song / "melody.wav").samples
        np.testing.assert_allclose(read_audio(out / song / "melody.mix.wav").samples, a + b, atol=1e-6)
        assert any(m.type == "note_on" for m in mido.MidiFile(out / song / "melody.mid").tracks[-1])


def test_the_same_song_renders_the_same_b_in_a_batch_and_alone(songs, tmp_path):
    folder, bundle = songs
    out = tmp_path / "out"
    assert _batch(songs, out, "--bpm", "120", "--seed", "5", "--temperature", "1.3") == 0
    alone = tmp_path / "alone.wav"
    assert (
        main(
            [
                "render",
                str(folder / "songs" / "second" / "melody.wav"),
                "--bundle",
                str(bundle),
                "-o",
                str(alone),
                "--bpm",
                "120",
                "--seed",
                "5",
                "--temperature",
                "1.3",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(read_audio(out / "second" / "melody.wav").samples, read_audio(alone).samples)


def test_existing_outputs_are_skipped_unless_forced(songs, tmp_path):
    out = tmp_path / "out"
    assert _batch(songs, out, "--bpm", "120") == 0
    b = out / "second" / "melody.wav"
    b.write_bytes(b"not audio: replaced only with --force")
    assert _batch(songs, out, "--bpm", "120") == 0
    assert json.loads((out / "batch-summary.json").read_text())["skipped"] == sorted(
        str(songs[0] / "songs" / s / "melody.wav") for s in ("first song", "second")
    )
    assert b.read_bytes().startswith(b"not audio")
    assert _batch(songs, out, "--bpm", "120", "--force") == 0
    assert read_audio(b).num_samples == 4 * RATE


def test_a_song_rendered_before_without_its_mix_is_reported_and_kept_until_forced(songs, tmp_path, capsys):
    """A rerun with --mix finds B there and its mix not: rendering would replace B, so the song is
    reported (what is there, what is not), left as it is, and rendered again with --force."""
    out = tmp_path / "out"
    assert _batch(songs, out, "--bpm", "120") == 0
    b = out / "second" / "melody.wav"
    before = b.read_bytes()
    capsys.readouterr()
    assert _batch(songs, out, "--bpm", "120", "--mix") == 1
    err = capsys.readouterr().err
    assert f"partly rendered before (melody.wav in {out / 'second'}, not melody.mix.wav): --force renders it again" in err
    assert b.read_bytes() == before and not (out / "second" / "melody.mix.wav").exists()
    assert _batch(songs, out, "--bpm", "120", "--mix", "--force") == 0
    assert (out / "second" / "melody.mix.wav").exists()


def test_a_file_named_like_the_summary_that_is_not_one_is_kept_unless_forced(songs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    notes = out / "batch-summary.json"
    notes.write_text("my notes")
    assert _batch(songs, out, "--bpm", "120") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(notes) in err[0] and "not a batch summary" in err[0] and "--force" in err[0]
    assert notes.read_text() == "my notes" and not list(out.rglob("*.wav"))  # checked before any work
    assert _batch(songs, out, "--bpm", "120") == 1  # still kept
    assert _batch(songs, out, "--bpm", "120", "--force") == 0
    assert json.loads(notes.read_text())["succeeded"]
    assert _batch(songs, out, "--bpm", "120") == 0  # its own summary: a rerun updates it


def test_a_bad_tempo_map_is_one_line_before_any_output(songs, tmp_path, capsys):
    bad = tmp_path / "tempo.mid"
    bad.write_bytes(b"MThd junk")
    out = tmp_path / "out"
    assert _batch(songs, out, "--tempo-map", str(bad)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tempo.mid" in err[0]
    assert not list(out.rglob("*.wav"))


def test_a_tempo_map_reaches_every_file_as_it_reaches_render(songs, tmp_path):
    folder, bundle = songs
    tempo = tmp_path / "tempo.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90.0), time=0)])
    track += [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150.0), time=480 * 3), mido.MetaMessage("end_of_track", time=480 * 8)]
    midi.tracks.append(track)
    midi.save(str(tempo))
    out = tmp_path / "out"
    assert _batch(songs, out, "--tempo-map", str(tempo), "--seed", "3") == 0
    solo, steady = tmp_path / "solo.wav", tmp_path / "steady.wav"
    a = str(folder / "songs" / "second" / "melody.wav")
    assert main(["render", a, "--bundle", str(bundle), "-o", str(solo), "--tempo-map", str(tempo), "--seed", "3"]) == 0
    assert main(["render", a, "--bundle", str(bundle), "-o", str(steady), "--bpm", "120", "--seed", "3"]) == 0
    b = read_audio(out / "second" / "melody.wav").samples
    np.testing.assert_array_equal(b, read_audio(solo).samples)
    assert not np.array_equal(b, read_audio(steady).samples)  # the map was used, not the bundle's 120 qpm


def test_a_song_that_fails_leaves_no_empty_folder_behind(songs, tmp_path, capsys):
    folder, bundle = songs
    (tmp_path / "in" / "bad song").mkdir(parents=True)
    (tmp_path / "in" / "bad song" / "melody.wav").write_text("not audio")
    (tmp_path / "in" / "good").mkdir()
    (tmp_path / "in" / "good" / "melody.wav").write_bytes((folder / "songs" / "second" / "melody.wav").read_bytes())
    out = tmp_path / "out"
    code = main(
        ["batch", str(tmp_path / "in" / "*" / "melody.wav"), "--bundle", str(bundle), "-o", str(out), "--jobs", "1", "--bpm", "120"]
    )
    assert code == 1 and "bad song" in capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["batch-summary.json", "good", "good/melody.wav"]


def test_a_double_star_matches_songs_at_any_depth(songs, tmp_path):
    folder, bundle = songs
    deep = tmp_path / "in" / "album" / "disc 1" / "song"
    deep.mkdir(parents=True)
    (deep / "melody.wav").write_bytes((folder / "songs" / "second" / "melody.wav").read_bytes())
    (tmp_path / "in" / "top.wav").write_bytes((folder / "songs" / "second" / "melody.wav").read_bytes())
    out = tmp_path / "out"
    assert (
        main(["batch", str(tmp_path / "in" / "**" / "*.wav"), "--bundle", str(bundle), "-o", str(out), "--jobs", "1", "--bpm", "120"]) == 0
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == ["album/disc 1/song/melody.wav", "top.wav"]

"""Hangs and runaways (issue 12 §3): tempo maps that would cut a second into millions of segments, a
batch asking for 1000 workers, a stream at 0 Hz. Each is one line before any work, within a few
seconds, and changes nothing; the limits are said in the message."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.audio import Audio, AudioInfo, write_audio
from plugin_core.render.offline import render_audio
from plugin_core.stream.chain import AnswerChain
from plugin_core.stream.sidechain import SidechainEffect
from plugin_core.stream.threaded import ThreadedSidechain
from tests.conftest import tone
from tests.crafted import Unchanged, assert_one_line, cli, copy_bundle, edit_manifest, midi_bytes, within
from tests.fuzz_harness import CommandRunner

TEMPO_MAPS = {
    "1-microsecond-per-beat": (dict(tempos=(500000, 1)), "holds a tempo of 1 microseconds per beat"),
    "tempo-0": (dict(tempos=(0,)), "holds a tempo of 0 microseconds per beat"),
    "ticks-per-beat-0": (dict(ticks_per_beat=0), "its time division (0 ticks per beat) is not 1..32767"),
    "smpte-time": (dict(ticks_per_beat=-(25 << 8) - 40), "SMPTE time is not supported"),
    "type-2": (dict(file_type=2), "is a type 2 MIDI file"),
}


@pytest.mark.parametrize("case", TEMPO_MAPS)
def test_a_runaway_tempo_map_is_one_line_at_once(synthetic_bundle, tmp_path, capsys, case):
    options, fragment = TEMPO_MAPS[case]
    (tmp_path / "map.mid").write_bytes(midi_bytes(**options))
    write_audio(tmp_path / "a.wav", tone(220, 3.0), 44100)
    before = Unchanged(tmp_path)
    with within(10):
        code, err = cli(
            ["render", tmp_path / "a.wav", "--bundle", synthetic_bundle, "--tempo-map", tmp_path / "map.mid", "-o", tmp_path / "b.wav"],
            capsys,
        )
    assert code == 1
    assert_one_line(err, "map.mid: ", fragment)
    before.check()


def test_a_grid_finer_than_the_limit_is_refused_before_it_is_built(synthetic_bundle, tmp_path, capsys):
    """1000 BPM (the fastest tempo a map may hold) in sixteenths: 267 segments a second, over the limit of 120."""
    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    edit_manifest(bundle, lambda m: m["perception"]["spec"]["segmentation"].update(subdivision=16))
    (tmp_path / "map.mid").write_bytes(midi_bytes(tempos=(60000,)))
    write_audio(tmp_path / "a.wav", tone(220, 3.0), 44100)
    before = Unchanged(tmp_path)
    with within(10):
        code, err = cli(
            ["render", tmp_path / "a.wav", "--bundle", bundle, "--tempo-map", tmp_path / "map.mid", "-o", tmp_path / "b.wav"], capsys
        )
    assert code == 1
    assert_one_line(err, "map.mid: the tempo map would cut 3 s into", "at most 120 a second")
    before.check()


def test_a_tempo_map_longer_than_a_short_a_costs_only_a(synthetic_bundle, tmp_path, capsys):
    """Tempo events far past the end of A (a whole song's map over a 3 s excerpt) are not a runaway."""
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0), mido.MetaMessage("set_tempo", tempo=400000, time=10**8)])
    )
    midi.save(str(tmp_path / "song.mid"))
    write_audio(tmp_path / "a.wav", tone(220, 3.0), 44100)
    with within(20):
        code, err = cli(
            ["render", tmp_path / "a.wav", "--bundle", synthetic_bundle, "--tempo-map", tmp_path / "song.mid", "-o", tmp_path / "b.wav"],
            capsys,
        )
    assert code == 0, err


# a chunk's size field as a flipped byte can leave it (found by the fuzz test: mido allocated what it claimed)
CHUNK_SIZES = {"header-claims-4-gib": (4, "its MThd chunk claims 4294967040 bytes"), "track-claims-4-gib": (18, "its MTrk chunk claims")}


@pytest.fixture(scope="module")
def bounded():
    runner = CommandRunner()
    yield runner
    runner.close()


@pytest.mark.parametrize("case", CHUNK_SIZES)
@pytest.mark.parametrize("use", ["--tempo-map", "--automation"])
def test_a_midi_chunk_claiming_gigabytes_is_one_line_not_an_allocation(synthetic_bundle, tmp_path, bounded, case, use):
    """Run in a child capped at 3 GiB of address space, so the old allocation fails here, not the machine."""
    offset, fragment = CHUNK_SIZES[case]
    data = bytearray(midi_bytes())
    data[offset : offset + 4] = b"\xff\xff\xff\x00"
    (tmp_path / "m.mid").write_bytes(bytes(data))
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    before = Unchanged(tmp_path)
    outcome = bounded.run(
        ["render", tmp_path / "a.wav", "--bundle", synthetic_bundle, use, tmp_path / "m.mid", "-o", tmp_path / "b.wav"], timeout_s=60
    )
    assert outcome.code == 1, outcome.err
    assert_one_line(outcome.err.strip(), "m.mid: not a readable MIDI file (", fragment)
    before.check()


def test_batch_jobs_beyond_the_cores_are_capped_and_said(synthetic_bundle, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    with within(60):
        code, err = cli(["batch", tmp_path / "a.wav", "--bundle", synthetic_bundle, "-o", tmp_path / "out", "--jobs", "1000"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "countertrack: --jobs 1000 capped at the 2 cores of this machine"
    assert (tmp_path / "out" / "a.wav").is_file()


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_batch_jobs_below_one_is_a_usage_error(synthetic_bundle, tmp_path, capsys, jobs):
    write_audio(tmp_path / "a.wav", tone(220, 1.0), 44100)
    before = Unchanged(tmp_path)
    code, err = cli(["batch", tmp_path / "a.wav", "--bundle", synthetic_bundle, "-o", tmp_path / "out", "--jobs", jobs], capsys)
    assert code == 2
    assert_one_line(err, "argument --jobs: ")
    before.check()


STREAMS = {
    "0-hz": (0, 2),
    "negative-rate": (-44100, 2),
    "fractional-rate": (44100.5, 2),
    "rate-a-string": ("44100", 2),
    "no-channels": (44100, 0),
    "channels-a-float": (44100, 2.0),
    "a-million-hz": (10**6, 1),
}


@pytest.mark.parametrize("case", STREAMS)
def test_a_stream_of_an_impossible_format_is_one_line_before_any_work(synthetic_bundle, case):
    """``AnswerChain(bundle, 0, 2)`` used to hang; Chain, the sidechain (threaded or not) and render give the same line."""
    bundle = load_bundle(synthetic_bundle)
    rate, channels = STREAMS[case]
    messages = set()
    with within(10):
        for make in (
            lambda: AnswerChain(bundle, rate, channels),
            lambda: AnswerChain(bundle, rate, channels, threaded=True),
            lambda: ThreadedSidechain(SidechainEffect(bundle, rate, channels)),
        ):
            with pytest.raises(CountertrackError) as info:
                make()
            messages.add(str(info.value))
        if isinstance(channels, int):  # an Audio's channels are its array's rows: always a whole number
            source = AudioInfo(path="a.wav", sample_rate=rate, num_channels=channels, num_samples=44100, subtype="PCM_16")
            with pytest.raises(ConfigurationError) as info:
                render_audio(bundle, Audio(samples=np.zeros((channels, 44100), np.float32), sample_rate=rate, info=source))
            messages.add(str(info.value))
    assert len(messages) == 1 and "\n" not in messages.pop()

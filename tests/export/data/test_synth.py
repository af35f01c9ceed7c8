"""FluidSynth runs bounded: a render that never ends (it wrote 23 GB in 20 min for one madrigal) is
stopped by size or by time, named in one line, and the corpus goes on with the other scores; stopping
`corpus from-scores` stops its FluidSynth processes and workers and removes their temporary folders.

A fake ``fluidsynth`` on PATH plays the runaway (it writes without end, or hangs); the code under
test is our real bounding and stopping code."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import pytest

import export.data.synth
from host_scripts.cli import main
from plugin_core.io.corpus import load_corpus
from tests.paths import ROOT

REAL_FLUIDSYNTH = shutil.which("fluidsynth")
pytestmark = pytest.mark.skipif(REAL_FLUIDSYNTH is None, reason="fluidsynth is not installed")

FAKE = """#!/bin/sh
# Stands in for fluidsynth: a score whose MIDI holds 'runaway' is written without end, 'hang' hangs,
# anything else goes to the real program. Every process it starts is recorded in $FAKE_PIDS.
for arg in "$@"; do
  [ "$previous" = "-F" ] && out="$arg"
  previous="$arg"; last="$arg"
done
echo $$ >> "$FAKE_PIDS"
if grep -q runaway "$last"; then
  while :; do head -c 65536 /dev/zero; done > "$out"
elif grep -q hang "$last"; then
  sleep 1000 &
  echo $! >> "$FAKE_PIDS"
  wait
else
  exec "$REAL_FLUIDSYNTH" "$@"
fi
"""


def _score(path: Path, marker: str = "", seconds: int = 3) -> Path:
    """A two-part MIDI file (soprano and bass), ``seconds`` long at 120 BPM, with a marker text."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    if marker:
        conductor.append(mido.MetaMessage("marker", text=marker, time=0))
    midi.tracks.append(conductor)
    for name, pitch in (("soprano", 72), ("bass", 48)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        for beat in range(seconds * 2):
            track.append(mido.Message("note_on", note=pitch + beat % 5, velocity=90, time=0))
            track.append(mido.Message("note_off", note=pitch + beat % 5, velocity=0, time=480))
        midi.tracks.append(track)
    midi.save(str(path))
    return path


@pytest.fixture
def fake_fluidsynth(tmp_path, monkeypatch) -> Path:
    """The fake first on PATH; returns the file listing the process ids it started."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "fluidsynth").write_text(FAKE)
    (folder / "fluidsynth").chmod(0o755)
    pids = tmp_path / "pids.txt"
    pids.touch()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PIDS", str(pids))
    monkeypatch.setenv("REAL_FLUIDSYNTH", REAL_FLUIDSYNTH)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return pids


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _started(pids: Path) -> list[int]:
    return [int(line) for line in pids.read_text().split()]


@pytest.mark.parametrize("runaway", ["writes-without-end", pytest.param("hangs", marks=pytest.mark.slow)])
def test_a_runaway_render_is_stopped_named_and_the_corpus_goes_on(fake_fluidsynth, tmp_path, capsys, monkeypatch, runaway):
    if runaway == "hangs":  # the time bound, made short: the size bound never trips on a silent hang
        monkeypatch.setattr(export.data.synth, "WALL_BASE_S", 3.0)
        monkeypatch.setattr(export.data.synth, "WALL_PER_MUSIC_S", 0.0)
    bad = _score(tmp_path / "madrigal.mid", "runaway" if runaway == "writes-without-end" else "hang")
    good = _score(tmp_path / "chorale.mid")
    started = time.monotonic()
    code = main(
        [
            "corpus",
            "from-scores",
            str(bad),
            str(good),
            "--guide",
            "soprano",
            "--response",
            "bass",
            "--jobs",
            "1",
            "-o",
            str(tmp_path / "corpus"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert time.monotonic() - started < 30
    skipped = [line for line in err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and "madrigal.mid: fluidsynth" in skipped[0] and "would not end" in skipped[0], err
    assert [p.id for p in load_corpus(tmp_path / "corpus").pairs] == ["chorale"]
    assert not list((tmp_path / "tmp").iterdir())  # the countertrack-synth-* folder with the raw audio is gone
    assert _started(fake_fluidsynth) and not [pid for pid in _started(fake_fluidsynth) if _alive(pid)]


def test_render_bounds_follow_the_music():
    short, long = export.data.synth.render_bounds(10.0, 44100), export.data.synth.render_bounds(100.0, 44100)
    assert short.wall_s == 70.0 and long.wall_s == 430.0
    assert short.max_bytes == int((1.5 * 10 + 10) * 44100 * 8)
    assert export.data.synth.render_bounds(10.0, 96000).max_bytes > short.max_bytes


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["sigterm-to-the-command", "ctrl-c-to-its-process-group"])
def test_stopping_corpus_from_scores_stops_everything_it_started(fake_fluidsynth, tmp_path, stop):
    """Two workers, each in a FluidSynth that hangs: stopped, the command leaves no FluidSynth, no
    worker and no countertrack-synth-* folder behind."""
    scores = [str(_score(tmp_path / f"hang{index}.mid", "hang")) for index in range(3)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_scripts",
            "corpus",
            "from-scores",
            *scores,
            "--guide",
            "soprano",
            "--response",
            "bass",
            "--jobs",
            "2",
            "-o",
            str(tmp_path / "corpus"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(_started(fake_fluidsynth)) < 4 and time.monotonic() < deadline:  # two fakes, each with its sleep
        time.sleep(0.05)
    assert len(_started(fake_fluidsynth)) >= 4, "the workers never started FluidSynth"
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    if stop == "sigterm-to-the-command":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (143 if stop.startswith("sigterm") else 130), err
    assert err.strip().splitlines()[-1] in ("countertrack: stopped", "countertrack: interrupted")
    assert children and _wait_for(lambda: not [pid for pid in children if _alive(pid)])
    assert not [pid for pid in _started(fake_fluidsynth) if _alive(pid)]
    assert not list((tmp_path / "tmp").iterdir())

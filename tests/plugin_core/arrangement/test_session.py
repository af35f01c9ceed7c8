"""``render --arrangement``: the answer as a DAW session (DAWproject and Reaper RPP) whose clips,
read back from the written files and mixed with their fades and gains, give the rendered B."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import soundfile

from host_scripts.cli import main
from plugin_core.arrangement.media import AUDIO_FOLDER, MEMORY_FILE
from plugin_core.arrangement.session import write_session
from plugin_core.bundle.load import load_bundle
from plugin_core.decision.config import ANTICIPATE
from plugin_core.io.audio import read_audio, write_audio
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import render_audio
from plugin_core.stream.parameters import AutomationEvent
from plugin_core.stream.presets import load_preset
from tests.bundles import RATE, make_synthetic_bundle, tone_melody
from tests.sessions import mix, read_dawproject, read_rpp


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory) -> Path:
    return make_synthetic_bundle(tmp_path_factory.mktemp("arrangement"), memory_bpm=120.0, memory_seconds=24.0)


@pytest.fixture(scope="module")
def anticipating_bundle_path(tmp_path_factory) -> Path:
    return make_synthetic_bundle(tmp_path_factory.mktemp("anticipating"), lookahead=ANTICIPATE, memory_bpm=120.0)


def _render(
    bundle_path: Path,
    folder: Path,
    *,
    bpm: float,
    channels: int,
    engine: dict,
    extra: tuple[str, ...] = (),
    a_name: str = "a.wav",
    seed: int = 2,
) -> tuple[int, Path]:
    a = np.repeat(tone_melody(8.0, bpm, seed=3), channels, axis=0)
    write_audio(folder / a_name, a, RATE, subtype="FLOAT" if a_name.endswith(".wav") else "PCM_24")
    preset = folder / "preset.json"
    preset.write_text(json.dumps({"name": "test", "engine": engine, "wet": 0.8}))
    code = main(
        [
            "render",
            str(folder / a_name),
            "-o",
            str(folder / "b.wav"),
            "--bundle",
            str(bundle_path),
            "--bpm",
            str(bpm),
            "--preset",
            str(preset),
            "--seed",
            str(seed),
            "--arrangement",
            str(folder / "song"),
            *extra,
        ]
    )
    return code, folder / "song"


@pytest.mark.parametrize(
    ("bpm", "channels", "engine"),
    [
        (97.0, 2, {"follow_loudness": 0.5}),  # grains stretched to A's slower beats, gains that follow A (ramps between them)
        (120.0, 1, {"continuity": 1.0, "crossfade_s": 0.03}),  # A on the memory's tempo: runs of grains as one clip
        (120.0, 2, {"continuity": 1.0, "follow_loudness": 0.5}),  # runs whose gain changes: the engine ramps it across the seam
        (150.0, 2, {"continuity": 0.5}),  # grains cut at A's faster beats
    ],
)
def test_the_sessions_clips_mix_to_the_rendered_b(bundle_path, tmp_path, bpm, channels, engine):
    # seed 7: no grain jumped to starts at the memory's very start, whose seam would read before it (pre-rendered)
    code, session = _render(bundle_path, tmp_path, bpm=bpm, channels=channels, engine=engine, seed=7)
    assert code == 0
    b, rate = soundfile.read(str(tmp_path / "b.wav"), dtype="float32", always_2d=True)
    b = b.T
    assert sorted(p.name for p in session.iterdir()) == ["audio", "song.dawproject", "song.rpp"]
    for tracks in (read_dawproject(session / "song.dawproject", rate), read_rpp(session / "song.rpp", rate)[1]):
        assert set(tracks) == {"A", "B"}
        assert tracks["B"].volume == 0.8
        mixed = mix(tracks["B"], channels, b.shape[1])
        np.testing.assert_allclose(mixed, b, atol=2e-6, rtol=0)
        a_clip = tracks["A"].clips[0]
        assert a_clip.start == 0 and a_clip.length == b.shape[1]
        np.testing.assert_array_equal(a_clip.audio, soundfile.read(str(tmp_path / "a.wav"), dtype="float32", always_2d=True)[0].T)
    clips = read_rpp(session / "song.rpp", rate)[1]["B"].clips
    if bpm == 120.0 and "follow_loudness" not in engine:
        assert len(clips) < 16  # 16 beats: continued grains make longer clips
    if bpm == 120.0 and "follow_loudness" in engine:
        assert any(c.fade_in[1] == "ramp" for c in clips)
    memory_clips = [c for c in clips if c.audio.shape[1] > b.shape[1]]  # the 30 s memory, not an 8 s clip
    if bpm == 97.0:  # every grain stretched: each clip is the engine's stretched audio, its gain on the take
        assert not memory_clips and len({round(c.gain, 6) for c in clips}) > 1
    else:
        assert len(memory_clips) == len(clips), "clips point into the memory's audio"


def test_the_tempo_map_puts_every_beat_of_a_on_a_beat(bundle_path, tmp_path):
    code, session = _render(bundle_path, tmp_path, bpm=97.0, channels=1, engine={}, a_name="a.flac")
    assert code == 0
    project, tracks = read_rpp(session / "song.rpp", RATE)  # A as FLAC: a FLAC source in Reaper
    assert tracks["A"].clips[0].length == read_audio(tmp_path / "a.flac").num_samples
    assert project.first("TEMPO")[:1] == ["97.0"]  # A's beats are rounded to samples; the map still reads 97
    envelope = next(c for c in project.children if c.name == "TEMPOENVEX")
    assert [line for line in envelope.lines if line[0] == "PT"] == [["PT", "0.0", "97.0", "1"]]
    with zipfile.ZipFile(session / "song.dawproject") as archive:
        xml = ET.fromstring(archive.read("project.xml"))
    assert xml.find("Transport/Tempo").get("value") == "97.0" and xml.find("Arrangement/Lanes").get("timeUnit") == "beats"
    starts = sorted(float(clip.get("time")) for clip in xml.find("Arrangement/Lanes/Lanes").iter("Clip"))
    assert starts[0] == 0.0 and all(abs(s - round(s)) < 0.2 for s in starts)  # grains start on beats (less their lead-in)


def test_an_existing_session_is_replaced_only_with_force_and_another_folder_never(bundle_path, tmp_path, capsys):
    assert _render(bundle_path, tmp_path, bpm=120.0, channels=1, engine={})[0] == 0
    (tmp_path / "b.wav").unlink()
    code, session = _render(bundle_path, tmp_path, bpm=120.0, channels=1, engine={})
    assert code == 1 and "already exists" in capsys.readouterr().err
    assert not (tmp_path / "b.wav").exists()  # checked before any work: nothing written
    assert _render(bundle_path, tmp_path, bpm=120.0, channels=1, engine={}, extra=("--force",))[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code = main(
        [
            "render",
            str(tmp_path / "a.wav"),
            "-o",
            str(tmp_path / "b2.wav"),
            "--bundle",
            str(bundle_path),
            "--bpm",
            "120",
            "--arrangement",
            str(other),
            "--force",
        ]
    )
    error = capsys.readouterr().err
    assert code == 1 and "not a countertrack session" in error and len(error.strip().splitlines()) == 1
    assert (other / "notes.txt").read_text() == "mine" and not (tmp_path / "b2.wav").exists()


def test_an_arrangement_in_a_missing_folder_fails_before_the_render(bundle_path, tmp_path, capsys):
    a = tmp_path / "a.wav"
    write_audio(a, tone_melody(2.0, 120.0), RATE)
    code = main(
        ["render", str(a), "-o", str(tmp_path / "b.wav"), "--bundle", str(bundle_path), "--arrangement", str(tmp_path / "no" / "song")]
    )
    assert code == 1 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "b.wav").exists()


@pytest.mark.parametrize(
    ("rate", "segmentation", "beats", "automated"),
    [
        (48000, SegmentationConfig("beats", bpm=110.0, offset_s=0.23, subdivision=2), 2, True),  # the memory resampled; a pickup
        (44100, SegmentationConfig("uniform", hop_s=0.37), None, True),  # no beat grid: seconds, 120 qpm
        (44100, SegmentationConfig("beats"), 1, False),  # beats tracked in A (stretched grains): a tempo map of several tempos
        (44100, SegmentationConfig("beats"), 1, True),  # stretched grains and an automated crossfade
    ],
)
def test_sessions_at_another_rate_on_other_grids_with_automated_crossfades_mix_to_b(
    bundle_path, tmp_path, rate, segmentation, beats, automated
):
    bundle = load_bundle(bundle_path)
    samples = np.repeat(tone_melody(6.0, 110.0, sample_rate=rate, seed=5), 2, axis=0)
    write_audio(tmp_path / "a.wav", samples, rate, subtype="FLOAT")
    a = read_audio(tmp_path / "a.wav")
    automation = [AutomationEvent(rate * 2, {"crossfade_s": 0.01}), AutomationEvent(rate * 4, {"crossfade_s": 0.2})] if automated else []
    rendered = render_audio(bundle, a, seed=4, segmentation=segmentation, automation=automation)
    assert len({d.crossfade for d in rendered.decisions}) == (2 if automated else 1)  # shortened, never lengthened past the first
    folder = tmp_path / "session"
    folder.mkdir()
    clips = write_session(
        rendered.decisions, rendered.boundaries, bundle.memory, tmp_path / "a.wav", a.info, folder, "s", segments_per_beat=beats
    )
    if beats is not None:  # every boundary of A within a millisecond of its beat on the session's ruler
        landed = clips.to_beats(rendered.boundaries)
        tempo = np.array([p.bpm for p in clips.tempo_map()])
        assert np.abs(landed - clips.beats).max() * 60.0 / tempo.min() <= 0.00101
    for form, tracks in (("dawproject", read_dawproject(folder / "s.dawproject", rate)), ("rpp", read_rpp(folder / "s.rpp", rate)[1])):
        np.testing.assert_allclose(mix(tracks["B"], 2, a.num_samples), rendered.samples, atol=2e-6, rtol=0, err_msg=form)
    if beats is None:
        project, _ = read_rpp(folder / "s.rpp", rate)
        assert project.first("TEMPO")[0] == "120.0" and not [c for c in project.children if c.name == "TEMPOENVEX"]


def test_a_session_written_twice_holds_the_same_audio_byte_for_byte(bundle_path, tmp_path):
    """The memory resampled to A's rate, the pre-rendered (stretched) clips and the gain-baked clips of the
    .dawproject are plain float WAV: libsndfile's PEAK chunk carries the time of writing, so the same
    session written again a second later had other bytes."""
    bundle = load_bundle(bundle_path)
    rate = 48000  # the memory's is 44100: resampled, not copied
    write_audio(tmp_path / "a.wav", np.repeat(tone_melody(6.0, 97.0, sample_rate=rate, seed=5), 2, axis=0), rate, subtype="FLOAT")
    a = read_audio(tmp_path / "a.wav")
    (tmp_path / "preset.json").write_text(json.dumps({"name": "test", "engine": {"follow_loudness": 0.5}}))
    preset = load_preset(tmp_path / "preset.json")
    rendered = render_audio(bundle, a, seed=4, preset=preset, segmentation=SegmentationConfig("beats", bpm=97.0))
    written = []
    for index in range(2):
        time.sleep(1.01 * index)  # every file of the second session in a later second than its twin
        folder = tmp_path / f"session{index}"
        folder.mkdir()
        clips = write_session(rendered.decisions, rendered.boundaries, bundle.memory, tmp_path / "a.wav", a.info, folder, "s")
        with zipfile.ZipFile(folder / "s.dawproject") as archive:
            packed = {name: archive.read(name) for name in archive.namelist() if name.endswith(".wav")}
        written.append(({p.name: p.read_bytes() for p in (folder / AUDIO_FOLDER).iterdir()}, packed))
    assert clips.rendered and any(clip.gain != 1.0 for clip in clips.clips)  # pre-rendered and gain-baked clips
    assert written[0][0][MEMORY_FILE] != bundle.memory.path.read_bytes()  # resampled
    assert written[0] == written[1]
    assert len(written[0][1]) > len(written[0][0])  # the .dawproject's gain-baked clips are compared too


@pytest.mark.parametrize(
    ("seconds", "crossfade_s"),
    [  # A ends inside a beat, on one (100 qpm), just past one; each at the default crossfade or a long one
        (5.3, 0.04),
        (6.0, 0.2),
        (6.02, 0.04),
        pytest.param(5.3, 0.2, marks=pytest.mark.slow),
        pytest.param(6.0, 0.04, marks=pytest.mark.slow),
        pytest.param(6.02, 0.2, marks=pytest.mark.slow),
    ],
)
def test_an_anticipating_answer_ends_as_the_engine_ends_it(anticipating_bundle_path, tmp_path, seconds, crossfade_s):
    """Anticipation lays its last grain past A's end (a player commits to the next beat) and fades the
    whole of B out over A's last samples: the session's clips, read back, still mix to B."""
    samples = np.repeat(tone_melody(seconds, 100.0, seed=7), 2, axis=0)
    write_audio(tmp_path / "a.wav", samples, RATE, subtype="FLOAT")
    preset = tmp_path / "preset.json"
    preset.write_text(json.dumps({"name": "test", "engine": {"crossfade_s": crossfade_s}}))
    argv = ["render", str(tmp_path / "a.wav"), "-o", str(tmp_path / "b.wav"), "--bundle", str(anticipating_bundle_path)]
    assert main([*argv, "--bpm", "100", "--preset", str(preset), "--arrangement", str(tmp_path / "song")]) == 0
    b, rate = soundfile.read(str(tmp_path / "b.wav"), dtype="float32", always_2d=True)
    for tracks in (read_dawproject(tmp_path / "song" / "song.dawproject", rate), read_rpp(tmp_path / "song" / "song.rpp", rate)[1]):
        assert max(c.start + c.length for c in tracks["B"].clips) == b.shape[0]  # nothing past A's end
        np.testing.assert_allclose(mix(tracks["B"], 2, b.shape[0]), b.T, atol=2e-6, rtol=0)


def test_an_anticipating_answer_on_beats_found_in_a_ends_as_the_engine_ends_it(anticipating_bundle_path, tmp_path):
    """Beats found in A end the grid where A ends (no slot runs past it), yet the engine still fades
    all of B over A's last samples, on top of the last slot's own fade: the clips say both."""
    write_audio(tmp_path / "a.wav", np.repeat(tone_melody(5.1, 100.0, seed=4), 2, axis=0), RATE, subtype="FLOAT")
    bundle = load_bundle(anticipating_bundle_path)
    a = read_audio(tmp_path / "a.wav")
    rendered = render_audio(bundle, a, seed=2, segmentation=SegmentationConfig("beats"))
    assert rendered.decisions[-1].stop == a.num_samples and rendered.end_fade  # the case this is about
    assert any(d.lead and not d.continued for d in rendered.decisions)  # late looks changed grains: clips start mid-beat
    folder = tmp_path / "session"
    folder.mkdir()
    write_session(
        rendered.decisions, rendered.boundaries, bundle.memory, tmp_path / "a.wav", a.info, folder, "s", end_fade=rendered.end_fade
    )
    for tracks in (read_dawproject(folder / "s.dawproject", RATE), read_rpp(folder / "s.rpp", RATE)[1]):
        np.testing.assert_allclose(mix(tracks["B"], 2, a.num_samples), rendered.samples, atol=2e-6, rtol=0)

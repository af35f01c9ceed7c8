"""Odd and bad inputs through `countertrack render`: each renders or fails with one line, exit 1,
and leaves nothing behind: bad audio, presets, MIDI, bundles and output folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from host_scripts.cli import main
from plugin_core.io.audio import probe_audio, write_audio
from tests.conftest import tone
from tests.disk import without_root_file_access
from tests.paths import ROOT


def _render(bundle, source, target, capsys):
    code = main(["render", str(source), "--bundle", str(bundle), "-o", str(target)])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("rate", "seconds"),
    [(8000, 2.0), (192000, 1.5), (44100, 1 / 44100), (44100, 0.2)],
    ids=["8kHz", "192kHz", "one-sample", "shorter-than-a-segment"],
)
def test_extreme_but_valid_inputs_render_at_their_own_format(tiny_bundle, tmp_path, capsys, rate, seconds):
    source = tmp_path / "a.wav"
    samples = tone(330, seconds, rate) if seconds * rate > 10 else np.full((1, max(1, round(seconds * rate))), 0.1, np.float32)
    write_audio(source, samples, rate)
    code, err = _render(tiny_bundle, source, tmp_path / "b.wav", capsys)
    assert code == 0, err
    b = probe_audio(tmp_path / "b.wav")
    assert (b.sample_rate, b.num_samples) == (rate, samples.shape[1])


@pytest.mark.parametrize("case", ["empty", "random-bytes", "directory", "nan", "inf", "eight-channels", "missing"])
def test_bad_inputs_fail_with_one_line_and_no_output(tiny_bundle, tmp_path, capsys, case):
    source = tmp_path / "a.wav"
    if case == "empty":
        source.write_bytes(b"")
    elif case == "random-bytes":
        source.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "directory":
        source.mkdir()
    elif case in ("nan", "inf"):
        import soundfile

        data = tone(220, 0.5)
        data[0, 10] = np.nan if case == "nan" else -np.inf
        soundfile.write(source, data.T, 44100, subtype="FLOAT")
    elif case == "eight-channels":
        import soundfile

        soundfile.write(source, np.zeros((4410, 8), np.float32), 44100)
    before = sorted(os.listdir(tmp_path))
    code, err = _render(tiny_bundle, source, tmp_path / "b.wav", capsys)
    assert code == 1
    assert err.count("\n") == 0 and "a.wav" in err
    assert sorted(os.listdir(tmp_path)) == before


def test_non_ascii_names_render(tiny_bundle, tmp_path, capsys):
    source = tmp_path / "mélodie – 旋律.wav"
    write_audio(source, tone(440, 1.0), 44100)
    code, err = _render(tiny_bundle, source, tmp_path / "basse – 低音.wav", capsys)
    assert code == 0, err
    assert probe_audio(tmp_path / "basse – 低音.wav").num_samples == 44100


def test_output_into_a_missing_folder_fails_cleanly(tiny_bundle, tmp_path, capsys):
    source = tmp_path / "a.wav"
    write_audio(source, tone(440, 1.0), 44100)
    code, err = _render(tiny_bundle, source, tmp_path / "nowhere" / "b.wav", capsys)
    assert code == 1 and "output folder does not exist" in err


@pytest.mark.parametrize("existing", [False, True], ids=["new-output", "existing-output-with-force"])
def test_a_read_only_output_folder_fails_cleanly_and_changes_nothing(tiny_bundle, tmp_path, existing):
    source = tmp_path / "a.wav"
    write_audio(source, tone(440, 1.0), 44100)
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "b.wav"
    if existing:
        target.write_bytes(b"an earlier take")
    folder.chmod(0o555)
    try:
        command = [
            sys.executable,
            "-m",
            "host_scripts.cli",
            "render",
            str(source),
            "--bundle",
            str(tiny_bundle),
            "-o",
            str(target),
            "--force",
        ]
        as_root = os.geteuid() == 0
        try:
            result = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, preexec_fn=without_root_file_access if as_root else None
            )
        except subprocess.SubprocessError as exc:
            pytest.skip(f"cannot make a folder read-only for root here ({exc})")
        err = result.stderr.strip()
        assert result.returncode == 1, err
        assert err.count("\n") == 0 and "locked" in err and "cannot write" in err
        assert sorted(p.name for p in folder.iterdir()) == (["b.wav"] if existing else [])
        if existing:
            assert target.read_bytes() == b"an earlier take"
    finally:
        folder.chmod(0o755)


def _truncate_header(path: Path) -> None:
    write_audio(path, tone(220, 0.5), 44100)
    path.write_bytes(path.read_bytes()[:30])


def _truncate_data(path: Path) -> None:
    write_audio(path, tone(220, 0.5), 44100)
    path.write_bytes(path.read_bytes()[:-4000])


def _zero_samples(path: Path) -> None:
    import soundfile

    soundfile.write(path, np.zeros((0, 1), np.float32), 44100)


def _bad_preset(data: dict):
    def make(folder: Path) -> list[str]:
        (folder / "bad.json").write_text(json.dumps({"name": "x", **data}))
        return ["--preset", str(folder / "bad.json")]

    return make


def _bad_bundle(change):
    def make(folder: Path, tiny_bundle: Path) -> list[str]:
        copy = folder / "broken.ctbundle"
        shutil.copytree(tiny_bundle, copy)
        change(copy)
        return ["--bundle", str(copy)]

    return make


def _flip_a_byte(bundle: Path) -> None:
    data = bytearray((bundle / "decision.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "decision.onnx").write_bytes(bytes(data))


def _newer_schema(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _evil_zip(folder: Path, tiny_bundle: Path) -> list[str]:
    evil = folder / "evil.ctbundle"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("bundle/manifest.json", "{}")
        archive.writestr("../../outside.txt", "gotcha")
    return ["--bundle", str(evil)]


def _garbage_tempo_map(folder: Path) -> list[str]:
    (folder / "garbage.mid").write_bytes(b"MThd\x00\x00garbage")
    return ["--tempo-map", str(folder / "garbage.mid")]


INPUT_CASES = {
    "truncated-header": (_truncate_header, "a.wav"),
    "truncated-data": (_truncate_data, "a.wav"),
    "zero-samples": (_zero_samples, "a.wav"),
}
OPTION_CASES = {
    "preset-unknown-key": (_bad_preset({"colour": "blue"}), "bad.json"),
    "preset-wrong-type": (_bad_preset({"sampling": {"temperature": "hot"}}), "bad.json"),
    "preset-out-of-range": (_bad_preset({"sampling": {"top_p": 1.5}}), "bad.json"),
    "garbage-midi": (_garbage_tempo_map, "garbage.mid"),
}
BUNDLE_CASES = {
    "bundle-changed-byte": (_bad_bundle(_flip_a_byte), "decision.onnx"),
    "bundle-missing-file": (_bad_bundle(lambda bundle: (bundle / "memory" / "grains.json").unlink()), "grains.json"),
    "bundle-newer-schema": (_bad_bundle(_newer_schema), "broken.ctbundle"),
    "bundle-zip-escape": (_evil_zip, "outside.txt"),
}


@pytest.mark.parametrize("case", [*INPUT_CASES, *OPTION_CASES, *BUNDLE_CASES])
def test_each_bad_input_fails_through_the_cli_and_changes_nothing(tiny_bundle, tmp_path, capsys, case):
    """Bad input files, presets, MIDI and bundles: exit 1, one line naming the file, and an existing
    output (the render was asked to --force over it) left byte for byte as it was."""
    source, target = tmp_path / "a.wav", tmp_path / "b.wav"
    options = ["--bundle", str(tiny_bundle)]
    if case in INPUT_CASES:
        make, named = INPUT_CASES[case]
        make(source)
    else:
        write_audio(source, tone(330, 2.0), 44100)
        if case in OPTION_CASES:
            make, named = OPTION_CASES[case]
            options += make(tmp_path)
        else:
            make, named = BUNDLE_CASES[case]
            options = make(tmp_path, tiny_bundle)
    target.write_bytes(b"last week's take")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["render", str(source), "-o", str(target), "--force", *options])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert err.count("\n") == 0 and named in err, err
    assert target.read_bytes() == b"last week's take"
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside.txt").exists()

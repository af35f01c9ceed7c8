"""Zipped bundles through ``countertrack render`` (issue 12 §2 and §6): every entry is checked against the
manifest's list and sizes before anything is extracted; bytes read are bounded by what each entry
declares; the extraction goes beside the zip only into a folder that is ours (marked), else into the
cache, so a user's own ``X.zip.d`` (folder or file) is never touched and a read-only folder still
works; staging folders of a killed run are swept, a look-alike is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import plugin_core.bundle.archive
from plugin_core.io.audio import write_audio
from tests.conftest import tone
from tests.crafted import Unchanged, assert_one_line, cli, copy_bundle, declare_size, edit_manifest, zip_bundle
from tests.disk import without_root_file_access
from tests.paths import ROOT

GIB = 1 << 30


@pytest.fixture
def folder(synthetic_bundle, tmp_path) -> Path:
    """A working folder with A, last week's B and a copy of the bundle (outside it, so only the zip is there)."""
    work = tmp_path / "work"
    work.mkdir()
    write_audio(work / "a.wav", tone(220, 2.0), 44100)
    (work / "out.wav").write_bytes(b"last week's take")
    copy_bundle(synthetic_bundle, _source(work))
    return work


def _source(folder: Path) -> Path:
    return folder.parent / "source.ctbundle"


def _render(folder: Path, bundle: Path, capsys, *extra) -> tuple[int, str]:
    return cli(["render", folder / "a.wav", "--bundle", bundle, "-o", folder / "out.wav", "--force", *extra], capsys)


def _lying_size(folder: Path) -> Path:
    archive = zip_bundle(_source(folder), folder / "b.zip")
    declare_size(archive, "b.ctbundle/encoder.onnx", 1000)
    return archive


def _more_than_listed(folder: Path) -> Path:
    archive = zip_bundle(_source(folder), folder / "b.zip")
    declare_size(archive, "b.ctbundle/memory/grains.json", 100)  # the manifest has no size for it: the read is bounded instead
    return archive


def _no_sizes(change):
    def make(folder: Path) -> Path:
        edit_manifest(_source(folder), lambda m: m.pop("sizes"))
        return change(folder)

    return make


ZIP_CASES = {
    "an-unlisted-1-gib-entry": (lambda f: _declared_huge(f), "holds 'b.ctbundle/huge.wav', which its manifest does not list"),
    "an-entry-twice": (
        lambda f: zip_bundle(_source(f), f / "b.zip", extra={"b.ctbundle/decision.onnx": b"again"}),
        "holds 'b.ctbundle/decision.onnx' twice",
    ),
    "a-file-and-a-folder-of-one-name": (
        lambda f: zip_bundle(_source(f), f / "b.zip", extra={"b.ctbundle/memory": b"x"}),
        "holds 'b.ctbundle/memory' both as a file and as a folder",
    ),
    "an-entry-leaving-the-folder": (lambda f: zip_bundle(_source(f), f / "b.zip", extra={"../escape.txt": b"x"}), "'../escape.txt'"),
    "a-symbolic-link": (lambda f: _with_link(f), "refuses the symbolic link"),
    "a-size-unlike-the-manifest": (_lying_size, "declares 'b.ctbundle/encoder.onnx' as 1000 bytes; its manifest says"),
    "more-bytes-than-declared": (_no_sizes(_more_than_listed), "cannot extract 'b.ctbundle/memory/grains.json'"),
    "a-listed-file-missing": (lambda f: _without(f, "memory/grains.json"), "is missing memory/grains.json"),
    "two-manifests": (lambda f: zip_bundle(_source(f), f / "b.zip", extra={"other/manifest.json": b"{}"}), "no single manifest.json"),
    "a-changed-byte": (lambda f: _changed(f), "'b.ctbundle/decision.onnx' does not match its sha256"),
    "not-a-zip": (lambda f: _bytes(f / "b.zip", b"PK\x03\x04 not really"), "not a readable zip"),
}


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _declared_huge(folder: Path) -> Path:
    archive = zip_bundle(_source(folder), folder / "b.zip", extra={"b.ctbundle/huge.wav": b"\0" * 1000})
    declare_size(archive, "b.ctbundle/huge.wav", GIB)
    return archive


def _with_link(folder: Path) -> Path:
    archive = zip_bundle(_source(folder), folder / "b.zip")
    with zipfile.ZipFile(archive, "a") as handle:
        info = zipfile.ZipInfo("b.ctbundle/memory/link.wav")
        info.external_attr = 0o120777 << 16
        handle.writestr(info, "/etc/passwd")
    return archive


def _without(folder: Path, name: str) -> Path:
    (_source(folder) / name).unlink()
    return zip_bundle(_source(folder), folder / "b.zip")


def _changed(folder: Path) -> Path:
    path = _source(folder) / "decision.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    return zip_bundle(_source(folder), folder / "b.zip")


@pytest.mark.parametrize("case", ZIP_CASES)
def test_a_bad_zip_is_refused_before_anything_is_extracted(folder, capsys, case, monkeypatch):
    make, fragment = ZIP_CASES[case]
    archive = make(folder)
    extracted: list[str] = []
    real = plugin_core.bundle.archive._copy_entry
    monkeypatch.setattr(
        plugin_core.bundle.archive, "_copy_entry", lambda archive, info, *a: (extracted.append(info.filename), real(archive, info, *a))
    )
    before = Unchanged(folder)
    code, err = _render(folder, archive, capsys)
    assert code == 1, err
    assert_one_line(err, "b.zip: ", fragment)
    before.check()
    if case not in ("more-bytes-than-declared", "a-changed-byte"):  # these two are found while reading, bounded
        assert extracted == []


@pytest.mark.slow
def test_a_17_mb_zip_never_extracts_its_1_gib_unlisted_entry(folder, capsys):
    """The issue's case with real bytes: a gibibyte of zeros deflates to a megabyte."""
    import time

    archive = zip_bundle(_source(folder), folder / "b.zip")
    entry = zipfile.ZipInfo("b.ctbundle/memory/huge.wav")
    entry.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(archive, "a") as handle, handle.open(entry, "w", force_zip64=True) as sink:
        block = bytes(1 << 24)
        for _ in range(GIB // len(block)):
            sink.write(block)
    assert archive.stat().st_size < 20 << 20
    before = Unchanged(folder)
    started = time.monotonic()
    code, err = _render(folder, archive, capsys)
    assert code == 1 and time.monotonic() - started < 5
    assert_one_line(err, "which its manifest does not list")
    before.check()


def test_not_enough_disk_for_the_declared_sizes_is_one_line(folder, capsys, monkeypatch):
    archive = zip_bundle(_source(folder), folder / "b.zip")
    monkeypatch.setattr(plugin_core.bundle.archive.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 << 20, 10 << 20, 1000))
    before = Unchanged(folder)
    code, err = _render(folder, archive, capsys)
    assert code == 1
    assert_one_line(err, "b.zip: ", "MB to extract")
    before.check()
    assert not [p for p in folder.rglob("*") if ".part" in p.name]


def test_a_good_zip_extracts_beside_it_marked_and_is_reused(folder, capsys):
    archive = zip_bundle(_source(folder), folder / "b.zip")
    assert _render(folder, archive, capsys)[0] == 0
    extraction = folder / "b.zip.d"
    assert (extraction / ".countertrack-extraction").is_file() and (extraction / "b.ctbundle" / "manifest.json").is_file()
    stamp = (extraction / "b.ctbundle" / "memory" / "memory.wav").stat().st_mtime_ns
    assert _render(folder, archive, capsys)[0] == 0
    assert (extraction / "b.ctbundle" / "memory" / "memory.wav").stat().st_mtime_ns == stamp  # reused, not extracted again


def test_an_older_extraction_of_ours_is_replaced(folder, capsys):
    archive = zip_bundle(_source(folder), folder / "b.zip")
    assert _render(folder, archive, capsys)[0] == 0
    (folder / "b.zip.d" / "b.ctbundle" / "memory" / "grains.json").write_text("{}")  # damaged since
    assert _render(folder, archive, capsys)[0] == 0
    assert (folder / "b.zip.d" / "b.ctbundle" / "memory" / "grains.json").read_bytes() == (
        _source(folder) / "memory" / "grains.json"
    ).read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["a.wav", "b.zip", "b.zip.d", "out.wav"]


@pytest.mark.parametrize("kind", ["a-folder-of-the-user", "a-file", "a-link"])
def test_a_users_own_x_zip_d_is_never_touched_the_bundle_extracts_into_the_cache(folder, capsys, monkeypatch, kind):
    """A user's folder named X.zip.d used to be deleted; a file there gave a traceback."""
    archive = zip_bundle(_source(folder), folder / "b.zip")
    cache = folder.parent / f"{folder.name}-cache"
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(cache))
    mine = folder / "b.zip.d"
    if kind == "a-folder-of-the-user":
        mine.mkdir()
        (mine / "my notes.txt").write_text("keep me")
    elif kind == "a-file":
        mine.write_text("a file of mine")
    else:
        (folder / "elsewhere").mkdir()
        mine.symlink_to(folder / "elsewhere")
    before = Unchanged(folder)
    code, err = cli(["render", folder / "a.wav", "--bundle", archive, "-o", folder / "new.wav"], capsys)
    assert code == 0, err
    before.check("new.wav")
    extractions = list((cache / "bundles").glob("b-*.d"))
    assert len(extractions) == 1 and (extractions[0] / ".countertrack-extraction").is_file()


def test_a_zip_in_a_read_only_folder_renders_from_the_cache(folder, tmp_path_factory):
    """It used to be a traceback (the extraction beside the zip cannot be written)."""
    locked = folder / "locked"
    locked.mkdir()
    archive = zip_bundle(_source(folder), locked / "b.zip")
    cache = tmp_path_factory.mktemp("cache-ro")
    locked.chmod(0o555)
    try:
        command = [
            sys.executable,
            "-m",
            "host_scripts.cli",
            "render",
            str(folder / "a.wav"),
            "--bundle",
            str(archive),
            "-o",
            str(folder / "new.wav"),
        ]
        try:
            result = subprocess.run(
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={**os.environ, "COUNTERTRACK_CACHE": str(cache)},
                preexec_fn=without_root_file_access if os.geteuid() == 0 else None,
                timeout=120,
            )
        except subprocess.SubprocessError as exc:
            pytest.skip(f"cannot make a folder read-only for root here ({exc})")
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in locked.iterdir()) == ["b.zip"]
        assert (folder / "new.wav").is_file() and len(list((cache / "bundles").glob("b-*.d"))) == 1
    finally:
        locked.chmod(0o755)


def test_a_stale_staging_folder_of_a_killed_run_is_swept_and_a_look_alike_kept(folder, capsys):
    archive = zip_bundle(_source(folder), folder / "b.zip")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = folder / f".b.zip.ct{dead}-abcd1234.part.d"
    stale.mkdir()
    (stale / "half.onnx").write_bytes(b"half")
    old = os.path.getmtime(folder / "a.wav") - 100
    os.utime(stale, (old, old))
    look_alike = folder / ".b.zip.d.x7k2m9q1"  # an old-style name: it may be anyone's, so it stays
    look_alike.mkdir()
    (look_alike / "keep.txt").write_text("mine")
    assert _render(folder, archive, capsys)[0] == 0
    assert not stale.exists() and (look_alike / "keep.txt").read_text() == "mine"


def test_sigterm_during_the_extraction_leaves_no_staging_folder(folder):
    """The stop is raised as an exception: the staging folder is removed on the way out (exit 143)."""
    archive = zip_bundle(_source(folder), folder / "b.zip")
    script = (
        "import sys, time, signal, os\n"
        "import plugin_core.bundle.archive as z\n"
        "real = z._copy_entry\n"
        "def slow(*args):\n"
        "    real(*args); print('extracting', flush=True); time.sleep(30)\n"
        "z._copy_entry = slow\n"
        "from host_scripts.cli import main\n"
        f"sys.exit(main(['render', {str(folder / 'a.wav')!r}, '--bundle', {str(archive)!r}, '-o', {str(folder / 'new.wav')!r}]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "extracting"
    process.terminate()
    assert process.wait(timeout=30) == 143
    assert sorted(p.name for p in folder.iterdir()) == ["a.wav", "b.zip", "out.wav"]

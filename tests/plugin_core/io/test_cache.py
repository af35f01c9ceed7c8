"""The resampled-memory cache (issue 12 §6): a cache file damaged without changing size is noticed (its
name carries its content's sha256) and rebuilt; a stop while one is written leaves no ``.part.f32``;
those of a killed run are swept, a look-alike kept. Renders at another rate than the memory's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_core.io.audio import write_audio
from tests.conftest import tone
from tests.crafted import cli, flip_byte
from tests.paths import ROOT


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(folder))
    return folder / "memory"


def _render_at_48k(folder: Path, bundle: Path, name: str, capsys) -> bytes:
    write_audio(folder / "a.wav", tone(220, 2.0, 48000), 48000)
    code, err = cli(["render", folder / "a.wav", "--bundle", bundle, "-o", folder / name], capsys)
    assert code == 0, err
    return (folder / name).read_bytes()


def test_a_cache_file_damaged_without_changing_size_is_rebuilt(synthetic_bundle, tmp_path, cache, capsys):
    fresh = _render_at_48k(tmp_path, synthetic_bundle, "fresh.wav", capsys)
    [cached] = list(cache.glob("*.48000.f32"))
    original = cached.read_bytes()
    with open(cached, "r+b") as handle:  # silence over every sample, and the size unchanged
        handle.write(bytes(len(original)))
    flip_byte(cached, 0.3)
    again = _render_at_48k(tmp_path, synthetic_bundle, "again.wav", capsys)
    assert again == fresh  # not the damaged samples
    [rebuilt] = list(cache.glob("*.48000.f32"))
    assert rebuilt.read_bytes() == original and not list(cache.glob("*.part*"))


def test_a_stale_part_file_is_swept_and_a_look_alike_kept(synthetic_bundle, tmp_path, cache, capsys):
    cache.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = cache / f".abc.48000.ct{dead}-abcd1234.part.f32"
    stale.write_bytes(b"\0" * 4096)
    live = cache / f".abc.48000.ct{os.getppid()}-abcd1234.part.f32"  # a running process's: kept
    live.write_bytes(b"\0" * 16)
    os.utime(stale, (1, 1))
    os.utime(live, (1, 1))
    _render_at_48k(tmp_path, synthetic_bundle, "b.wav", capsys)
    assert not stale.exists() and live.exists()


def test_sigterm_while_the_memory_is_resampled_leaves_no_part_file(synthetic_bundle, tmp_path, cache):
    write_audio(tmp_path / "a.wav", tone(220, 2.0, 48000), 48000)
    script = (
        "import sys, time\n"
        "import plugin_core.engine.memory as m\n"
        "real = m.Memory._resampled_chunks\n"
        "def slow(self, *args):\n"
        "    for chunk in real(self, *args):\n"
        "        yield chunk\n"
        "        print('resampling', flush=True); time.sleep(30)\n"
        "m.Memory._resampled_chunks = slow\n"
        "from host_scripts.cli import main\n"
        f"sys.exit(main(['render', {str(tmp_path / 'a.wav')!r}, '--bundle', {str(synthetic_bundle)!r}, '-o', {str(tmp_path / 'b.wav')!r}]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COUNTERTRACK_CACHE": str(cache.parent)},
    )
    assert process.stdout.readline().strip() == "resampling"
    assert list(cache.glob(".*.part.f32"))  # it is being written
    process.terminate()
    assert process.wait(timeout=30) == 143
    assert list(cache.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "cache"]

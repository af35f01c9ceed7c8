"""The memory: B's grains read from the bundle's WAV by position, at any rate."""

from __future__ import annotations

import numpy as np

from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import resample


def test_memory_is_read_by_position_not_loaded(tiny_bundle):
    import soundfile

    memory = load_bundle(tiny_bundle).memory
    whole, _ = soundfile.read(memory.path, dtype="float32", always_2d=True)
    held = [value for owner in (memory, memory._pcm) for value in vars(owner).values() if isinstance(value, np.ndarray)]
    assert all(value.size < whole.size // 10 for value in held)  # only the grain lookups, never the audio
    assert np.array_equal(memory.read(1000, 5000), whole[1000:5000].T)
    audio = memory.read(-10, 100)
    assert audio.shape == (1, 110) and not audio[:, :10].any() and np.array_equal(audio[:, 10:], whole[:100].T)


def test_memory_at_another_rate_is_resampled_once_into_the_cache_and_mapped(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("plugin_core.engine.memory.RESAMPLE_CHUNK", 10_007)  # many pieces, none aligned
    memory = load_bundle(tiny_bundle).memory
    one_pass = resample(memory.read(0, memory.frames), memory.sample_rate, 48000)
    assert np.array_equal(memory.read(0, one_pass.shape[1], 48000), one_pass)
    cached = list((tmp_path / "cache" / "memory").glob("*.48000.f32"))
    assert len(cached) == 1
    cached[0].write_bytes(cached[0].read_bytes()[:-8])  # a cut-short cache file (a crash elsewhere) is rebuilt
    again = load_bundle(tiny_bundle).memory
    assert np.array_equal(again.read(0, one_pass.shape[1], 48000), one_pass)


def test_memory_at_another_rate_without_a_writable_cache_is_held_in_ram(tiny_bundle, tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "not-a-folder"))
    memory = load_bundle(tiny_bundle).memory
    one_pass = resample(memory.read(0, memory.frames), memory.sample_rate, 22050)
    assert np.array_equal(memory.read(0, one_pass.shape[1], 22050), one_pass)

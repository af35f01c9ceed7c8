"""Building a memory from B recordings: labelled by the bundle's perception and response codebook,
cut on each recording's own grid, written as one file with a grain table that reads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.engine.grain_table import check_grain_columns
from plugin_core.engine.memory_build import MemorySource, build_memory, own_grid
from plugin_core.errors import ConfigurationError
from plugin_core.io.audio import read_audio, to_mono, write_audio
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.segmentation import SegmentationConfig
from tests.bundles import RATE, tone_melody


@pytest.fixture(scope="module")
def bundle(synthetic_bundle):
    return load_bundle(synthetic_bundle)


@pytest.fixture(scope="module")
def codebook(bundle):
    return Codebook.load(bundle.folder / bundle.manifest["codebooks"]["response"])


def test_recordings_are_labelled_and_laid_end_to_end(bundle, codebook, tmp_path):
    write_audio(tmp_path / "one.wav", tone_melody(4.0, 120.0, seed=1), RATE)
    write_audio(tmp_path / "two.wav", np.repeat(tone_melody(3.0, 120.0, seed=2), 2, axis=0), RATE)
    table, tracks, rate, channels = build_memory([tmp_path / "one.wav", tmp_path / "two.wav"], bundle.perception, codebook, tmp_path / "m")
    assert rate == RATE and channels == 1  # mono unless every recording is stereo
    assert [(t.name, t.start, t.end) for t in tracks] == [("one.wav", 0, 4 * RATE), ("two.wav", 4 * RATE, 7 * RATE)]
    memory = read_audio(tmp_path / "m" / "memory.wav")
    assert memory.samples.shape == (1, 7 * RATE)
    np.testing.assert_allclose(memory.samples[:, 4 * RATE :], to_mono(read_audio(tmp_path / "two.wav").samples), atol=1e-4)
    assert len(table) > 10 and (table.end > table.start).all()
    assert set(table.track.tolist()) == {0, 1} and table.start[table.track == 1].min() == 4 * RATE
    assert table.label.max() < codebook.centroids.shape[0] and len(set(table.label.tolist())) > 1
    written = json.loads((tmp_path / "m" / "grains.json").read_text())
    check_grain_columns(written, table.onsets.shape[1], tmp_path / "m" / "grains.json")
    assert written["start"] == table.start.tolist() and written["label"] == table.label.tolist()


def test_a_duration_limit_cuts_the_memory(bundle, codebook, tmp_path):
    write_audio(tmp_path / "one.wav", tone_melody(4.0, 120.0, seed=1), RATE)
    write_audio(tmp_path / "two.wav", tone_melody(4.0, 120.0, seed=2), RATE)
    _, tracks, _, _ = build_memory([tmp_path / "one.wav", tmp_path / "two.wav"], bundle.perception, codebook, tmp_path / "m", limit_s=3.0)
    assert [(t.name, t.end) for t in tracks] == [("one.wav", 3 * RATE)]
    with pytest.raises(ConfigurationError, match="no memory recordings"):
        build_memory([], bundle.perception, codebook, tmp_path / "none")


def test_a_recording_with_a_tempo_map_is_cut_on_its_own_beats(tmp_path):
    beats = SegmentationConfig("beats", bpm=100.0)
    assert own_grid(beats, MemorySource(tmp_path / "b.wav")).bpm == 100.0
    mapped = own_grid(beats, MemorySource(tmp_path / "b.wav", tempo_map=tmp_path / "b.mid"))
    assert mapped.tempo_map == str(tmp_path / "b.mid") and mapped.bpm is None
    uniform = SegmentationConfig("uniform", hop_s=0.5)
    assert own_grid(uniform, MemorySource(tmp_path / "b.wav", tempo_map=tmp_path / "b.mid")) == uniform

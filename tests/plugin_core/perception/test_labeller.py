"""The runtime labeller: an exported perception labels files without torch, at any sample rate, and
refuses a damaged graph or description."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from export.model.encoders import EncoderSpec
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import read_audio, resample, write_audio
from plugin_core.io.corpus import load_corpus
from plugin_core.perception.codebook import Codebook
from plugin_core.perception.labeller import PerceptionSession
from plugin_core.perception.segmentation import SegmentationConfig
from tests.conftest import tone
from tests.paths import ROOT
from tests.perception_runs import perceive


@pytest.fixture(scope="module")
def spectral_perception(chorale_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("perception")
    perceive(chorale_corpus, EncoderSpec.new(), SegmentationConfig("uniform", hop_s=0.5), 16, out)
    return out


def test_runtime_labels_a_file_without_torch(spectral_perception, chorale_corpus, tmp_path):
    corpus = load_corpus(chorale_corpus)
    path = corpus.path_of(corpus.pairs[0].response)
    script = f"""
import sys, json
sys.modules['torch'] = None; sys.modules['transformers'] = None  # any import of them now fails
from plugin_core.perception.labeller import PerceptionSession
labels = PerceptionSession.from_folder({str(spectral_perception)!r}).label_file({str(path)!r})
print(json.dumps({{"tokens": labels.tokens.tolist(), "boundaries": labels.boundaries.tolist()}}))
assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    out = json.loads(result.stdout)
    in_process = PerceptionSession.from_folder(spectral_perception).label_file(path)
    assert out["tokens"] == in_process.tokens.tolist()
    assert out["boundaries"][-1] == corpus.pairs[0].num_samples
    assert len(out["tokens"]) == len(out["boundaries"]) - 1
    assert len(set(out["tokens"])) > 3


def test_runtime_labels_are_the_same_at_any_sample_rate_of_the_file(spectral_perception, tmp_path):
    """A bounce at 48 kHz and the same music at 44.1 kHz: embeddings within 1 % of each other, and the
    same token wherever the nearest centroid wins by more than that difference (a segment on the edge
    between two centroids may fall either side, as it would for any codebook)."""
    music = np.concatenate([tone(f, 0.5, 48000) for f in (220, 277, 330, 440, 220, 330, 110, 165)], axis=1)
    write_audio(tmp_path / "a48.wav", music, 48000, subtype="FLOAT")
    write_audio(tmp_path / "a44.wav", resample(music, 48000, 44100), 44100, subtype="FLOAT")
    session = PerceptionSession.from_folder(spectral_perception)
    a, b = session.label_file(tmp_path / "a48.wav"), session.label_file(tmp_path / "a44.wav")
    assert a.tokens.size == b.tokens.size == 8
    assert read_audio(tmp_path / "a48.wav").sample_rate == 48000
    change = np.linalg.norm(a.embeddings - b.embeddings, axis=1) / np.linalg.norm(a.embeddings, axis=1)
    assert change.max() < 0.01, change
    codebook = Codebook.load(spectral_perception / "codebook.npz")
    np.testing.assert_array_equal(codebook.assign(a.embeddings), a.tokens)  # the graph's codebook is this one
    z_a, z_b = codebook.normalise(a.embeddings), codebook.normalise(b.embeddings)
    distances = np.linalg.norm(z_a[:, None, :] - codebook.centroids[None], axis=2)
    nearest, second = np.sort(distances, axis=1)[:, 0], np.sort(distances, axis=1)[:, 1]
    clear = (second - nearest) > 2 * np.linalg.norm(z_a - z_b, axis=1)  # no move of that size can cross the edge
    assert clear.sum() >= 6  # most segments of these tones are clear of any edge
    np.testing.assert_array_equal(a.tokens[clear], b.tokens[clear])


def test_tampered_graph_is_a_clear_error(spectral_perception, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(spectral_perception, broken)
    (broken / "perception.onnx").write_bytes(b"\x08\x01garbage")
    with pytest.raises(CountertrackError, match="not a loadable ONNX graph"):
        PerceptionSession.from_folder(broken)


def test_perception_settings_are_read_as_strictly():
    from plugin_core.errors import CountertrackError
    from plugin_core.perception.labeller import PerceptionSpec
    from plugin_core.perception.segmentation import SegmentationConfig

    spec = PerceptionSpec(16000, 400, 114, 16, SegmentationConfig(), {"backend": "spectral"})
    assert PerceptionSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(CountertrackError, match="unknown setting.s. hop"):
        PerceptionSpec.from_dict({**spec.to_dict(), "hop": 0.5})
    with pytest.raises(CountertrackError, match="missing embedding_dim"):
        PerceptionSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "embedding_dim"})

"""ONNX perception: onnxruntime gives PyTorch's tokens and embeddings on rendered chorales (the runtime
labeller that reads the exported graph is tested in tests/plugin_core/perception/test_labeller.py)."""

from __future__ import annotations

import pytest

from export.model.encoders import EncoderSpec
from plugin_core.perception.segmentation import SegmentationConfig
from tests.perception_runs import perceive


@pytest.mark.parametrize(
    "segmentation", [SegmentationConfig("uniform", hop_s=0.5), SegmentationConfig("onsets", min_segment_s=0.15)], ids=["uniform", "onsets"]
)
def test_spectral_onnx_matches_pytorch_on_chorales(chorale_corpus, tmp_path, segmentation):
    _, report = perceive(chorale_corpus, EncoderSpec.new(), segmentation, 64, tmp_path)
    assert report.segments > 400
    assert report.token_agreement >= 0.995, report.describe()
    assert report.max_relative_error <= 1e-4, report.describe()


def test_wav2vec2_onnx_matches_pytorch_on_chorales(chorale_corpus, tiny_wav2vec2, tmp_path):
    _, report = perceive(
        chorale_corpus,
        EncoderSpec(backend="wav2vec2", path=str(tiny_wav2vec2), layer=2),
        SegmentationConfig("uniform", hop_s=0.5),
        16,
        tmp_path,
    )
    assert report.token_agreement >= 0.995, report.describe()
    assert report.max_relative_error <= 1e-4, report.describe()

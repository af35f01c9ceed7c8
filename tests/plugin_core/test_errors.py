"""Each kind of problem raises its own error class (all CountertrackError, exit code 1), so a caller
can tell a bad audio file from a bad bundle or a bad setting; a bug is an InternalError (exit 3)."""

from __future__ import annotations

import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import AudioError, BundleError, ConfigurationError, CountertrackError, InternalError
from plugin_core.io.audio import read_audio
from plugin_core.io.midi_io import parse_cc_mapping
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.stream.presets import load_preset


def test_a_file_that_is_not_audio_is_an_audio_error(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"not a wave at all")
    with pytest.raises(AudioError, match="a.wav: not a readable audio file"):
        read_audio(tmp_path / "a.wav")
    with pytest.raises(AudioError, match="file not found"):
        read_audio(tmp_path / "missing.wav")


def test_a_damaged_bundle_is_a_bundle_error(tmp_path):
    (tmp_path / "b.ctbundle").mkdir()
    (tmp_path / "b.ctbundle" / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError):
        load_bundle(tmp_path / "b.ctbundle")


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp_path: load_preset(tmp_path / "nowhere.json"),
        lambda tmp_path: parse_cc_mapping("1=temperature"),
        lambda tmp_path: SegmentationConfig("uniform", hop_s=0.0),
        lambda tmp_path: EngineConfig(crossfade_s=2.0),
    ],
    ids=["preset", "cc mapping", "segmentation", "engine"],
)
def test_a_setting_out_of_range_is_a_configuration_error(tmp_path, make):
    with pytest.raises(ConfigurationError):
        make(tmp_path)


def test_every_kind_is_a_countertrack_error_with_its_exit_code():
    for kind in (AudioError, BundleError, ConfigurationError):
        assert issubclass(kind, CountertrackError) and kind("x").exit_code == 1
    bug = InternalError("x")
    assert bug.exit_code == 3 and "a bug in countertrack, not a problem with your files" in str(bug)

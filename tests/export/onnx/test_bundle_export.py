"""Bundle export: a run becomes a verified bundle, and export never writes into a folder that is not one."""

from __future__ import annotations

import json

import mido

from export.model.encoder_spec import EncoderSpec
from export.onnx.bundle_export import bundle_segmentation, portable_config, portable_encoder
from export.train.config import TrainConfig
from host_scripts.cli import main
from plugin_core.perception.segmentation import SegmentationConfig


def test_export_refuses_to_write_into_a_folder_that_is_not_a_bundle(tiny_run, tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    assert main(["export", str(tiny_run.folder), "-o", str(tmp_path / "precious")]) == 1
    assert "not a bundle" in capsys.readouterr().err
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_a_run_with_a_tempo_map_and_an_encoder_folder_records_their_names_only(tmp_path):
    corpus, model = tmp_path / "songs", tmp_path / "models" / "w2v"
    corpus.mkdir()
    model.mkdir(parents=True)
    tempo_map = tmp_path / "maps" / "click.mid"
    tempo_map.parent.mkdir()
    mido.MidiFile().save(str(tempo_map))
    config = TrainConfig(
        corpus=str(corpus),
        segmentation=SegmentationConfig(strategy="beats", tempo_map=str(tempo_map)).to_dict(),
        encoder=EncoderSpec.new("wav2vec2", path=str(model), layer=2).to_dict(),
    )
    train = portable_config(config)
    spec_encoder = portable_encoder(EncoderSpec.from_dict(config.encoder).to_dict())
    spec_segmentation = bundle_segmentation(config.segmentation).to_dict()
    for recorded in (train, spec_encoder, spec_segmentation):
        assert str(tmp_path) not in json.dumps(recorded)
    assert (train["corpus"], train["segmentation"]["tempo_map"], train["encoder"]["path"]) == ("songs", "click.mid", "w2v")
    assert spec_encoder["path"] == "w2v" and spec_segmentation["tempo_map"] is None
    hub = EncoderSpec.new("wav2vec2", path="facebook/wav2vec2-base").to_dict()
    assert portable_encoder(hub)["path"] == "facebook/wav2vec2-base"  # a hub id is no path of this machine

"""Which encoder a run uses: a plain record a new run fills with today's defaults and an old run
reads back as it was written."""

from __future__ import annotations

import json

from export.model.encoder_spec import SPECTRAL_TOP_DB, EncoderSpec


def test_a_new_spectral_run_records_the_noise_floor_and_a_wav2vec2_run_its_folder_and_layer():
    assert EncoderSpec.new() == EncoderSpec(backend="spectral", options={"top_db": SPECTRAL_TOP_DB})
    wav2vec2 = EncoderSpec.new("wav2vec2", path="models/w2v", layer=3)
    assert wav2vec2.options == {} and (wav2vec2.path, wav2vec2.layer) == ("models/w2v", 3)


def test_a_record_reads_back_through_json_and_an_older_one_without_options_keeps_none():
    spec = EncoderSpec.new("wav2vec2", path="models/w2v", layer=2)
    assert EncoderSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    older = EncoderSpec.from_dict({"backend": "spectral"})
    assert older == EncoderSpec() and older.options == {}  # rebuilt as it was trained: without the floor
    assert older != EncoderSpec.new()

"""A corpus encoded for training: each pair cut on its own grid, both tracks embedded and described,
cached by content, and beats taken from a pair's MIDI when it has one."""

from __future__ import annotations

import numpy as np
import pytest

from export.data.features import encode_corpus, pair_segmentation
from export.model.encoders import EncoderSpec, build_encoder
from plugin_core.errors import CountertrackError
from plugin_core.io.audio import write_audio
from plugin_core.io.corpus import Corpus, Pair
from plugin_core.perception.segmentation import SegmentationConfig
from tests.bundles import RATE, tone_melody


def _corpus(root) -> Corpus:
    pairs = []
    for index in range(2):
        write_audio(root / f"a{index}.wav", tone_melody(3.0, 120.0, seed=index), RATE)
        write_audio(root / f"b{index}.wav", tone_melody(3.0, 120.0, seed=10 + index, low_hz=55.0), RATE)
        pairs.append(Pair(f"song{index}", f"a{index}.wav", f"b{index}.wav", RATE, 3 * RATE))
    return Corpus(root, "melody", "bass", tuple(pairs))


def test_every_pair_is_cut_embedded_described_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "cache"))
    corpus = _corpus(tmp_path)
    spec = EncoderSpec.new()
    encoder = build_encoder(spec)
    uniform = SegmentationConfig("uniform", hop_s=0.5)
    features = encode_corpus(corpus, encoder, spec.to_dict(), uniform)
    assert [f.pair_id for f in features] == ["song0", "song1"]
    first = features[0]
    assert first.boundaries.tolist() == [i * RATE // 2 for i in range(7)]
    assert first.guide.shape == first.response.shape == (6, encoder.output_dim)
    assert first.guide_pitch_classes.shape == (6, 12) and first.guide_onsets.shape[0] == 6
    assert not np.allclose(first.guide, first.response)  # a melody and a bass sound apart
    cached = sorted((tmp_path / "cache" / "embeddings").glob("*.npz"))
    assert len(cached) == 2
    before = [p.stat().st_mtime_ns for p in cached]
    again = encode_corpus(corpus, encoder, spec.to_dict(), uniform)
    assert [p.stat().st_mtime_ns for p in cached] == before  # read from the cache, not encoded again
    np.testing.assert_array_equal(again[1].response, features[1].response)
    encode_corpus(corpus, encoder, spec.to_dict(), SegmentationConfig("uniform", hop_s=0.25))
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npz"))) == 4  # another grid: other entries


def test_a_pairs_beats_come_from_its_midi_when_the_run_gives_no_tempo(tmp_path):
    (tmp_path / "song.mid").write_bytes(b"MThd")
    corpus = Corpus(tmp_path, "a", "b", ())
    scored = Pair("song", "a.wav", "b.wav", RATE, RATE, provenance={"midi": "song.mid"})
    plain = Pair("plain", "a.wav", "b.wav", RATE, RATE)
    beats = SegmentationConfig("beats")
    assert pair_segmentation(beats, corpus, scored).tempo_map == str(tmp_path / "song.mid")
    assert pair_segmentation(beats, corpus, plain) == beats  # estimated from A
    assert pair_segmentation(SegmentationConfig("beats", bpm=90.0), corpus, scored).tempo_map is None
    with pytest.raises(CountertrackError, match="has no MIDI file for tempo_map='pair'"):
        pair_segmentation(SegmentationConfig("beats", tempo_map="pair"), corpus, plain)
    missing = Pair("gone", "a.wav", "b.wav", RATE, RATE, provenance={"midi": "gone.mid"})
    with pytest.raises(CountertrackError, match="its score MIDI gone.mid is missing"):
        pair_segmentation(beats, corpus, missing)

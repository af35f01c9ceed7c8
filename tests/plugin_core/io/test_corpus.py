"""The corpus manifest: written and read back as it was, paths relative to the corpus, a bad manifest
one line naming it, and a pair's audio read mono at the pair's length."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugin_core.errors import CountertrackError
from plugin_core.io.audio import write_audio
from plugin_core.io.corpus import Corpus, Pair, load_corpus, load_pair_audio, relative_to_root, save_corpus
from tests.conftest import tone


def _corpus(root) -> Corpus:
    (root / "pairs").mkdir()
    write_audio(root / "pairs" / "a.wav", tone(440, 1.1, channels=2), 44100)
    write_audio(root / "pairs" / "b.wav", tone(110, 1.0), 44100)
    pair = Pair("song", "pairs/a.wav", "pairs/b.wav", 44100, 44100, provenance={"source": "tones"})
    return Corpus(root, "melody", "bass", (pair,), problems=("other: no bass",), provenance={"kind": "test"})


def test_a_saved_corpus_reads_back_as_it_was_from_its_folder_or_its_manifest(tmp_path):
    corpus = _corpus(tmp_path)
    path = save_corpus(corpus)
    assert path == tmp_path / "corpus.json"
    assert load_corpus(tmp_path) == corpus and load_corpus(path) == corpus
    assert corpus.duration_s == 1.0 and corpus.path_of("pairs/a.wav") == tmp_path / "pairs" / "a.wav"
    assert corpus.path_of("/elsewhere/a.wav").as_posix() == "/elsewhere/a.wav"
    assert relative_to_root(tmp_path / "pairs" / "a.wav", tmp_path) == "pairs/a.wav"
    assert relative_to_root(tmp_path.parent / "x.wav", tmp_path) == "../x.wav"


def test_a_pairs_audio_is_mono_at_the_pairs_length_and_resampled_on_request(tmp_path):
    corpus = _corpus(tmp_path)
    guide, response = load_pair_audio(corpus, corpus.pairs[0])
    assert guide.samples.shape == response.samples.shape == (1, 44100)
    np.testing.assert_allclose(guide.samples[0], tone(440, 1.1)[0, :44100], atol=1e-4)
    guide, _ = load_pair_audio(corpus, corpus.pairs[0], sample_rate=22050)
    assert guide.sample_rate == 22050 and guide.samples.shape == (1, 22050)
    longer = Corpus(tmp_path, "melody", "bass", (Pair("song", "pairs/a.wav", "pairs/b.wav", 44100, 50000),))
    with pytest.raises(CountertrackError, match="a.wav: is shorter \\(48510 samples\\) than the manifest says \\(50000\\)"):
        load_pair_audio(longer, longer.pairs[0])


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ([], "not a countertrack corpus manifest"),
        ({"kind": "something else", "schema_version": 1, "pairs": []}, "not a countertrack corpus manifest"),
        ({"kind": "countertrack-corpus", "schema_version": 1, "pairs": [{"id": "x"}]}, "malformed pair entry"),
        ({"kind": "countertrack-corpus", "schema_version": 99, "pairs": []}, "newer than this countertrack reads"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_it(tmp_path, manifest, message):
    (tmp_path / "corpus.json").write_text(json.dumps(manifest))
    with pytest.raises(CountertrackError, match=message) as caught:
        load_corpus(tmp_path)
    assert "corpus.json" in str(caught.value)


def test_a_manifest_with_one_id_twice_or_no_manifest_is_refused(tmp_path):
    with pytest.raises(CountertrackError, match="no corpus.json here"):
        load_corpus(tmp_path)
    pair = {"id": "x", "guide": "a.wav", "response": "b.wav", "sample_rate": 44100, "num_samples": 10}
    (tmp_path / "corpus.json").write_text(json.dumps({"kind": "countertrack-corpus", "schema_version": 1, "pairs": [pair, pair]}))
    with pytest.raises(CountertrackError, match="pair ids are not unique"):
        load_corpus(tmp_path)

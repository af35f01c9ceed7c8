"""B's tokens are about what A tells of B: a bass that follows a melody's notes is tokenised by its
sound (pitch, register), one that plays on the drums' kicks in a key of its own by its rhythm; "auto"
tells the two apart on the validation songs, with the real spectral encoder on synthesized songs."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from export.data.features import PairFeatures
from export.data.token_data import Split
from export.model.encoders import ENCODER_SAMPLE_RATE, EncoderSpec, build_encoder
from export.train.config import TrainConfig
from export.train.run import fit_run_codebooks, held_out_information, response_feature_candidates
from plugin_core.errors import CountertrackError

RATE = ENCODER_SAMPLE_RATE
BEAT = RATE // 2  # one segment per beat at 120 qpm
SONGS, BEATS = 14, 24


def _note(hz: float, seconds: float, decay: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(4 * np.pi * hz * t)) * np.exp(-decay * t)


def _drums_and_bass(song: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per beat: a kick (a low thump and a click) with the bass on a chord tone of the song's key for
    the whole beat, or a hi-hat with the bass resting but for a short ghost note."""
    rng = np.random.default_rng(song)
    key = 40 + int(rng.integers(0, 12))
    drums, bass = [], []
    for _ in range(BEATS):
        hz = 440.0 * 2 ** ((key + int(rng.choice([0, 7, 12])) - 69) / 12)
        if rng.random() < 0.5:
            kick = 0.8 * _note(55.0, 0.5, 12.0)
            kick[:80] += rng.normal(0, 0.5, 80)
            drums.append(kick)
            bass.append(rng.uniform(0.3, 0.6) * _note(hz, 0.5, 1.0))
        else:
            hat = np.zeros(BEAT)
            hat[:400] = rng.normal(0, 0.2, 400) * np.exp(-np.arange(400) / 80)
            drums.append(hat)
            ghost = np.zeros(BEAT)
            ghost[: BEAT // 8] = rng.uniform(0.05, 0.15) * _note(hz, 0.0625, 20.0)
            bass.append(ghost)
    return drums, bass


def _melody_and_bass(song: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per beat: a melody note and the bass two octaves below it, each at a velocity of its own."""
    rng = np.random.default_rng(1000 + song)
    melody, bass = [], []
    for _ in range(BEATS):
        pitch = 60 + int(rng.choice([0, 2, 4, 5, 7, 9, 11]))
        melody.append(rng.uniform(0.2, 0.6) * _note(440.0 * 2 ** ((pitch - 69) / 12), 0.5))
        bass.append(rng.uniform(0.2, 0.6) * _note(440.0 * 2 ** ((pitch - 24 - 69) / 12), 0.5))
    return melody, bass


def _features(make) -> list[PairFeatures]:
    encoder = build_encoder(EncoderSpec.new())
    features = []
    for song in range(SONGS):
        guide, response = make(song)
        with torch.no_grad():
            a, b = (encoder(torch.from_numpy(np.stack(parts).astype(np.float32))).numpy() for parts in (guide, response))
        zeros = np.zeros((BEATS, 12), np.float32)
        features.append(PairFeatures(f"s{song}", np.arange(BEATS + 1) * BEAT, RATE, a, b, zeros, zeros[:, :4], zeros, zeros[:, :4]))
    return features


SPLIT = Split(tuple(f"s{i}" for i in range(10)), tuple(f"s{i}" for i in range(10, SONGS)), ())
GROUPS = build_encoder(EncoderSpec.new()).feature_groups


@pytest.mark.parametrize(("make", "expected"), [(_drums_and_bass, "rhythm"), (_melody_and_bass, "sound")])
def test_auto_keeps_the_features_of_b_that_a_tells_on_the_validation_songs(make, expected):
    features = _features(make)
    messages: list[str] = []
    books, _, choice = fit_run_codebooks(features, SPLIT, TrainConfig(corpus="-", vocab=8), GROUPS, messages.append)
    assert choice is not None and choice["chosen"] == expected, choice
    other = "sound" if expected == "rhythm" else "rhythm"
    assert choice["validation_bits"][expected] > choice["validation_bits"][other] + 0.05
    assert any(m.startswith(f"response features: {expected}") for m in messages), messages
    # the kept codebooks are the ones the score was measured on
    assert held_out_information(books, features, SPLIT, 8) == pytest.approx(choice["validation_bits"][expected], abs=1e-6)
    if expected == "rhythm":  # B's own codebook, blind to pitch: its scale is zero on the mel and chroma dimensions
        start, stop = GROUPS["chroma"]
        assert not np.array_equal(books["guide"].centroids, books["response"].centroids)
        assert not books["response"].scale[start:stop].any() and books["guide"].scale[start:stop].all()


def test_a_named_choice_is_fitted_alone_and_rhythm_needs_the_spectral_groups():
    features = _features(_melody_and_bass)
    _, _, choice = fit_run_codebooks(features, SPLIT, TrainConfig(corpus="-", vocab=8, response_features="rhythm"), GROUPS)
    assert choice is None
    assert response_feature_candidates("auto", {"hidden": (0, 768)}) == ["sound"]
    assert response_feature_candidates("auto", GROUPS) == ["sound", "rhythm"]
    assert response_feature_candidates("auto", GROUPS, "shared") == ["sound"]  # the paper's one codebook for A and B
    with pytest.raises(CountertrackError, match="need the spectral encoder"):
        response_feature_candidates("rhythm", {"hidden": (0, 768)})
    with pytest.raises(CountertrackError, match="a codebook of B's own"):
        TrainConfig(corpus="-", codebook="shared", response_features="rhythm")


def test_held_out_information_is_zero_for_independent_tokens_and_the_entropy_for_a_copy():
    from plugin_core.perception.codebook import Codebook

    identity = Codebook(centroids=np.eye(4, dtype=np.float32), mean=np.zeros(4, np.float32), scale=np.ones(4, np.float32))
    rng = np.random.default_rng(0)
    labels = {f"s{i}": rng.integers(0, 4, 4000) for i in range(2)}
    onehot = {k: np.eye(4, dtype=np.float32)[v] for k, v in labels.items()}
    zeros = np.zeros((4000, 12), np.float32)

    def pair(song: str, response: np.ndarray) -> PairFeatures:
        return PairFeatures(song, np.arange(4001), RATE, onehot[song], response, zeros, zeros[:, :4], zeros, zeros[:, :4])

    split = Split(("s0",), ("s1",), ())
    books = {"guide": identity, "response": identity}
    copy = [pair(s, onehot[s]) for s in ("s0", "s1")]
    independent = [pair(s, np.eye(4, dtype=np.float32)[rng.integers(0, 4, 4000)]) for s in ("s0", "s1")]
    assert held_out_information(books, copy, split, 4) == pytest.approx(2.0, abs=0.01)  # log2(4) bits: A's token is B's
    assert abs(held_out_information(books, independent, split, 4)) < 0.01


def test_a_run_recorded_before_the_choice_reads_as_sounds_tokens():
    recorded = {k: v for k, v in asdict(TrainConfig(corpus="c")).items() if k != "response_features"}
    assert TrainConfig.from_dict(recorded, 2, "config.json").response_features == "sound"
    assert TrainConfig.from_dict({**recorded, "response_features": "auto"}, 2, "config.json").response_features == "auto"


def test_a_killed_run_resumes_with_how_its_codebooks_were_chosen(chorale_corpus, tmp_path):
    """Killed after its codebooks were saved but before config.json: resuming keeps the record of B's
    features choice; killed between the two codebooks, it fits them again (the same); a run recorded
    before the choice resumes with "auto"; a setting that differs is named with both values."""
    import json
    import shutil
    from dataclasses import replace

    from export.train.run import train
    from tests.conftest import TINY_TRAINING

    config = replace(TrainConfig(corpus=str(chorale_corpus), **TINY_TRAINING), epochs=1)
    train(config, tmp_path / "run", log=lambda _: None)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert set(recorded["response_features_choice"]["validation_bits"]) == {"sound", "rhythm"}
    books = [f"codebook_{role}.npz" for role in ("guide", "response")]
    for name, saved in (("killed", [*books, "codebooks.json"]), ("half", books[:1])):
        (tmp_path / name).mkdir()
        for file in saved:
            shutil.copy(tmp_path / "run" / file, tmp_path / name / file)
        train(config, tmp_path / name, resume=True, log=lambda _: None)
        resumed = json.loads((tmp_path / name / "config.json").read_text())
        assert resumed["response_features_choice"] == recorded["response_features_choice"], name
        assert all((tmp_path / name / b).read_bytes() == (tmp_path / "run" / b).read_bytes() for b in books), name
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "run", old)
    (old / "codebooks.json").unlink()
    before = {k: v for k, v in recorded.items() if k != "response_features_choice"}
    before["train"] = {k: v for k, v in recorded["train"].items() if k != "response_features"}
    (old / "config.json").write_text(json.dumps(before))
    again = train(replace(config, epochs=2), old, resume=True, log=lambda _: None)
    assert again.config.response_features == "sound"
    with pytest.raises(CountertrackError, match="response_features: the run has 'sound', this asks 'rhythm'"):
        train(replace(config, response_features="rhythm"), old, resume=True, log=lambda _: None)

"""Training runs: scheduled sampling, the codebook and response-feature choices, history dropout's
candidates, resuming."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from export.data.features import PairFeatures
from export.data.token_data import Split
from export.model.decision_model import DecisionModel
from export.model.encoders import ENCODER_SAMPLE_RATE, EncoderSpec, build_encoder
from export.train.config import HISTORY_DROPOUT_CANDIDATES, TrainConfig
from export.train.run import (
    _lr_factor,
    fit_run_codebooks,
    held_out_information,
    own_history,
    response_feature_candidates,
    shares_codebook,
    warmup_steps,
)
from plugin_core.decision.config import DecisionConfig
from plugin_core.errors import CountertrackError


def _model_and_batch():
    torch.manual_seed(0)
    config = DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=16, context=8, lookahead=0)
    model = DecisionModel(config).eval()
    a = torch.randint(0, 8, (4, 12))
    b_in = torch.randint(0, 8, (4, 12))
    b_in[:, 0] = config.bos
    b_in[3, 9:] = config.pad  # a song that ends inside the window
    return model, config, a, b_in


def test_share_zero_keeps_the_true_history_and_share_one_is_the_models_shifted_guess():
    model, config, a, b_in = _model_and_batch()
    generator = torch.Generator().manual_seed(1)
    assert torch.equal(own_history(model, a, b_in, 0.0, config.pad, generator), b_in)
    swapped = own_history(model, a, b_in, 1.0, config.pad, generator)
    with torch.no_grad():
        guess = model(a, b_in).argmax(-1)
    assert torch.equal(swapped[:, 0], b_in[:, 0])  # BOS or the true token before the window stays
    assert torch.equal(swapped[:3, 1:], guess[:3, :-1])  # position t holds the guess made for t-1
    assert torch.equal(swapped[3, 9:], b_in[3, 9:])  # padding stays padding
    assert not torch.equal(swapped, b_in)


def test_a_share_swaps_about_that_share():
    model, config, a, b_in = _model_and_batch()
    a, b_in = a.repeat(50, 1), b_in.repeat(50, 1)
    swapped = own_history(model, a, b_in, 0.3, config.pad, torch.Generator().manual_seed(2))
    with torch.no_grad():
        guess = torch.cat([b_in[:, :1], model(a, b_in).argmax(-1)[:, :-1]], dim=1)
    differs = (guess != b_in)[:, 1:] & (b_in[:, 1:] != config.pad)
    share = float(((swapped != b_in)[:, 1:] & differs).sum() / differs.sum())
    assert 0.25 < share < 0.35


# codebook="auto": one codebook for A and B unless it starves a role, then one each.


def _plain_features(guide: np.ndarray, response: np.ndarray) -> list[PairFeatures]:
    n = guide.shape[0]
    zeros = np.zeros((n, 12), np.float32)
    return [PairFeatures("p", np.arange(n + 1), 44100, guide, response, zeros, zeros[:, :4], zeros, zeros[:, :4])]


def _choice(guide: np.ndarray, response: np.ndarray, codebook: str = "auto"):
    messages: list[str] = []
    books, reports, choice = fit_run_codebooks(
        _plain_features(guide, response), Split(("p",), (), ()), TrainConfig(corpus="-", vocab=16, codebook=codebook), None, messages.append
    )
    assert choice is None  # no feature groups: B's tokens can only be of its sound
    return shares_codebook(books), reports, messages


def test_roles_that_sound_alike_share_one_codebook():
    rng = np.random.default_rng(0)
    shared, reports, messages = _choice(rng.normal(size=(800, 8)).astype(np.float32), rng.normal(size=(800, 8)).astype(np.float32))
    assert shared and not messages
    assert min(r.entropy_bits for r in reports.values()) > 3.0


def test_a_role_the_shared_codebook_starves_gets_its_own_and_the_log_says_why():
    """Drums against a bass: A's segments sit far from B's and within a small spread, so a shared
    codebook spends almost every token on B; A's own codebook spreads A over all of them."""
    rng = np.random.default_rng(1)
    guide = (rng.normal(size=(800, 8)) * 0.05 + 20.0).astype(np.float32)
    response = rng.normal(size=(800, 8)).astype(np.float32)
    shared_reports = _choice(guide, response, "shared")[1]
    assert shared_reports["guide"].entropy_bits < 2.0  # starved: under half of log2(16) bits
    shared, reports, messages = _choice(guide, response)
    assert not shared and reports["guide"].entropy_bits > 3.0
    assert len(messages) == 1 and "guide" in messages[0] and "one codebook per role" in messages[0]
    assert not _choice(guide, response, "per-role")[0] and _choice(guide, response, "shared")[0]


# History dropout: "auto" trains each candidate and keeps the better on the validation songs.


@pytest.mark.slow
def test_auto_trains_each_candidate_and_keeps_the_better_on_validation(chorale_corpus, tmp_path):
    from export.train.run import load_run, run_started, train
    from tests.conftest import TINY_TRAINING

    config = replace(TrainConfig(corpus=str(chorale_corpus), **TINY_TRAINING), history_dropout="auto", epochs=2)
    run = train(config, tmp_path / "run", log=lambda _: None)
    scores = {}
    for share in HISTORY_DROPOUT_CANDIDATES:
        candidate = tmp_path / "run" / "candidates" / f"history-dropout-{share}"
        scores[share] = json.loads((candidate / "checkpoint.json").read_text())["best_score"]
    chosen = max(HISTORY_DROPOUT_CANDIDATES, key=lambda share: scores[share])
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["history_dropout_choice"] == {"chosen": chosen, "validation_greedy_tpp": {str(k): v for k, v in scores.items()}}
    assert run.config.history_dropout == chosen
    chosen_weights = (tmp_path / "run" / "candidates" / f"history-dropout-{chosen}" / "model.safetensors").read_bytes()
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == chosen_weights
    assert load_run(tmp_path / "run").config == run.config
    from benchmarks.history_dropout_choice import main as compare

    compare([str(tmp_path / "run"), str(chorale_corpus)])  # the candidates' scores side by side, with their noise
    # resuming the finished run retrains nothing and keeps the choice
    again = train(config, tmp_path / "run", resume=True, log=lambda _: None)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == chosen_weights and again.config == run.config
    with pytest.raises(CountertrackError, match="already holds a run"):
        train(config, tmp_path / "run", log=lambda _: None)
    # resumed with the chosen share named, for more epochs: the record of how it was chosen stays
    train(replace(config, history_dropout=chosen, epochs=3), tmp_path / "run", resume=True, log=lambda _: None)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["history_dropout_choice"] == recorded["history_dropout_choice"]
    # killed after the first candidate: the run is started (a sweep resumes it) and resumes to the same choice
    (tmp_path / "killed").mkdir()
    shutil.copytree(tmp_path / "run" / "candidates" / "history-dropout-0.5", tmp_path / "killed" / "candidates" / "history-dropout-0.5")
    assert run_started(tmp_path / "killed") and not run_started(tmp_path / "empty")
    with pytest.raises(CountertrackError, match="already holds a run"):
        train(config, tmp_path / "killed", log=lambda _: None)
    train(config, tmp_path / "killed", resume=True, log=lambda _: None)
    assert (tmp_path / "killed" / "model.safetensors").read_bytes() == chosen_weights
    # a run that trained one share says which to resume it with
    single = replace(config, history_dropout=0.5)
    train(single, tmp_path / "single", log=lambda _: None)
    with pytest.raises(CountertrackError, match="pass --history-dropout 0.5 to resume it"):
        train(config, tmp_path / "single", resume=True, log=lambda _: None)
    # the candidates deleted to save space: resuming with auto resumes the chosen run, training no candidate again
    shutil.rmtree(tmp_path / "run" / "candidates")
    extended = (tmp_path / "run" / "model.safetensors").read_bytes()
    resumed = train(config, tmp_path / "run", resume=True, log=lambda _: None)
    assert not (tmp_path / "run" / "candidates").exists() and resumed.config.history_dropout == chosen
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == extended
    assert json.loads((tmp_path / "run" / "config.json").read_text())["history_dropout_choice"] == recorded["history_dropout_choice"]


def _checkpoint(song_hits: list[int], totals: list[int]) -> dict:
    return {"best_score": sum(song_hits) / sum(totals), "best_song_counts": [[h, t] for h, t in zip(song_hits, totals)]}


def test_the_candidate_hearing_its_history_must_win_by_more_than_one_standard_error():
    from export.train.run import choose_history_dropout

    totals = [100] * 10
    blind = [30] * 10
    # one segment better on average, but song by song it swings both ways: within the noise
    noisy = [36, 25, 31, 29, 35, 24, 33, 28, 34, 35]
    chosen, record = choose_history_dropout({0.5: _checkpoint(noisy, totals), 1.0: _checkpoint(blind, totals)})
    assert chosen == 1.0 and record["rule"] == "one standard error"
    assert record["validation_greedy_tpp"]["0.5"] > record["validation_greedy_tpp"]["1.0"]
    # two segments better on every song: kept
    steady = [32] * 10
    assert choose_history_dropout({0.5: _checkpoint(steady, totals), 1.0: _checkpoint(blind, totals)})[0] == 0.5
    # no per-song counts (a run from before them): the higher score, as before
    old = {0.5: {"best_score": 0.31}, 1.0: {"best_score": 0.30}}
    assert choose_history_dropout(old) == (0.5, {"chosen": 0.5, "validation_greedy_tpp": {"0.5": 0.31, "1.0": 0.30}})


def test_paired_standard_error_is_that_of_the_song_differences():
    from export.train.run import paired_standard_error

    totals = np.array([100.0, 100.0, 100.0, 100.0])
    assert paired_standard_error(np.array([30.0, 31, 29, 30]), np.array([30.0, 31, 29, 30]), totals) == 0.0
    differences = np.array([2.0, -1.0, 3.0, 0.0])  # equal song lengths: the standard error of the mean difference
    expected = np.std(differences / 100.0, ddof=1) / np.sqrt(4)
    assert paired_standard_error(30 + differences, np.full(4, 30.0), totals) == pytest.approx(expected)


# B's tokens are about what A tells of B: a bass that follows a melody's notes is tokenised by its
# sound (pitch, register), one that plays on the drums' kicks in a key of its own by its rhythm; "auto"
# tells the two apart on the validation songs, with the real spectral encoder on synthesized songs.


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


@pytest.mark.slow  # k-means on the spectral encoder's features of 28 synthesized songs
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


@pytest.mark.slow
def test_a_named_choice_is_fitted_alone():
    features = _features(_melody_and_bass)
    _, _, choice = fit_run_codebooks(features, SPLIT, TrainConfig(corpus="-", vocab=8, response_features="rhythm"), GROUPS)
    assert choice is None


def test_auto_tries_rhythm_only_with_the_spectral_groups_and_a_codebook_of_b_own():
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


@pytest.mark.parametrize("total", [3, 10, 30, 120, 999])
def test_on_a_small_run_the_warm_up_is_at_most_a_tenth_of_the_steps(total):
    warmup = warmup_steps(TrainConfig(corpus="c").warmup_steps, total)  # the default asks for 100 steps
    assert 1 <= warmup <= max(1, total // 10)
    factors = np.array([_lr_factor(step, warmup, total) for step in range(total)])
    assert factors.argmax() == warmup - 1 and factors.max() == 1.0  # the full rate is reached after the warm-up
    assert factors[warmup - 1 :].min() >= 0.05 and np.all(np.diff(factors[warmup - 1 :]) <= 1e-12)  # then it only falls


def test_a_long_run_warms_up_for_the_steps_asked():
    assert warmup_steps(100, 5000) == 100

"""History dropout: a model trained with all of B's history hidden reads any history as MASK, and
"auto" trains each candidate and keeps the better on the validation songs."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from export.model.decision_model import DecisionModel
from export.train.config import HISTORY_DROPOUT_CANDIDATES, TrainConfig
from host_scripts.cli import main
from plugin_core.decision.config import DecisionConfig
from plugin_core.errors import CountertrackError


def test_a_history_blind_model_gives_the_same_logits_whatever_was_played():
    torch.manual_seed(0)
    config = DecisionConfig(vocab_size=8, d_model=16, heads=2, layers=1, ffn=16, context=8, lookahead=0)
    model = DecisionModel(config).eval()
    a = torch.randint(0, 8, (1, 10))
    played = torch.randint(0, 8, (1, 10))
    played[0, 0] = config.bos
    masked = torch.full_like(played, config.mask)
    with torch.no_grad():
        assert not torch.allclose(model(a, played), model(a, masked))
        model.read_history_as_mask()
        torch.testing.assert_close(model(a, played), model(a, masked), rtol=0, atol=0)
        padded = played.clone()
        padded[0, 7:] = config.pad
        assert not torch.allclose(model(a, padded), model(a, masked))  # PAD keeps its own meaning


@pytest.mark.parametrize("value", [-0.1, 1.5, "sometimes", float("nan")])
def test_history_dropout_is_a_share_or_auto(value):
    with pytest.raises(CountertrackError):
        TrainConfig(corpus="c", history_dropout=value)


def test_the_command_line_takes_auto_or_a_share(capsys):
    assert main(["train", "corpus", "-o", "run", "--history-dropout", "often"]) == 2
    assert "--history-dropout: 'often' is not a number" in capsys.readouterr().err
    assert main(["train", "corpus", "-o", "run", "--history-dropout", "1.5"]) == 2
    assert "1.5 is outside 0..1 (or give auto)" in capsys.readouterr().err


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

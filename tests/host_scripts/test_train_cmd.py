"""countertrack train / eval through the command line on rendered chorales: files, cache, resume, reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from host_scripts.cli import main
from plugin_core.io.cache import cache_folder
from tests.conftest import TINY_TRAINING_ARGS
from tests.paths import ROOT

TINY = [*TINY_TRAINING_ARGS]


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_run(chorale_corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(chorale_corpus), "-o", str(run), "--epochs", "3", *TINY]) == 0
    return run


def test_train_writes_a_complete_run(tiny_run):
    for name in (
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
        "checkpoint.safetensors",
        "checkpoint.json",
        "codebook_guide.npz",
        "codebook_response.npz",
    ):
        assert (tiny_run / name).is_file(), name
    config = json.loads((tiny_run / "config.json").read_text())
    split = config["split"]
    assert len(split["train"]) == 3 and len(split["validation"]) == 1 and len(split["test"]) == 1
    assert not set(split["train"]) & set(split["test"])
    assert [m["epoch"] for m in _metrics(tiny_run)] == [1, 2, 3]
    assert config["codebook_reports"]["response"]["vocab_size"] == 8


def test_second_run_reads_embeddings_from_the_cache(tiny_run, chorale_corpus, tmp_path):
    entries = sorted(cache_folder("embeddings").glob("*.npz"))
    assert len(entries) >= 5
    stamps = {p: p.stat().st_mtime_ns for p in entries}
    assert main(["train", str(chorale_corpus), "-o", str(tmp_path / "again"), "--epochs", "1", *TINY]) == 0
    assert {p: p.stat().st_mtime_ns for p in entries} == stamps
    assert sorted(cache_folder("embeddings").glob("*.npz")) == entries


def test_existing_run_is_not_overwritten_without_resume(tiny_run, chorale_corpus, capsys):
    before = (tiny_run / "model.safetensors").read_bytes()
    assert main(["train", str(chorale_corpus), "-o", str(tiny_run), "--epochs", "3", *TINY]) == 1
    assert "--resume" in capsys.readouterr().err
    assert (tiny_run / "model.safetensors").read_bytes() == before


def test_run_killed_mid_training_resumes_to_the_same_weights(chorale_corpus, tmp_path):
    """SIGKILL a training process after its first epoch; --resume must end where an uninterrupted run ends."""
    argv = ["train", str(chorale_corpus), "--epochs", "8", *TINY]
    command = [sys.executable, "-m", "host_scripts"]
    killed = subprocess.Popen(
        [*command, *argv, "-o", str(tmp_path / "killed")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while killed.poll() is None and time.monotonic() < deadline:
        if metrics.is_file() and metrics.read_text().strip():
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert len(_metrics(tmp_path / "killed")) < 8
    assert main([*argv, "-o", str(tmp_path / "killed"), "--resume"]) == 0
    assert main([*argv, "-o", str(tmp_path / "whole")]) == 0
    resumed, whole = load_file(str(tmp_path / "killed" / "model.safetensors")), load_file(str(tmp_path / "whole" / "model.safetensors"))
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert (resumed[key] == whole[key]).all(), key
    assert [m["epoch"] for m in _metrics(tmp_path / "killed")] == [m["epoch"] for m in _metrics(tmp_path / "whole")]


def test_resume_refuses_changed_settings(tiny_run, chorale_corpus, capsys):
    assert main(["train", str(chorale_corpus), "-o", str(tiny_run), "--resume", "--epochs", "3", *TINY[:-2], "--batch-size", "4"]) == 1
    assert "batch_size" in capsys.readouterr().err


def test_eval_reports_table_json_and_plot(tiny_run, chorale_corpus, tmp_path, capsys):
    out = tmp_path
    code = main(
        [
            "eval",
            str(tiny_run),
            "--corpus",
            str(chorale_corpus),
            "--json",
            str(out / "e.json"),
            "--plot",
            str(out / "e.png"),
            "--markdown",
            str(out / "e.md"),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    for row in ("model, greedy", "uniform random", "unigram of B", "majority label", "table p(B|A) argmax", "table p(B|A) sampled"):
        assert row in table
    result = json.loads((out / "e.json").read_text())
    test_song = json.loads((tiny_run / "config.json").read_text())["split"]["test"]
    assert result["held_out"] == test_song
    assert all(0.0 <= s["tpp"] <= 100.0 for s in result["scores"])
    assert (out / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "e.md").read_text() + "\n" == table  # the file holds exactly what was printed


@pytest.mark.slow
def test_eval_audio_renders_held_out_songs_and_measures_them(tiny_run, chorale_corpus, tmp_path, capsys):
    code = main(
        [
            "eval",
            str(tiny_run),
            "--corpus",
            str(chorale_corpus),
            "--audio",
            "--json",
            str(tmp_path / "e.json"),
            "--plot",
            str(tmp_path / "e.png"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    assert "B onsets on A's beats" in table and "consonant A/B frames" in table
    audio = json.loads((tmp_path / "e.json").read_text())["audio"]
    assert [song["pair_id"] for song in audio["songs"]] == json.loads((tiny_run / "config.json").read_text())["split"]["test"]
    means = audio["summary"]["on_beat"]["mean"]
    assert 0.0 <= means["chance"] < means["true"] <= 1.0  # the true bass is on the beat far more often than chance
    assert all(0.0 <= audio["summary"]["consonance"]["mean"][kind] <= 1.0 for kind in ("model", "oracle", "true", "chance"))
    assert (tmp_path / "e.audio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_of_a_missing_run_is_a_one_line_error(tmp_path, chorale_corpus, capsys):
    assert main(["eval", str(tmp_path / "nothing"), "--corpus", str(chorale_corpus)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nothing" in err


def test_train_on_a_one_song_corpus_fails_clearly(tmp_path, chorale_corpus, capsys):
    corpus = json.loads((chorale_corpus / "corpus.json").read_text())
    corpus["pairs"] = corpus["pairs"][:1]
    for pair in corpus["pairs"]:
        pair["guide"], pair["response"] = (str(chorale_corpus / pair[k]) for k in ("guide", "response"))
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "corpus.json").write_text(json.dumps(corpus))
    assert main(["train", str(tmp_path / "one"), "-o", str(tmp_path / "run"), *TINY]) == 1
    assert "at least 2 songs" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run")  # nothing is left of a run that could not start


def test_sweep_trains_and_tabulates_each_configuration(chorale_corpus, tmp_path, capsys):
    code = main(
        [
            "eval",
            "--sweep",
            str(tmp_path / "sweep"),
            "--corpus",
            str(chorale_corpus),
            "--segments",
            "0.5,beat",
            "--vocabs",
            "8",
            "--epochs",
            "1",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "| 0.5 | 8 |" in table and "| beat | 8 |" in table
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [(r["segment"], r["vocab"]) for r in rows] == [("0.5", 8), ("beat", 8)]
    assert (tmp_path / "sweep" / "segment-0.5_vocab8" / "eval.png").is_file()


def test_training_says_each_epoch_off_a_terminal_warns_of_too_little_data_and_is_silent_with_q(chorale_corpus, tmp_path, capsys):
    assert main(["train", str(chorale_corpus), "-o", str(tmp_path / "said"), "--epochs", "2", *TINY]) == 0
    err = capsys.readouterr().err
    epochs = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"] and "greedy TPP" in epochs[0]
    assert "warning: only 3 training song(s)" in err  # the 5-chorale corpus keeps 3 for training
    assert main(["-q", "train", str(chorale_corpus), "-o", str(tmp_path / "quiet"), "--epochs", "2", *TINY]) == 0
    assert capsys.readouterr().err == ""


def test_a_run_of_the_first_schema_loads_and_a_run_with_unknown_settings_is_one_line(tiny_run, tmp_path, capsys):
    """Schema 1 called the training sequence length "window" (a word segmentation uses for its
    analysis window): such a run still loads, and eval names the file when a setting is unknown."""
    import shutil

    from export.train.run import load_run

    old = tmp_path / "old-run"
    shutil.copytree(tiny_run, old)
    config = json.loads((old / "config.json").read_text())
    config["schema_version"] = 1
    config["train"]["window"] = config["train"].pop("sequence_length")
    (old / "config.json").write_text(json.dumps(config))
    assert load_run(old).config.sequence_length == json.loads((tiny_run / "config.json").read_text())["train"]["sequence_length"]
    config["train"]["colour"] = "blue"
    (old / "config.json").write_text(json.dumps(config))
    assert main(["eval", str(old), "--corpus", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "config.json" in err and "unknown setting(s) colour" in err


def test_train_options_default_to_the_run_settings_defaults():
    """One description: `countertrack train CORPUS -o RUN` with no options is TrainConfig's defaults
    (which take the model's sizes from the runtime's DecisionConfig)."""
    from export.train.config import TrainConfig
    from host_scripts.cli import build_parser
    from host_scripts.train_cmd import training_config
    from plugin_core.decision.config import DecisionConfig

    args = build_parser().parse_args(["train", "corpus", "-o", "run"])
    assert training_config(args, "corpus") == TrainConfig(corpus="corpus")
    assert TrainConfig(corpus="corpus").decision() == DecisionConfig()


def test_the_command_line_takes_auto_or_a_share(capsys):
    assert main(["train", "corpus", "-o", "run", "--history-dropout", "often"]) == 2
    assert "--history-dropout: 'often' is not a number" in capsys.readouterr().err
    assert main(["train", "corpus", "-o", "run", "--history-dropout", "1.5"]) == 2
    assert "1.5 is outside 0..1 (or give auto)" in capsys.readouterr().err


@pytest.mark.slow  # trains (about 30 s on 2 cores)
def test_a_sweep_names_every_file_it_wrote(tmp_path, capsys):
    """On a corpus of tones (four songs made here, paired by `corpus from-stems`): one configuration,
    one epoch; every file and run folder written is named on stderr, and each of them exists."""
    from plugin_core.io.audio import write_audio
    from tests.bundles import RATE, tone_melody

    for song in range(4):
        folder = tmp_path / "songs" / f"song{song}"
        folder.mkdir(parents=True)
        write_audio(folder / "guide.wav", tone_melody(8.0, 120.0, seed=song), RATE)
        write_audio(folder / "bass.wav", tone_melody(8.0, 120.0, seed=10 + song, low_hz=55.0), RATE)
    corpus = tmp_path / "corpus"
    assert main(["corpus", "from-stems", str(tmp_path / "songs"), "--guide", "guide*", "--response", "bass*", "-o", str(corpus)]) == 0
    capsys.readouterr()
    sweep = tmp_path / "sweep"
    assert main(["eval", "--sweep", str(sweep), "--corpus", str(corpus), "--segments", "0.5", "--vocabs", "8", "--epochs", "1"]) == 0
    named = [line.removeprefix("wrote ").rstrip("/") for line in capsys.readouterr().err.splitlines() if line.startswith("wrote ")]
    run = sweep / "segment-0.5_vocab8"
    expected = [run, run / "eval.json", run / "eval.png", run / "eval.md", sweep / "sweep.json", sweep / "sweep.md", sweep / "sweep.png"]
    assert named == [str(path) for path in expected]
    assert all(path.exists() for path in expected)

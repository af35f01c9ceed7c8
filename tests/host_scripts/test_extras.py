"""A runtime-only install (no train extra) and an install without the checkout's benchmarks: the
commands that need them say so in one line with exit code 1, never with a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from host_scripts import corpus_cmd
from host_scripts.cli import main
from host_scripts.extras import INSTALL_TRAIN, TRAIN_MODULES
from tests.paths import ROOT

COMMANDS = {
    "train": ["train", "corpus", "-o", "run"],
    "eval": ["eval", "run", "--corpus", "corpus"],
    "export": ["export", "run", "-o", "b.ctbundle"],
    "corpus from-scores": ["corpus", "from-scores", "--composer", "bach", "--guide", "soprano", "--response", "bass", "-o", "corpus"],
    "bench": ["bench", "--skip-encoders", "--skip-training"],
}

# Each command in this process with the train extra and the benchmarks made unimportable (None in
# sys.modules), its exit code and stderr collected; printed as JSON.
BLOCKED = f"""
import contextlib, io, json, sys
for name in {(*TRAIN_MODULES, "benchmarks")!r}:
    sys.modules[name] = None
from host_scripts.cli import main
results = {{}}
for name, argv in {COMMANDS!r}.items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    results[name] = [code, err.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def blocked_results(tmp_path_factory) -> dict[str, list]:
    folder = tmp_path_factory.mktemp("runtime-only")
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(folder.iterdir()) == []  # nothing started, nothing written
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("command", ["train", "eval", "export", "corpus from-scores"])
def test_commands_of_the_train_extra_say_how_to_install_it_in_one_line(blocked_results, command):
    code, err = blocked_results[command]
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"countertrack: error: {command} needs the train extra (")
    assert err.rstrip().endswith(INSTALL_TRAIN)


def test_bench_outside_a_checkout_says_where_it_runs_in_one_line(blocked_results):
    code, err = blocked_results["bench"]
    assert code == 1 and err.count("\n") == 1
    assert "benchmarks/" in err and "checkout" in err


def test_a_module_of_the_train_extra_missing_mid_command_is_one_line_too(monkeypatch, tmp_path, capsys):
    def lazy_import(_):
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    monkeypatch.setattr(corpus_cmd, "load_corpus", lazy_import)
    assert main(["corpus", "info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib not installed" in err and INSTALL_TRAIN in err


def test_a_missing_module_outside_the_extras_is_still_a_bug_with_its_traceback(monkeypatch, tmp_path):
    def broken_import(_):
        raise ModuleNotFoundError("No module named 'plugin_core.gone'", name="plugin_core.gone")

    monkeypatch.setattr(corpus_cmd, "load_corpus", broken_import)
    with pytest.raises(ModuleNotFoundError):
        main(["corpus", "info", str(tmp_path)])

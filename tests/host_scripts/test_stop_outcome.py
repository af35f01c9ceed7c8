"""The one line and exit code of a stopped command (``host_scripts.program.stop_outcome``): the same
words whether the command line caught the stop (``cli.main``) or the program around it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from host_scripts.program import stop_outcome
from tests.paths import ROOT


@pytest.mark.parametrize(("terminated", "outcome"), [(True, ("countertrack: stopped", 143)), (False, ("countertrack: interrupted", 130))])
def test_a_stop_before_the_outputs_are_in_place_says_which_stop_and_exits_with_its_code(terminated, outcome):
    assert stop_outcome([], terminated) == outcome


@pytest.mark.parametrize("terminated", [True, False])
def test_a_stop_once_the_outputs_are_in_place_names_them_and_succeeds(terminated):
    kept = [Path("out/b.wav"), Path("out/m.wav"), Path("out/session")]
    assert stop_outcome(kept, terminated) == (
        "countertrack: stopped once the outputs were complete; kept out/b.wav, out/m.wav, out/session",
        0,
    )


def test_the_program_stays_free_of_the_libraries_it_guards():
    """program.py runs while the command line loads: importing it (and so its formatter) loads neither
    plugin_core nor numpy."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, host_scripts.program; print(sorted(m for m in sys.modules if m.startswith(('plugin_core', 'numpy'))))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr

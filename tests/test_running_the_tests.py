"""The suite runs with plain ``pytest`` whether pytest-xdist is there or not: with it on every core
(tests/conftest.py adds -n auto --dist loadgroup), without it (-p no:xdist, or a test-only install) in
one process, and a -n given by the user is kept. Real pytest runs, on one small test file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.paths import ROOT

SMALL = "tests/host_scripts/test_stop_outcome.py"


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "PYTHONBREAKPOINT"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not slow", *args, SMALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **env},
    )


@pytest.mark.slow  # a pytest run in a subprocess: seconds
def test_without_xdist_the_tests_run_in_one_process():
    done = _pytest("-p", "no:xdist", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unrecognized arguments" not in done.stderr
    assert "passed" in done.stdout and "[gw" not in done.stdout


@pytest.mark.slow  # a pytest run in a subprocess: seconds
def test_with_xdist_the_tests_are_dealt_out_to_workers_by_group():
    pytest.importorskip("xdist")
    done = _pytest("-v", PYTEST_XDIST_AUTO_NUM_WORKERS="1")  # the number -n auto finds, here one
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created: 1/1 worker" in done.stdout
    assert "scheduling tests via LoadGroupScheduling" in done.stdout


@pytest.mark.slow  # a pytest run in a subprocess: seconds
def test_a_number_of_workers_given_by_the_user_is_kept():
    pytest.importorskip("xdist")
    done = _pytest("-v", "-n", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout and "[gw" not in done.stdout and "created:" not in done.stdout

"""Option types of the command line: seeds, counts, finite numbers, shares, and jobs capped at the cores."""

from __future__ import annotations

import argparse
import os

import pytest

from host_scripts.options import capped_jobs, finite_float, positive_int, seed, share_or_auto


def test_good_values_are_read():
    assert seed("0") == 0 and seed(str(2**63 - 1)) == 2**63 - 1
    assert positive_int("3") == 3 and finite_float("-2.5") == -2.5
    assert share_or_auto("auto") == "auto" and share_or_auto("0.25") == 0.25 and share_or_auto("1") == 1.0


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (seed, "-1", "-1 is outside 0..2\\^63-1"),
        (seed, str(2**63), "is outside 0..2\\^63-1"),
        (seed, "1.5", "'1.5' is not a whole number"),
        (positive_int, "0", "0 is not at least 1"),
        (positive_int, "two", "'two' is not a whole number"),
        (finite_float, "nan", "'nan' is not a finite number"),
        (finite_float, "inf", "'inf' is not a finite number"),
        (finite_float, "often", "'often' is not a number"),
        (share_or_auto, "1.5", "1.5 is outside 0..1 \\(or give auto\\)"),
        (share_or_auto, "Auto", "'Auto' is not a number"),
    ],
)
def test_bad_values_are_one_line_saying_why(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


def test_jobs_beyond_the_cores_are_capped_and_said(capsys):
    cores = os.cpu_count() or 1
    assert capped_jobs(1) == 1 and capsys.readouterr().err == ""
    assert capped_jobs(cores + 5) == cores
    assert f"--jobs {cores + 5} capped at the {cores} cores" in capsys.readouterr().err

"""Argument types and checks shared by the commands: a bad value is a usage error (exit 2) in one line."""

from __future__ import annotations

import argparse
import math
import os

from host_scripts.progress import log

MAX_SEED = 2**63 - 1


class DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already says it (a default of None
    means "not given" and is said in words where it matters; a flag, which takes no value (-q, -v,
    --force), has none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = bool(action.option_strings) and action.nargs != 0
        shown = shown and not (default is None or default is False or default == [] or default is argparse.SUPPRESS)
        if shown and "default" not in text and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2^63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..2^63-1")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def finite_float(text: str) -> float:
    """A finite number (argparse's float takes 'nan' and 'inf')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def share_or_auto(text: str) -> float | str:
    """A share from 0 to 1, or "auto" (the command chooses)."""
    if text == "auto":
        return text
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1 (or give auto)")
    return value


def capped_jobs(jobs: int) -> int:
    """``jobs``, at most one per core; says so on stderr when it caps."""
    cores = os.cpu_count() or 1
    if jobs > cores:
        log(f"countertrack: --jobs {jobs} capped at the {cores} cores of this machine")  # -q: errors only
    return min(jobs, cores)

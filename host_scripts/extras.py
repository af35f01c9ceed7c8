"""Commands that need more than the runtime: the train extra (PyTorch side), the live extra (JACK and
MIDI input) and the source checkout (benchmarks). Each says in one line what is missing and how to
get it, instead of a traceback."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from plugin_core.errors import CountertrackError

# countertrack is installed from its source folder (it is not on PyPI): the extras come from there too
INSTALL_TRAIN = "in countertrack's source folder, pip install torch==2.13.0 '.[train]' (torch pinned: its CPU build)"
INSTALL_CLUSTER = "in countertrack's source folder, pip install '.[cluster]'"
# top-level modules of the train extra (pyproject.toml's [project.optional-dependencies] train)
TRAIN_MODULES = ("torch", "transformers", "onnx", "sklearn", "safetensors", "music21", "pretty_midi", "matplotlib", "yaml")

INSTALL_LIVE = "in countertrack's source folder, pip install '.[live]' (and JACK's library: apt-get install libjack-jackd2-0)"
# top-level modules of the live extra (pyproject.toml's [project.optional-dependencies] live)
LIVE_MODULES = ("jack", "rtmidi")

Command = Callable[[argparse.Namespace], int]


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """Those of ``modules`` that cannot be imported here."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def train_extra_error(command: str, missing: list[str]) -> CountertrackError:
    return CountertrackError(f"{command} needs the train extra ({', '.join(missing)} not installed): {INSTALL_TRAIN}")


def needs_train_extra(command: str, *modules: str) -> Callable[[Command], Command]:
    """Run the decorated command only when ``modules`` import; else one line saying how to install them."""

    def decorate(run: Command) -> Command:
        @functools.wraps(run)
        def checked(args: argparse.Namespace) -> int:
            missing = missing_modules(modules)
            if missing:
                raise train_extra_error(command, missing)
            return run(args)

        return checked

    return decorate


def needs_cluster_extra(command: str) -> None:
    """Raise the one-line error saying how to install Ray when it is not importable here."""
    if missing_modules(("ray",)):
        raise CountertrackError(f"{command} needs the cluster extra (ray not installed): {INSTALL_CLUSTER}")


def live_extra_error(command: str, missing: list[str]) -> CountertrackError:
    return CountertrackError(f"{command} needs the live extra ({', '.join(missing)} not installed): {INSTALL_LIVE}")


def needs_live_extra(command: str) -> Callable[[Command], Command]:
    """Run the decorated command only when the live extra imports; else one line saying how to install it.
    JACK-Client installs without JACK's C library and fails only on import, so that is tried too."""

    def decorate(run: Command) -> Command:
        @functools.wraps(run)
        def checked(args: argparse.Namespace) -> int:
            missing = missing_modules(LIVE_MODULES)
            if missing:
                raise live_extra_error(command, missing)
            try:
                import jack  # noqa: F401  (loads libjack)
            except OSError as exc:
                raise CountertrackError(f"{command} needs JACK's library ({exc}): apt-get install libjack-jackd2-0") from None
            return run(args)

        return checked

    return decorate


def missing_extra(exc: ModuleNotFoundError, command: str) -> CountertrackError | None:
    """The one-line error for a module of an extra found missing mid-command (a lazy import), else None."""
    name = (exc.name or "").split(".")[0]
    if name in LIVE_MODULES:
        return live_extra_error(command, [name])
    return train_extra_error(command, [name]) if name in TRAIN_MODULES else None


def import_benchmarks() -> None:
    """Make benchmarks/ importable: they ship with the source checkout, not the wheel, so
    ``countertrack bench`` runs from a checkout (its root as the working folder)."""
    if _importable("benchmarks.render_speed"):
        return
    if (Path.cwd() / "benchmarks" / "render_speed.py").is_file():
        sys.path.insert(0, str(Path.cwd()))
        return
    raise CountertrackError(
        "bench runs the scripts in benchmarks/, which ship with the source checkout, not the package: "
        "run it from the checkout's root folder"
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False

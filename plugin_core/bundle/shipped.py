"""The data shipped with countertrack (the ``presets`` package): JSON presets, the default bundle and
its example A, found through ``importlib.resources`` wherever the package is installed.

A preset named bare (``ambient``) is a shipped one; a file is named as a path (``./ambient.json``,
``my/ambient``), so a file in the working folder never stands in for a shipped preset.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TypeGuard

from plugin_core.errors import BundleError

SHIPPED_PACKAGE = "presets"
DEFAULT_BUNDLE = "default.ctbundle"
EXAMPLE_A = "example_a.flac"
PRESET_SUFFIX = ".json"

# files extracted from a zipped install live until the process ends
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def shipped_files() -> Traversable:
    """The root of the shipped data; a one-line error when the ``presets`` package is missing."""
    try:
        return resources.files(SHIPPED_PACKAGE)
    except ModuleNotFoundError:
        raise BundleError(f"the shipped data (package {SHIPPED_PACKAGE!r}) is not installed; reinstall countertrack") from None


def shipped_path(name: str) -> Path:
    """A real file-system path of the shipped file or folder ``name`` (extracted when installed zipped)."""
    resource = shipped_files().joinpath(name)
    if isinstance(resource, Path):
        return resource
    try:
        return _extracted.enter_context(resources.as_file(resource))
    except (OSError, TypeError, ValueError) as exc:  # directories in a zip need Python >= 3.12
        raise BundleError(f"cannot read the shipped {name!r} from this installation ({exc})") from exc


def source_tree_path(name: str) -> Path | None:
    """Where the shipped file or folder ``name`` belongs in a source tree of countertrack (the
    ``presets`` package a folder beside pyproject.toml), found as the runtime finds the shipped data:
    for the recipe that rebuilds it. None in an installed copy, whose shipped data is not for writing."""
    package = shipped_files()
    if not isinstance(package, Path) or not (package.parent / "pyproject.toml").is_file():
        return None
    return package / name


def default_bundle_path() -> Path:
    """The shipped default bundle's folder; raises CountertrackError when it is not installed."""
    path = shipped_path(DEFAULT_BUNDLE)
    if not (path / "manifest.json").is_file():
        raise BundleError("the default bundle is not installed (no manifest.json); pass --bundle", path)
    return path


def example_a_path() -> Path:
    """The shipped example A (a melody on flute) that the quickstart answers."""
    return shipped_path(EXAMPLE_A)


def shipped_preset_names() -> list[str]:
    """Names of the shipped presets, sorted (``faithful``, ``loose``, ...)."""
    return sorted(
        item.name[: -len(PRESET_SUFFIX)] for item in shipped_files().iterdir() if item.name.endswith(PRESET_SUFFIX) and item.is_file()
    )


def is_preset_name(name_or_path: str | os.PathLike[str]) -> TypeGuard[str]:
    """True for a bare preset name such as ``ambient``; False for anything written as a path."""
    text = os.fspath(name_or_path)
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return isinstance(name_or_path, str) and not any(s in text for s in separators) and not text.endswith(PRESET_SUFFIX)


def shipped_preset_path(name: str) -> Path:
    """The JSON file of the shipped preset ``name``; the error lists the shipped ones."""
    names = shipped_preset_names()
    if name not in names:
        raise BundleError(
            f"no shipped preset of this name (shipped presets: {', '.join(names)}; a file is named by a path, e.g. ./{name}.json)", name
        )
    return shipped_path(name + PRESET_SUFFIX)

"""One strict reader for the settings records countertrack writes (run configs, manifests, caches):
an unknown key or a missing one is one error naming the file, never a guess or a TypeError."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

from plugin_core.errors import ConfigurationError, CountertrackError


def checked_keys(
    record: type,
    data: Any,
    what: str,
    source: str | os.PathLike[str] | None = None,
    *,
    may_omit: Iterable[str] = (),
    error: type[CountertrackError] = ConfigurationError,
) -> dict[str, Any]:
    """``data`` as a dict whose keys are exactly the fields of the dataclass ``record`` (those in
    ``may_omit`` may be absent: settings added later, read as their defaults); else ``error`` naming
    ``what`` and ``source``."""
    assert is_dataclass(record)
    if not isinstance(data, dict):
        raise error(f"{what} not an object", source)
    known = {f.name for f in fields(record)}
    unknown, missing = sorted(set(data) - known), sorted(known - set(data) - set(may_omit))
    if unknown or missing:
        problems = ([f"unknown setting(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing {', '.join(missing)}"] if missing else []
        )
        raise error(f"{what} not as this countertrack writes them: {'; '.join(problems)}", source)
    return dict(data)


def checked_schema_version(
    version: Any,
    newest: int,
    what: str,
    source: str | os.PathLike[str] | None = None,
    *,
    error: type[CountertrackError] = ConfigurationError,
) -> int:
    """``version`` if it is a schema version this countertrack reads (a whole number from 1 to
    ``newest``); else ``error`` naming ``what`` and ``source``: one check for every record written."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise error(f"{what} schema version {version!r} is not a positive whole number", source)
    if version > newest:
        raise error(f"{what} schema version {version} is newer than this countertrack reads ({newest}); upgrade countertrack", source)
    return version

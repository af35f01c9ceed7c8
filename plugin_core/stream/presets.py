"""Presets: JSON files of sampling, engine, mix and effect settings, validated against a JSON Schema.

An unknown key, a wrong type or an out-of-range number is an error that names the preset file and
the offending key. Effects are pedalboard's built-in plugins by class name, or a VST3/AU path
loaded with ``pedalboard.load_plugin``; nothing is evaluated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import pedalboard

from plugin_core.bundle.shipped import is_preset_name, shipped_preset_path
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import ConfigurationError, CountertrackError
from plugin_core.io.atomic import read_json
from plugin_core.io.validation import effect_parameters, finite_numbers

# pedalboard's built-in effects a preset may name (containers and external hosts excluded)
BUILTIN_EFFECTS = (
    "Bitcrush",
    "Chorus",
    "Clipping",
    "Compressor",
    "Delay",
    "Distortion",
    "Gain",
    "HighShelfFilter",
    "HighpassFilter",
    "LadderFilter",
    "Limiter",
    "LowShelfFilter",
    "LowpassFilter",
    "NoiseGate",
    "PeakFilter",
    "Phaser",
    "PitchShift",
    "Reverb",
)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str = ""
    seed: int | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    wet: float = 1.0
    dry: float = 0.0
    pre: tuple[dict[str, Any], ...] = ()
    post: tuple[dict[str, Any], ...] = ()
    source: str = ""

    def sampling_config(self, base: SamplingConfig) -> SamplingConfig:
        return replace(base, **self.sampling)

    def engine_config(self, base: EngineConfig) -> EngineConfig:
        return replace(base, **self.engine)


@dataclass(frozen=True)
class MixLevels:
    """The output's mix: ``wet`` is B's level, ``dry`` A's (0..2 each). The defaults are B alone."""

    wet: float = 1.0
    dry: float = 0.0


def mix_levels(preset: Preset | None = None, parameters: Mapping[str, Any] | None = None, *, base: MixLevels | None = None) -> MixLevels:
    """The effective wet/dry, the one place it is decided: ``parameters`` by name (``wet``, ``dry``;
    other names ignored) over the preset's over ``base`` (the defaults: B alone). The chain mixes
    with it, and an offline render's mix file, DAW session and messages read it from here."""
    levels = base or MixLevels()
    if preset is not None:
        levels = MixLevels(wet=float(preset.wet), dry=float(preset.dry))
    given = {name: (parameters or {})[name] for name in ("wet", "dry") if name in (parameters or {})}
    for name, value in given.items():
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 2.0):
            raise ConfigurationError(f"{name} {value!r} is out of range 0..2")
    return replace(levels, **{name: float(value) for name, value in given.items()})


def _schema() -> dict[str, Any]:
    return json.loads(resources.files("plugin_core").joinpath("schemas/preset.schema.json").read_text(encoding="utf-8"))


def parse_preset(data: Any, source: str | os.PathLike[str] = "<preset>") -> Preset:
    """Validate ``data`` against the preset schema; the first problem is raised naming its key."""
    import jsonschema

    finite_numbers(data, source, error=ConfigurationError)  # JSON has no NaN; Python's reader takes it, the schema's ranges do not see it
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            raise ConfigurationError(f"unknown key {', '.join(repr(k) for k in unknown)} at {where}", source)
        raise ConfigurationError(f"{where}: {error.message[:200]}", source)
    for effect in [*data.get("pre", []), *data.get("post", [])]:
        name = effect["plugin"]
        if name not in BUILTIN_EFFECTS and not name.lower().endswith((".vst3", ".component")):
            raise ConfigurationError(f"unknown effect {name!r}; use one of {', '.join(BUILTIN_EFFECTS)} or a .vst3 path", source)
    return Preset(
        name=data["name"],
        description=data.get("description", ""),
        seed=data.get("seed"),
        sampling=data.get("sampling", {}),
        engine=data.get("engine", {}),
        wet=data.get("wet", MixLevels.wet),
        dry=data.get("dry", MixLevels.dry),
        pre=tuple(data.get("pre", [])),
        post=tuple(data.get("post", [])),
        source=str(source),
    )


def load_preset(name_or_path: str | os.PathLike[str]) -> Preset:
    """A shipped preset by bare name ('faithful', 'loose', 'ambient'), or a preset file by path
    (anything with a slash or ending in .json): a file in the working folder never replaces a shipped preset."""
    path = shipped_preset_path(name_or_path) if is_preset_name(name_or_path) else Path(name_or_path)
    if not path.is_file():
        raise ConfigurationError("preset file not found", path)
    return parse_preset(read_json(path, max_bytes=1 << 20, error=ConfigurationError), path)


def build_effects(effects: tuple[dict[str, Any], ...], source: str = "") -> pedalboard.Pedalboard:
    """A Pedalboard of the preset's effects: built-ins by name, plugins by path."""
    plugins = []
    for effect in effects:
        name, params = effect["plugin"], effect.get("params", {})
        try:
            if name in BUILTIN_EFFECTS:
                plugin = getattr(pedalboard, name)()
                for key, value in params.items():
                    if key not in effect_parameters(type(plugin)):
                        raise ConfigurationError(
                            f"effect {name} has no parameter {key!r} (it has {', '.join(effect_parameters(type(plugin)))})", source or None
                        )
                    setattr(plugin, key, value)
            else:
                plugin = pedalboard.load_plugin(name, parameter_values=params)
        except CountertrackError:
            raise
        except (ValueError, TypeError, RuntimeError, ImportError, OSError) as exc:
            raise ConfigurationError(f"cannot load effect {name!r} ({' '.join(str(exc).split())[:160]})", source or None) from exc
        plugins.append(plugin)
    return pedalboard.Pedalboard(plugins)

"""The parameters a stream can change between blocks, by flat name, and automation events.

``temperature``, ``top_p``, ``top_k`` and ``greedy`` shape the decision (``SamplingConfig``); the
grain engine's fields (``EngineConfig``: ``crossfade_s``, ``continuity``, ``harmony``, ...) shape the
grains. One table here says which is which, so the effect, the chain, MIDI CC automation and
presets agree. Mixing (wet/dry) belongs to the chain, which owns the dry signal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from plugin_core.decision.sampling import SamplingConfig
from plugin_core.engine.grains import EngineConfig
from plugin_core.errors import ConfigurationError

SAMPLING_NAMES = tuple(f.name for f in fields(SamplingConfig))
ENGINE_NAMES = tuple(f.name for f in fields(EngineConfig))
MIX_NAMES = ("wet", "dry")


@dataclass(frozen=True)
class Parameters:
    """What may change between blocks: it applies to decisions made after the change."""

    sampling: SamplingConfig
    engine: EngineConfig

    def changed(self, **changes: Any) -> Parameters:
        """A copy with fields changed by flat name (``temperature=1.4``, ``harmony=8``); a full
        ``sampling=`` or ``engine=`` config is taken as it is. An unknown name is one line."""
        sampling = changes.pop("sampling", self.sampling)
        engine = changes.pop("engine", self.engine)
        unknown = sorted(set(changes) - set(SAMPLING_NAMES) - set(ENGINE_NAMES))
        if unknown:
            raise ConfigurationError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(SAMPLING_NAMES + ENGINE_NAMES)}")
        sampling = replace(sampling, **{k: v for k, v in changes.items() if k in SAMPLING_NAMES})
        engine = replace(engine, **{k: v for k, v in changes.items() if k in ENGINE_NAMES})
        return Parameters(sampling=sampling, engine=engine)


@dataclass(frozen=True)
class AutomationEvent:
    """From the segment of A starting at or after ``position`` (samples), set these parameters."""

    position: int
    changes: dict[str, Any]

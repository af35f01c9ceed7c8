"""Which encoder a run uses and its settings: a plain record (no torch), so the command line and
run folders can read it without the training extra."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SPECTRAL_TOP_DB = 80.0  # mel bands this far below a frame's loudest are floored there: what lies below is noise


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder and its settings; stored in run folders and bundles to rebuild it exactly."""

    backend: str = "spectral"
    path: str | None = None  # wav2vec2: local folder (or cached hub id) for from_pretrained
    layer: int | None = None  # wav2vec2: hidden-state index (0 = after feature projection); None = last
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, backend: str = "spectral", path: str | None = None, layer: int | None = None) -> EncoderSpec:
        """The settings a new run records: today's defaults (a run's own record is read back as it
        was written, so an older run rebuilds the encoder it was trained with)."""
        return cls(backend=backend, path=path, layer=layer, options={"top_db": SPECTRAL_TOP_DB} if backend == "spectral" else {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderSpec:
        return cls(backend=data["backend"], path=data.get("path"), layer=data.get("layer"), options=dict(data.get("options", {})))

"""The ``gliclass`` pipe's settings: one object with the one set of defaults.

The factory's default config, the pipe and the batching plan all read these defaults, so they are
written once. The model's own settings (checkpoint, max_length, device, runtime, …) live in the
nested ``[components.gliclass.model]`` block, the training loss in ``[components.gliclass.loss]``.
This module imports nothing: the factory, a spaCy entry point, reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class PipeSettings:
    """How the pipe scores docs. Checked by the pipe (``component.validate_cfg``), not here."""

    labels: list[str] = field(default_factory=list)
    label_descriptions: dict[str, str] = field(default_factory=dict)
    exclusive_classes: bool = False  # softmax over a doc's labels instead of a sigmoid per label
    threshold: float = 0.5
    prompt: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)
    example_weight: float = 0.5  # bi-encoder prototype rule (modeling/prototypes.py)
    batch_size: int = 8  # most inputs in one forward pass
    max_batch_tokens: int = 4096  # most (padded) tokens in one forward pass
    window_size: int = 0  # 0: as many text tokens as fit next to the labels
    window_overlap: int = 0
    aggregation: str = "max"  # of a long doc's windows: "max" | "mean"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any]) -> PipeSettings:
        """The settings held in a pipe's ``cfg`` (other keys there are ignored)."""
        return cls(**{name: cfg[name] for name in cls.names() if name in cfg})

    def to_cfg(self) -> dict[str, Any]:
        return asdict(self)

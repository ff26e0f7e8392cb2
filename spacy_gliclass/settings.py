"""The ``gliclass`` pipe's settings: one object with the one set of defaults.

The factory's default config, the pipe and the batching plan all read these defaults, so they are
written once. The model's own settings (checkpoint, max_length, device, runtime, …) live in the
nested ``[components.gliclass.model]`` block, the training loss in ``[components.gliclass.loss]``.
This module imports nothing: the factory, a spaCy entry point, reads it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any

AGGREGATIONS = ("max", "mean")
# Settings that pipelines saved before them lack; they take their defaults on load.
ADDED_LATER = ("examples", "example_weight")
# Flat pipe settings of earlier versions and where they live now.
MOVED = {
    **{key: f"[components.gliclass.model] {key}" for key in ("max_length", "device", "quantize", "runtime")},
    "head_lr_scale": "[components.gliclass.model] head_lr_scale",
    "loss": '[components.gliclass.loss] @losses = "spacy-gliclass.<focal|bce|softmax>_loss.v1"',
    "focal_alpha": "[components.gliclass.loss] alpha",
    "focal_gamma": "[components.gliclass.loss] gamma",
}


@dataclass
class ModelSettings:
    """Where the weights come from and how they run: the ``[components.gliclass.model]`` block."""

    name: str = ""  # "", "floor", a delta file, a checkpoint folder or a Hub id
    max_length: int = 512
    device: str = ""
    quantize: str = ""  # "" | "int8"
    runtime: str = "torch"  # "torch" | "onnx"
    head_lr_scale: float = 1.0
    lora_rank: int = 0
    label_template: str | list[str] = ""  # "": the model's own; a list: label views


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


def validate_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    """The pipe's settings, checked and normalised. The one check for both a new pipe and a loaded
    one: a saved pipe's ``cfg`` file is plain JSON that spaCy's config validation never sees."""
    from .errors import Errors, GLiClassError
    from .fewshot import check_example_weight, check_examples
    from .modeling import validate_labels
    from .validation import check_int, check_threshold, check_type

    missing = [key for key in PipeSettings.names() if key not in cfg and key not in ADDED_LATER]
    if missing:
        raise GLiClassError(Errors.E030.format(keys=missing))
    defaults = PipeSettings()
    labels = check_type(cfg["labels"], "labels", list | tuple, "a list of strings")
    labels = validate_labels(labels) if labels else []
    descriptions = check_type(cfg["label_descriptions"], "label_descriptions", dict, "a dict of label → text")
    if descriptions:
        validate_labels(list(descriptions))
        validate_labels(list(descriptions.values()))
        unknown = [key for key in descriptions if key not in labels]
        if labels and unknown:
            warnings.warn(Errors.W002.format(keys=unknown, labels=labels), stacklevel=4)
    if cfg["aggregation"] not in AGGREGATIONS:
        raise GLiClassError(Errors.E016.format(setting="aggregation", supported=AGGREGATIONS, value=cfg["aggregation"]))
    window_size = check_int(cfg["window_size"], "window_size", 0)
    window_overlap = check_int(cfg["window_overlap"], "window_overlap", 0)
    if window_size and window_overlap >= window_size:
        raise GLiClassError(Errors.E018.format(overlap=window_overlap, size=window_size))
    return PipeSettings(
        labels=labels,
        label_descriptions=dict(descriptions),
        exclusive_classes=check_type(cfg["exclusive_classes"], "exclusive_classes", bool, "true or false"),
        threshold=check_threshold(cfg["threshold"]),
        prompt=check_type(cfg["prompt"], "prompt", str, "a string"),
        examples=check_examples(cfg.get("examples", defaults.examples), labels),
        example_weight=check_example_weight(cfg.get("example_weight", defaults.example_weight)),
        batch_size=check_int(cfg["batch_size"], "batch_size", 1),
        max_batch_tokens=check_int(cfg["max_batch_tokens"], "max_batch_tokens", 1),
        window_size=window_size,
        window_overlap=window_overlap,
        aggregation=cfg["aggregation"],
    ).to_cfg()

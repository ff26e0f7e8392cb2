"""What one ``annotate`` run is asked to do; its own module so that the runner and both engines
can take it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class AnnotateSettings:
    input: Path
    output: Path
    model: str = ""
    labels: list[str] | None = None
    threshold: float | None = None
    text_field: str = "text"
    batch_size: int = 64
    engine: str = "local"
    workers: int = 1
    ray_address: str | None = None
    num_gpus: float | None = None
    resume: bool = False
    progress: bool = True

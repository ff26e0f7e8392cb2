"""What one benchmark run measures, and how each pipeline it times is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHODS = ("pipe", "per_doc", "direct", "reference", "cross", "bare")
DEFAULT_MODEL_NAME = "<embedded default>"  # how results name model ""


@dataclass
class BenchSettings:
    n_texts: int = 160
    max_labels: int = 64
    repeats: int = 5
    pipe_batch_size: int = 128  # docs per nlp.pipe buffer
    batch_size: int | None = None  # component batch_size; None = the pipe's config
    max_batch_tokens: int | None = None
    max_length: int = 512
    cross_pairs: int = 2
    seed: int = 0
    label_counts: tuple[int, ...] = ()  # () = 1, 2, 4, … max_labels
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    int8: bool = False
    atol: float = 1e-5
    methods: tuple[str, ...] = METHODS
    datasets_dir: str = ""  # "" = $GLICLASS_DATASETS or ../shared/datasets


def label_counts(max_labels: int) -> list[int]:
    """1, 2, 4, … up to ``max_labels``: the cost of a label shows on a log scale."""
    counts, k = [], 1
    while k <= max_labels:
        counts.append(k)
        k *= 2
    return counts


def make_nlp(model: str, settings: BenchSettings, quantize: str = "", runtime: str = "torch") -> Any:
    """A blank pipeline with a gliclass pipe on ``model``, configured as ``settings`` say; its
    labels are set per measurement, so it starts with a placeholder."""
    from ..pipeline import load_pipeline

    config: dict[str, Any] = {"model": {"max_length": settings.max_length, "runtime": runtime, "quantize": quantize}}
    if settings.batch_size is not None:
        config["batch_size"] = settings.batch_size
    if settings.max_batch_tokens is not None:
        config["max_batch_tokens"] = settings.max_batch_tokens
    nlp, _pipe = load_pipeline(model, labels=["placeholder"], config=config)
    return nlp

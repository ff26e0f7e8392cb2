"""What a docs/s figure depends on besides the code: the machine's speed, load and memory, and
the useful work done (FLOPs of the tokens that are not padding)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This CPU's fp32 matmul speed with torch's current threads (best of ``repeats``): the
    ceiling the achieved GFLOP/s are read against."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none): a busy machine's
    timings are not comparable."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_facts() -> dict[str, Any]:
    """CPU count, torch threads and version, matmul speed and the load before the run."""
    import torch

    load_before = load_average()
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "matmul_gflops_fp32": matmul_gflops(),
        "load_average_before": load_before,
    }


class FlopCounter:
    """Useful FLOPs of the backbone for sequences of given lengths (padding not counted):
    ``2·P·T + 4·L·d·T²`` per sequence of T tokens, P = non-embedding backbone parameters."""

    def __init__(self, encoder: Any) -> None:
        cfg = encoder.config
        embeddings = getattr(encoder, "embeddings", None)
        pooler = getattr(encoder, "pooler", None)
        skip = {id(p) for m in (embeddings, pooler) if m is not None for p in m.parameters()}
        self.params = sum(p.numel() for p in encoder.parameters() if id(p) not in skip)
        self.layers = int(cfg.num_hidden_layers)
        self.hidden = int(cfg.hidden_size)

    def __call__(self, lengths: Sequence[int]) -> float:
        return float(sum(2 * self.params * t + 4 * self.layers * self.hidden * t * t for t in lengths))

"""Hand freed heap memory back to the OS during training.

A training step allocates and frees hundreds of MB of activations and gradients of varying shapes.
glibc keeps such freed blocks in its arenas (its mmap threshold rises after the first big free), so
a long training process keeps growing until it runs out of memory. ``malloc_trim(0)`` after each
step keeps it flat for a few milliseconds a step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where there is none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Release free heap pages to the OS, where the C library can; otherwise do nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)

"""Checks of user-given settings shared by the pipe, the CLIs and PPO: one rule per concern.

Pure Python (no torch, no spaCy), so a CLI can check its options before anything heavy loads,
and a setting means the same thing wherever it is given.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import Errors, GLiClassError


def check_int(value: Any, name: str, minimum: int = 0) -> int:
    """``value`` if it is an integer ≥ ``minimum`` (a bool or a float like 8.0 is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GLiClassError(Errors.E024.format(name=name, expected=f"an integer ≥ {minimum}", value=value))
    return value


def check_float(value: Any, name: str, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    """``value`` as a float if it is a number in [minimum, maximum]; NaN never is."""
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or math.isnan(value) or not minimum <= value <= maximum:
        if math.isinf(maximum):
            expected = "a number" if math.isinf(minimum) else f"a number ≥ {minimum:g}"
        else:  # every bounded setting has a lower bound too
            expected = f"a number between {minimum:g} and {maximum:g}"
        raise GLiClassError(Errors.E024.format(name=name, expected=expected, value=value))
    return float(value)


def check_threshold(value: Any, name: str = "threshold") -> float:
    """A score threshold: 0 ≤ t ≤ 1. NaN would assign no label at all, silently."""
    return check_float(value, name, 0.0, 1.0)


def check_type(value: Any, name: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """``value`` if it is an instance of ``kind`` (for cfg values read back from JSON)."""
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise GLiClassError(Errors.E024.format(name=name, expected=expected, value=value))
    return value


def check_writable(path: Path) -> None:
    """Fail now, not after the model loaded and the data ran, if ``path`` cannot be written.

    Creates the missing parent folders (as writing would) and a throwaway file next to ``path``."""
    if path.is_dir():
        raise GLiClassError(Errors.E025.format(path=path, reason="it is a folder"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as err:
        raise GLiClassError(Errors.E025.format(path=path, reason=err.strerror or err)) from err

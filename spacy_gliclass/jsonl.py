"""JSON files: the JSONL rows of the datasets and of PPO training files, with the file and line in
every error, and single-object JSON files such as ``dataset_info.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import Errors, GLiClassError


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) of every non-blank line of ``path``, each row a JSON object."""
    rows = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
                if not text.strip():
                    continue
                row = json.loads(text)
            except UnicodeDecodeError as err:
                reason = f"not valid UTF-8 ({err.reason} at byte {err.start})"
                raise GLiClassError(Errors.E070.format(path=path, line=number, reason=reason)) from err
            except json.JSONDecodeError as err:
                reason = f"invalid JSON: {err.msg} (column {err.colno})"
                raise GLiClassError(Errors.E070.format(path=path, line=number, reason=reason)) from err
            if not isinstance(row, dict):
                reason = f"not a JSON object but {type(row).__name__}"
                raise GLiClassError(Errors.E070.format(path=path, line=number, reason=reason))
            rows.append((number, row))
    return rows


def read_json_object(path: Path, error: type[GLiClassError] = GLiClassError) -> dict[str, Any]:
    """The JSON object in ``path``; a file that does not parse, or holds anything but an object, is
    refused with ``error`` (a checkpoint's files raise ``CheckpointError``)."""
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        raise error(Errors.E003.format(path=path, reason=err)) from err
    if not isinstance(data, dict):
        raise error(Errors.E003.format(path=path, reason="it does not hold a JSON object"))
    return data

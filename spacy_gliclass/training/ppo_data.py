"""PPO training rows: gold rows and yes/no feedback rows, read from JSONL into ``PPOExample``.

A file's candidate labels may come from a ``dataset_info.json`` next to it. Unlike a dataset's,
that file is optional here and may leave ``labels`` out, because a row can name its own
candidates (``all_labels``, else its own labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import INFO_FILE
from ..errors import Errors, GLiClassError
from ..jsonl import read_json_object, read_jsonl
from .rewards import UNJUDGED


@dataclass
class PPOExample:
    """A text, its candidate labels and a target per candidate (1 gold/accepted, 0 not, -1 unjudged)."""

    text: str
    labels: list[str]
    targets: list[float]


def _info_labels(path: Path) -> list[str] | None:
    """The ``labels`` of the ``dataset_info.json`` next to ``path``; None without one (or without labels)."""
    info = path.parent / INFO_FILE
    if not info.is_file():
        return None
    return _as_list(read_json_object(info).get("labels"), f"labels in {info}") or None


def _as_list(value: Any, key: str) -> list[str]:
    """A row's label field as a list; anything but strings is refused (``1`` and ``null`` are not
    the labels "1" and "None")."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(x, str) for x in values):
        raise GLiClassError(Errors.E024.format(name=key, expected="a string or a list of strings", value=value))
    return values


def row_to_example(row: dict[str, Any], label_set: Sequence[str] | None) -> PPOExample:
    """Gold rows ``{"text", "labels"|"true_labels", ["all_labels"]}`` judge every candidate; feedback
    rows ``{"text", ["labels"], "accepted", "rejected"}`` only their accepted/rejected labels (there
    ``labels`` are the labels the person was shown). Candidates: ``all_labels``, else the dataset's
    label set, else the row's own labels; judged labels are always added."""
    text = str(row.get("text", ""))
    feedback = "accepted" in row or "rejected" in row
    if feedback:
        accepted, rejected = _as_list(row.get("accepted"), "accepted"), _as_list(row.get("rejected"), "rejected")
        shown = _as_list(row.get("labels"), "labels")
        candidates = _as_list(row.get("all_labels"), "all_labels") or list(label_set or []) or shown
        candidates = list(dict.fromkeys([*candidates, *shown, *accepted, *rejected]))
        judge = {**{x: 0.0 for x in rejected}, **{x: 1.0 for x in accepted}}
        return PPOExample(text, candidates, [judge.get(x, UNJUDGED) for x in candidates])
    gold_key = "labels" if "labels" in row else "true_labels"
    gold = set(_as_list(row.get(gold_key), gold_key))
    candidates = _as_list(row.get("all_labels"), "all_labels") or list(label_set or [])
    candidates = list(dict.fromkeys([*candidates, *sorted(gold)]))
    return PPOExample(text, candidates, [1.0 if x in gold else 0.0 for x in candidates])


def read_ppo_examples(paths: str | Sequence[str], max_rows: int = 0) -> list[PPOExample]:
    """PPO examples from one or more JSONL files (a string may hold comma-separated paths)."""
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    if not paths:
        raise GLiClassError(Errors.E060)
    examples: list[PPOExample] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise GLiClassError(Errors.E061.format(path=path))
        label_set = _info_labels(path)
        rows = read_jsonl(path)
        for line, row in rows[:max_rows] if max_rows else rows:
            try:
                examples.append(row_to_example(row, label_set))
            except GLiClassError as err:
                raise GLiClassError(Errors.E070.format(path=path, line=line, reason=str(err).rstrip("."))) from err
    examples = [eg for eg in examples if eg.text and eg.labels]
    if not examples:
        raise GLiClassError(Errors.E062.format(paths=list(paths)))
    return examples

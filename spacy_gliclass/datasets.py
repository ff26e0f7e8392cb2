"""The JSONL datasets: one folder each, ``<root>/<name>/{train,test,…}.jsonl`` with rows
``{"text": ..., "labels": [...]}`` and a ``dataset_info.json`` holding the label set.

The one reader for evaluation, training corpora, calibration and the benchmark, so a missing file
or a bad row gives the same error (file, line, what is wrong) wherever it is read. Imports nothing
heavy: the training reader, a spaCy entry point, uses it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Errors, GLiClassError
from .jsonl import read_json_object, read_jsonl

DATASETS_ENV = "GLICLASS_DATASETS"
DEFAULT_ROOT = Path("../shared/datasets")  # seen from the repository root
INFO_FILE = "dataset_info.json"


def datasets_root(root: str | Path = "") -> Path:
    """``root``, else ``$GLICLASS_DATASETS``, else ``../shared/datasets``."""
    return Path(root or os.environ.get(DATASETS_ENV, DEFAULT_ROOT))


def dataset_names(root: Path, split: str = "train") -> list[str]:
    """Every dataset under ``root`` that has ``split``, sorted: new datasets are found by listing."""
    return sorted(p.parent.name for p in root.glob(f"*/{split}.jsonl") if (p.parent / INFO_FILE).is_file())


def dataset_info(root: Path, name: str) -> dict[str, Any]:
    """A dataset's ``dataset_info.json``, checked: it must hold a ``labels`` list of strings."""
    path = root / name / INFO_FILE
    if not path.is_file():
        raise GLiClassError(Errors.E071.format(name=name, datasets_dir=root, path=path))
    info = read_json_object(path)
    labels = info.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise GLiClassError(Errors.E072.format(path=path))
    return info


def dataset_labels(root: Path, name: str) -> list[str]:
    """The label set of a dataset, in its ``dataset_info.json`` order."""
    return list(dataset_info(root, name)["labels"])


def read_split(root: Path, name: str, split: str) -> list[dict[str, Any]]:
    """Every row of a split, in file order; each must have a text and a non-empty list of labels,
    and an empty split is refused rather than scored as 0."""
    path = root / name / f"{split}.jsonl"
    if not (root / name).is_dir():
        raise GLiClassError(Errors.E071.format(name=name, datasets_dir=root, path=root / name))
    if not path.is_file():
        raise GLiClassError(Errors.E020.format(split=split, name=name, path=path, datasets_dir=root))
    rows = []
    for line, row in read_jsonl(path):
        text, labels = row.get("text"), row.get("labels")
        if not isinstance(text, str):
            reason = Errors.E024.format(name="text", expected="a string", value=text)
        elif not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
            reason = Errors.E024.format(name="labels", expected="a non-empty list of strings", value=labels)
        else:
            rows.append(row)
            continue
        raise GLiClassError(Errors.E070.format(path=path, line=line, reason=reason.rstrip(".")))
    if not rows:
        raise GLiClassError(Errors.E074.format(path=path, name=name, split=split))
    return rows


def shuffled_sample(rows: Sequence[dict], n: int, seed: int) -> list[dict]:
    """The first ``n`` rows (all when n <= 0) of a seeded shuffle: the evaluation sample."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n] if n > 0 else rows


def subset_in_order(rows: Sequence[dict], n: int, seed: str) -> list[dict]:
    """A seeded random subset of ``n`` rows (all when n <= 0) kept in file order: training data."""
    if n <= 0 or len(rows) <= n:
        return list(rows)
    return [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), n))]


@dataclass
class EvalSet:
    """A dataset's label set and its sampled rows of one split."""

    name: str
    labels: list[str]
    rows: list[dict]


def load_eval_sets(
    root: Path, names: Sequence[str], n: int = 1000, seed: int = 0, split: str = "test"
) -> list[EvalSet]:
    """Every dataset read and checked up front: a typo or a bad row fails before a model loads,
    not after hours of scoring the datasets before it."""
    if not names:
        raise GLiClassError(Errors.E073)
    return [
        EvalSet(name, dataset_labels(root, name), shuffled_sample(read_split(root, name, split), n, seed))
        for name in names
    ]


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    """Macro-F1 of single-label predictions over ``labels`` (a label never predicted nor gold counts 0)."""
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)

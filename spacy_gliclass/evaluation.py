"""Zero-shot evaluation on the JSONL datasets: the paper's Table 3 protocol.

Single-label datasets, the dataset's own label names as candidates, argmax over them, macro-F1 on
a seeded sample of the test split. Used by ``python -m spacy_gliclass evaluate`` and the project.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import Errors, GLiClassError


@dataclass
class DatasetScore:
    name: str
    macro_f1: float
    n_rows: int
    n_labels: int
    seconds: float


def dataset_labels(datasets_dir: Path, name: str) -> list[str]:
    info = json.loads((datasets_dir / name / "dataset_info.json").read_text())
    return list(info["labels"])


def read_rows(datasets_dir: Path, name: str, split: str = "test", n: int = 1000, seed: int = 0) -> list[dict]:
    """A seeded sample of ``n`` rows of a split (all rows when n <= 0)."""
    path = datasets_dir / name / f"{split}.jsonl"
    if not path.is_file():
        raise GLiClassError(Errors.E020.format(split=split, name=name, path=path))
    with path.open(encoding="utf8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    random.Random(seed).shuffle(rows)
    return rows[:n] if n > 0 else rows


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def evaluate_zero_shot(
    nlp, datasets_dir: Path, names: Sequence[str], n: int = 1000, seed: int = 0, pipe_name: str = "gliclass"
) -> list[DatasetScore]:
    """Macro-F1 of ``nlp``'s gliclass pipe on each dataset, labels given per call."""
    results = []
    for name in names:
        labels = dataset_labels(datasets_dir, name)
        rows = read_rows(datasets_dir, name, "test", n, seed)
        start = time.perf_counter()
        docs = nlp.pipe((r["text"] for r in rows), component_cfg={pipe_name: {"labels": labels}})
        predicted = [max(labels, key=doc.cats.__getitem__) for doc in docs]
        seconds = time.perf_counter() - start
        gold = [r["labels"][0] for r in rows]
        results.append(DatasetScore(name, macro_f1(gold, predicted, labels), len(rows), len(labels), seconds))
    return results

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

import numpy as np

from .errors import Errors, GLiClassError
from .jsonl import read_jsonl


@dataclass
class DatasetScore:
    name: str
    macro_f1: float
    n_rows: int
    n_labels: int
    seconds: float
    macro_f1_prior_corrected: float | None = None


def dataset_labels(datasets_dir: Path, name: str) -> list[str]:
    """The label set of a dataset, from its ``dataset_info.json``."""
    path = datasets_dir / name / "dataset_info.json"
    if not path.is_file():
        raise GLiClassError(Errors.E071.format(name=name, datasets_dir=datasets_dir, path=path))
    try:
        info = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        raise GLiClassError(Errors.E003.format(path=path, reason=err)) from err
    labels = info.get("labels") if isinstance(info, dict) else None
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise GLiClassError(Errors.E072.format(path=path))
    return labels


def read_rows(datasets_dir: Path, name: str, split: str = "test", n: int = 1000, seed: int = 0) -> list[dict]:
    """A seeded sample of ``n`` rows of a split (all rows when n <= 0); every row needs a text and
    its gold labels, and an empty split is refused rather than scored as 0."""
    path = datasets_dir / name / f"{split}.jsonl"
    if not path.is_file():
        raise GLiClassError(Errors.E020.format(split=split, name=name, path=path))
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
    random.Random(seed).shuffle(rows)
    return rows[:n] if n > 0 else rows


@dataclass
class EvalSet:
    """A dataset's label set and its sampled test rows."""

    name: str
    labels: list[str]
    rows: list[dict]


def load_eval_sets(datasets_dir: Path, names: Sequence[str], n: int = 1000, seed: int = 0) -> list[EvalSet]:
    """Every dataset read and checked up front: a typo or a bad row fails before the model loads,
    not after hours of scoring the datasets before it."""
    if not names:
        raise GLiClassError(Errors.E073)
    return [
        EvalSet(name, dataset_labels(datasets_dir, name), read_rows(datasets_dir, name, "test", n, seed))
        for name in names
    ]


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def correct_label_priors(scores: np.ndarray) -> np.ndarray:
    """Transductive label-prior correction: each label's logit minus its mean over the corpus.

    A zero-shot model prefers some label names whatever the text (a generic name sits closer to
    every text); subtracting each label's mean logit over the texts being classified removes
    that preference. It needs the whole corpus first, so it is opt-in and reported separately."""
    probs = np.clip(scores.astype("float64"), 1e-7, 1 - 1e-7)
    logits = np.log(probs / (1 - probs))
    return logits - logits.mean(axis=0, keepdims=True)


def evaluate_zero_shot(
    nlp, sets: Sequence[EvalSet], pipe_name: str = "gliclass", prior_correction: bool = False
) -> list[DatasetScore]:
    """Macro-F1 of ``nlp``'s gliclass pipe on each dataset, labels given per call; with
    ``prior_correction``, also the macro-F1 after :func:`correct_label_priors` over the sample."""
    results = []
    for eval_set in sets:
        labels, rows = eval_set.labels, eval_set.rows
        start = time.perf_counter()
        docs = nlp.pipe((r["text"] for r in rows), component_cfg={pipe_name: {"labels": labels}})
        scores = np.array([[doc.cats[label] for label in labels] for doc in docs])
        seconds = time.perf_counter() - start
        gold = [r["labels"][0] for r in rows]
        result = DatasetScore(
            eval_set.name,
            macro_f1(gold, [labels[k] for k in scores.argmax(1)], labels),
            len(rows),
            len(labels),
            seconds,
        )
        if prior_correction:
            corrected = correct_label_priors(scores).argmax(1)
            result.macro_f1_prior_corrected = macro_f1(gold, [labels[k] for k in corrected], labels)
        results.append(result)
    return results

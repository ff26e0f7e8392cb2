"""Zero-shot evaluation on the JSONL datasets: the paper's Table 3 protocol.

Single-label datasets, the dataset's own label names as candidates, argmax over them, macro-F1 on
a seeded sample of the test split. Used by ``python -m spacy_gliclass evaluate`` and the project.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .datasets import EvalSet, macro_f1


@dataclass
class DatasetScore:
    name: str
    macro_f1: float
    n_rows: int
    n_labels: int
    seconds: float
    macro_f1_prior_corrected: float | None = None


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

"""Calibrate a pipe's independent (sigmoid) scores so that 0.5 is a sensible decision point.

A bi-encoder's logit is ``scale · cos(text, label) + bias``. Training with a ranking loss fixes
which label wins, not where 0.5 lies, so the trained model's scores may all sit far below (or
above) it. Calibration refits ``scale`` and ``bias`` by logistic regression on (text, label,
is-gold) pairs from held-out data — never an evaluation set — and reports, on data kept out of
the fit, the expected calibration error and the micro-F1 of thresholding at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..architectures import get_shim
from ..datasets import dataset_labels, read_split, shuffled_sample
from ..errors import Errors, GLiClassError


@dataclass
class PairScores:
    """Raw similarity (the logit before scale and bias) and gold of every (text, label) pair."""

    raw: np.ndarray
    gold: np.ndarray


@dataclass
class CalibrationReport:
    pairs: int
    positives: int
    ece: float
    micro_f1: float
    mean_score: float


def _scale_bias(pipe) -> tuple[float, float]:
    model = get_shim(pipe.model).fp32_model()
    if not model.config.is_bi_encoder or not model.config.use_logit_bias or pipe.cfg["exclusive_classes"]:
        raise GLiClassError(Errors.E113)
    return float(model.logit_scale.detach()), float(model.logit_bias.detach())


def pair_scores(nlp, datasets_dir: Path, names: Sequence[str], rows: int, seed: int, pipe_name: str) -> PairScores:
    """Score every row of each dataset's test split sample against all of that dataset's labels."""
    pipe = nlp.get_pipe(pipe_name)
    scale, bias = _scale_bias(pipe)
    raw, gold = [], []
    for name in names:
        labels = dataset_labels(datasets_dir, name)
        sample = shuffled_sample(read_split(datasets_dir, name, "test"), rows, seed)
        docs = nlp.pipe((r["text"] for r in sample), component_cfg={pipe_name: {"labels": labels}})
        for row, doc in zip(sample, docs, strict=True):
            p = np.clip(np.array([doc.cats[label] for label in labels], dtype="float64"), 1e-7, 1 - 1e-7)
            raw.append((np.log(p / (1 - p)) - bias) / scale)
            gold.append(np.array([float(label in row["labels"]) for label in labels]))
    return PairScores(np.concatenate(raw), np.concatenate(gold))


def fit_scale_bias(pairs: PairScores) -> tuple[float, float]:
    """Logistic regression of gold on the raw similarity: the new (scale, bias)."""
    x = torch.tensor(pairs.raw, dtype=torch.float64)
    y = torch.tensor(pairs.gold, dtype=torch.float64)
    scale = torch.tensor(10.0, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([scale, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scale * x + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(scale.detach()), float(bias.detach())


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy − confidence| over equal-width probability bins, weighted by bin size
    (binary: the confidence of a pair is its score, its accuracy the share of gold pairs)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += in_bin.sum() * abs(gold[in_bin].mean() - probs[in_bin].mean())
    return float(total / max(len(probs), 1))


def report(pairs: PairScores, scale: float, bias: float, threshold: float = 0.5) -> CalibrationReport:
    """ECE and micro-F1 at ``threshold`` of the scores ``sigmoid(scale · raw + bias)``."""
    probs = 1.0 / (1.0 + np.exp(-(scale * pairs.raw + bias)))
    predicted = probs >= threshold
    gold = pairs.gold > 0.5
    tp = float((predicted & gold).sum())
    denominator = float(predicted.sum() + gold.sum())
    return CalibrationReport(
        pairs=len(probs),
        positives=int(gold.sum()),
        ece=expected_calibration_error(probs, pairs.gold),
        micro_f1=2 * tp / denominator if denominator else 0.0,
        mean_score=float(probs.mean()) if len(probs) else math.nan,
    )


def calibrate(
    nlp,
    datasets_dir: Path,
    fit_sets: Sequence[str],
    report_sets: Sequence[str],
    rows: int = 300,
    seed: int = 0,
    pipe_name: str = "gliclass",
) -> dict:
    """Refit the pipe's logit scale and bias on ``fit_sets`` (in place); report before/after on
    ``report_sets``, which must not overlap the fit sets."""
    if set(fit_sets) & set(report_sets):
        raise GLiClassError(Errors.E114.format(sets=sorted(set(fit_sets) & set(report_sets))))
    pipe = nlp.get_pipe(pipe_name)
    old_scale, old_bias = _scale_bias(pipe)
    fit_pairs = pair_scores(nlp, datasets_dir, fit_sets, rows, seed, pipe_name)
    per_set = {name: pair_scores(nlp, datasets_dir, [name], rows, seed, pipe_name) for name in report_sets}
    scale, bias = fit_scale_bias(fit_pairs)
    model = get_shim(pipe.model).fp32_model()
    with torch.no_grad():
        model.logit_scale.fill_(scale)
        model.logit_bias.fill_(bias)
    model.clear_label_cache()
    result = {
        "fit_sets": list(fit_sets),
        "report_sets": list(report_sets),
        "rows_per_set": rows,
        "before": {"scale": old_scale, "bias": old_bias},
        "after": {"scale": scale, "bias": bias},
        "fit": {
            "before": asdict(report(fit_pairs, old_scale, old_bias)),
            "after": asdict(report(fit_pairs, scale, bias)),
        },
    }
    if per_set:
        pooled = PairScores(
            np.concatenate([p.raw for p in per_set.values()]), np.concatenate([p.gold for p in per_set.values()])
        )
        result["held_out"] = {
            "before": asdict(report(pooled, old_scale, old_bias)),
            "after": asdict(report(pooled, scale, bias)),
        }
        result["held_out_per_set"] = {
            name: {"before": asdict(report(pairs, old_scale, old_bias)), "after": asdict(report(pairs, scale, bias))}
            for name, pairs in per_set.items()
        }
    return result

"""Zero-shot macro-F1 of benchmarked pipes, by the evaluation protocol (the dataset's own labels,
argmax over them, a seeded sample of the test rows): a faster variant is only worth what it keeps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..datasets import EvalSet, datasets_root, load_eval_sets
from ..evaluation import evaluate_zero_shot
from .options import DEFAULT_MODEL_NAME, BenchSettings, make_nlp


def macro_f1_per_set(nlp: Any, sets: Sequence[EvalSet]) -> dict[str, float]:
    return {score.name: score.macro_f1 for score in evaluate_zero_shot(nlp, sets)}


def quantization_accuracy(
    model: str,
    datasets: Sequence[str],
    n_rows: int = 500,
    seed: int = 0,
    max_length: int = 512,
    datasets_dir: str | Path = "",
) -> dict[str, Any]:
    """Zero-shot macro-F1 of torch fp32 vs int8 per dataset, and their docs/s (each dataset scored
    by both in turn, so a change of machine load hits both)."""
    settings = BenchSettings(max_length=max_length)
    pipes = {"fp32": make_nlp(model, settings), "int8": make_nlp(model, settings, "int8")}
    out: dict[str, Any] = {}
    for eval_set in load_eval_sets(datasets_root(datasets_dir), datasets, n=n_rows, seed=seed):
        entry: dict[str, Any] = {"n": len(eval_set.rows)}
        for kind, nlp in pipes.items():
            (score,) = evaluate_zero_shot(nlp, [eval_set])
            entry[f"{kind}_docs_per_s"] = score.n_rows / score.seconds
            entry[f"{kind}_macro_f1"] = score.macro_f1
        entry["f1_loss"] = entry["fp32_macro_f1"] - entry["int8_macro_f1"]
        entry["speedup"] = entry["int8_docs_per_s"] / entry["fp32_docs_per_s"]
        out[eval_set.name] = entry
    return out


def quantization_accuracy_by_model(
    models: Sequence[str], datasets: Sequence[str], n_rows: int, seed: int, datasets_dir: str | Path = ""
) -> dict[str, dict[str, Any]]:
    """:func:`quantization_accuracy` of each model, keyed as the speed results name it."""
    return {
        model or DEFAULT_MODEL_NAME: quantization_accuracy(model, datasets, n_rows, seed, datasets_dir=datasets_dir)
        for model in models
    }

"""torch fp32, torch int8, ONNX Runtime fp32 and ONNX Runtime int8, side by side.

One model is exported once (``export --onnx`` layout) and loaded four ways. Each runtime gets:
docs/s of ``nlp.pipe`` on the benchmark's mixed texts (median of interleaved repeats, A B C D A B
C D …, so the ratios hold on a noisy machine), its speed-up over torch fp32, and zero-shot macro-F1
on a few datasets (``accuracy``: the evaluation protocol).

``layer_ablation`` is how ``INT8_LAYER_TYPES`` is chosen: macro-F1 with every matmul layer type
int8, and with each type kept fp32 in turn.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..datasets import datasets_root, load_eval_sets
from .accuracy import macro_f1_per_set
from .options import DEFAULT_MODEL_NAME, BenchSettings, make_nlp
from .report import format_runtimes
from .texts import label_pool, sample_texts

# name -> (runtime, quantize)
RUNTIME_VARIANTS: dict[str, tuple[str, str]] = {
    "torch fp32": ("torch", ""),
    "torch int8": ("torch", "int8"),
    "ORT fp32": ("onnx", ""),
    "ORT int8": ("onnx", "int8"),
}
BASELINE = "torch fp32"


def export_checkpoint(model: str, folder: Path, max_length: int, layer_types: Sequence[str] | None = None) -> Path:
    """``model`` (any ``model`` name) as an ``export --onnx`` folder."""
    from ..modeling import checkpoint
    from ..modeling.onnx_export import INT8_LAYER_TYPES, export_onnx

    torch_model, processor = checkpoint.load(model, max_length)
    torch_model.save_pretrained(folder, processor)
    export_onnx(torch_model, folder, INT8_LAYER_TYPES if layer_types is None else layer_types)
    return folder


def _scores_line(prefix: str, f1: dict[str, float]) -> str:
    return prefix + " ".join(f"{k} {v:.3f}" for k, v in f1.items())


def compare_runtimes(
    model: str,
    datasets: Sequence[str],
    settings: BenchSettings,
    n_rows: int = 300,  # 0: speed only
    n_labels: int = 8,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """docs/s, speed-up over torch fp32 and macro-F1 per dataset of each runtime, in one run."""
    import torch

    if settings.threads:  # ONNX Runtime sessions take torch's thread count (ort_encoder.session_threads)
        torch.set_num_threads(settings.threads)
    root = datasets_root(settings.datasets_dir)
    texts = sample_texts(settings.n_texts, settings.seed, root)
    labels = label_pool(settings.seed, root)[:n_labels]
    sets = load_eval_sets(root, datasets, n=n_rows, seed=settings.seed) if n_rows > 0 else []
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_checkpoint(model, Path(tmp), settings.max_length)
        nlps = {
            name: make_nlp(str(folder), settings, quantize, runtime)
            for name, (runtime, quantize) in RUNTIME_VARIANTS.items()
        }
        results: dict[str, dict[str, Any]] = {}
        for name, nlp in nlps.items():  # accuracy first: it also loads and warms every pipe
            f1 = macro_f1_per_set(nlp, sets) if sets else {}
            results[name] = {"macro_f1": f1, "avg_macro_f1": statistics.mean(f1.values()) if f1 else float("nan")}
            log(_scores_line(f"  {name}: macro-F1 ", f1))
            nlp.get_pipe("gliclass").labels = labels
            list(nlp.pipe(texts[:8]))  # warm-up: weights, sessions, label cache
        times: dict[str, list[float]] = {name: [] for name in nlps}
        for _ in range(settings.repeats):
            for name, nlp in nlps.items():
                start = time.perf_counter()
                for _doc in nlp.pipe(texts, batch_size=settings.pipe_batch_size):
                    pass
                times[name].append(time.perf_counter() - start)
    base_speed = len(texts) / statistics.median(times[BASELINE])
    base_f1 = results[BASELINE]["avg_macro_f1"]
    for name, entry in results.items():
        entry["docs_per_s"] = len(texts) / statistics.median(times[name])
        entry["speedup"] = entry["docs_per_s"] / base_speed
        entry["f1_loss_points"] = 100 * (base_f1 - entry["avg_macro_f1"])
        entry["times_s"] = times[name]
    return {
        "model": model or DEFAULT_MODEL_NAME,
        "datasets": list(datasets),
        "n_rows": n_rows,
        "n_texts": len(texts),
        "n_labels": n_labels,
        "repeats": settings.repeats,
        "runtimes": results,
    }


def layer_ablation(
    model: str,
    datasets: Sequence[str],
    settings: BenchSettings,
    n_rows: int = 300,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, float]]:
    """Average macro-F1 of ORT fp32, ORT int8 with every matmul type, and with each type kept fp32."""
    from ..modeling.onnx_export import LAYER_TYPES, quantize_int8
    from ..modeling.ort_encoder import ENCODER_STEM, onnx_file

    sets = load_eval_sets(datasets_root(settings.datasets_dir), datasets, n=n_rows, seed=settings.seed)
    everything = tuple(LAYER_TYPES)
    variants = {"fp32": None, "int8 all": everything}
    variants.update({f"int8, {kept} fp32": tuple(t for t in everything if t != kept) for kept in everything})
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_checkpoint(model, Path(tmp), settings.max_length, everything)
        for name, types in variants.items():
            if types is not None:
                quantize_int8(onnx_file(folder, ENCODER_STEM, ""), onnx_file(folder, ENCODER_STEM, "int8"), types)
            nlp = make_nlp(str(folder), settings, "" if types is None else "int8", "onnx")
            f1 = macro_f1_per_set(nlp, sets)
            out[name] = {**f1, "avg": statistics.mean(f1.values())}
            log(_scores_line(f"  {name:<26} ", out[name]))
    return out


def runtimes_report(
    model: str,
    datasets: Sequence[str],
    settings: BenchSettings,
    n_rows: int,
    layers: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The runtime comparison (with ``layers``, also the int8 layer ablation), logged as it runs."""
    datasets = [d.strip() for d in datasets if d.strip()]
    log(f"== runtimes: {model or DEFAULT_MODEL_NAME}, {n_rows} rows per dataset")
    report = compare_runtimes(model, datasets, settings, n_rows=n_rows, log=log)
    log(format_runtimes(report))
    if layers:
        log("int8 layer types (ONNX Runtime, macro-F1):")
        report["layer_ablation"] = layer_ablation(model, datasets, settings, n_rows=n_rows, log=log)
    return report

"""The timing loop: every method for every label count, interleaved (A B C A B C …) and the
median of ``repeats`` kept, so a load spike on a shared machine hits every method alike."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import datasets_root
from .machine import load_average, machine_facts, peak_rss_mb
from .methods import Bench
from .options import DEFAULT_MODEL_NAME, METHODS, BenchSettings, label_counts
from .report import format_row, header
from .texts import TEXT_MIX, label_pool, sample_texts


def models_to_run(model: str, also: str = "", uni_folder: str | Path = "") -> list[str]:
    """``model``, then ``also`` if given, then (with ``uni_folder``) a fresh uni-encoder saved
    there: its input grows with its labels, which a bi-encoder's does not."""
    models = [model] + ([also] if also else [])
    if uni_folder:
        from ..modeling.defaults import build_uni_encoder

        uni_model, processor = build_uni_encoder()
        uni_model.save_pretrained(uni_folder, processor)
        models.append(str(uni_folder))
    return models


def _time_row(bench: Bench, methods: list[str], k: int, repeats: int) -> dict[str, Any]:
    """One label count: the interleaved timings, docs/s, GFLOP/s, ratios and agreement."""
    times: dict[str, list[float]] = {m: [] for m in methods}
    outputs: dict[str, Any] = {}
    for _ in range(repeats):
        for method in methods:  # interleaved: A B C A B C …
            start = time.perf_counter()
            outputs[method] = getattr(bench, f"run_{method}")()
            times[method].append(time.perf_counter() - start)
    median = {m: statistics.median(ts) for m, ts in times.items()}
    docs_per_s = {m: bench.docs_per_s(m, t) for m, t in median.items()}
    return {
        "n_labels": k,
        "tokens_per_doc": bench.tokens_per_doc(),
        "docs_per_s": docs_per_s,
        "times_s": times,
        "gflops": {m: bench.useful_flops(m) / t / 1e9 for m, t in median.items() if m != "per_doc"},
        "ratios": {f"pipe/{m}": docs_per_s["pipe"] / v for m, v in docs_per_s.items() if m != "pipe"},
        "wrapper_overhead_pct": 100 * (1 - median["direct"] / median["pipe"]) if "direct" in median else None,
        "agreement": bench.agreement({m: v for m, v in outputs.items() if v is not None}),
    }


def benchmark_model(
    model: str,
    settings: BenchSettings,
    texts: list[str] | None = None,
    labels: list[str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Time every method for every label count; return medians, ratios and the agreement checks."""
    import torch

    if texts is None or labels is None:
        root = datasets_root(settings.datasets_dir)
        texts = texts if texts is not None else sample_texts(settings.n_texts, settings.seed, root)
        labels = labels if labels is not None else label_pool(settings.seed, root)
    bench = Bench(model, texts, settings)
    methods = [m for m in settings.methods if m in METHODS]
    if settings.int8 and "pipe_int8" not in methods:
        methods.append("pipe_int8")
    if "pipe" not in methods:
        methods.insert(0, "pipe")
    rng = random.Random(settings.seed)
    rows = []
    counts = settings.label_counts or label_counts(min(settings.max_labels, len(labels)))
    for n, k in enumerate(counts):
        bench.prepare(labels[:k], rng)
        for method in methods if n == 0 else ["pipe"]:  # warm-up (weights, label cache); not timed
            getattr(bench, f"run_{method}")()
        rows.append(_time_row(bench, methods, k, settings.repeats))
        log(format_row(rows[-1], methods))
    return {
        "model": model or DEFAULT_MODEL_NAME,
        "architecture": bench.processor.config.architecture_type,
        "backbone_params_non_embedding": bench.flops.params,
        "methods": methods,
        "settings": dict(settings.__dict__),
        "component": {key: bench.pipe.cfg[key] for key in ("batch_size", "max_batch_tokens")},
        "texts": {
            "n": len(texts),
            "mean_text_tokens": float(np.mean([len(ids) for ids in bench.text_ids])),
            "mix": dict(TEXT_MIX),
        },
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "agreement_ok": all(row["agreement"]["ok"] for row in rows),
    }


def run_benchmark(
    models: Sequence[str], settings: BenchSettings, log: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Benchmark each model on the same texts and labels; machine facts around them."""
    import torch

    started = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    machine = machine_facts()
    root = datasets_root(settings.datasets_dir)
    texts, labels = sample_texts(settings.n_texts, settings.seed, root), label_pool(settings.seed, root)
    log(f"fp32 matmul: {machine['matmul_gflops_fp32']:.1f} GFLOP/s on {machine['torch_threads']} threads")
    results = []
    for model in models:
        log(f"== {model or DEFAULT_MODEL_NAME}")
        log(header(list(settings.methods) + (["pipe_int8"] if settings.int8 else [])))
        results.append(benchmark_model(model, settings, texts, labels, log))
    machine["load_average_after"] = load_average()
    return {
        "machine": machine,
        "results": results,
        "peak_rss_mb": peak_rss_mb(),
        "elapsed_s": time.perf_counter() - started,
        "agreement_ok": all(r["agreement_ok"] for r in results),
    }

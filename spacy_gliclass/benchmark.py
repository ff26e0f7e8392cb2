"""Speed benchmark of the ``gliclass`` pipe, measured the way BENCHMARKS.md asks.

For one model and one seeded set of mixed-length texts, and for 1, 2, 4, … labels, it times
(interleaved A B C A B C …, median of ``repeats``):

- ``pipe``: ``nlp.pipe(texts, batch_size=…)`` — the product path;
- ``per_doc``: ``nlp(text)`` one doc at a time — what a naive user does;
- ``direct``: the torch model alone on exactly the batches ``nlp.pipe`` builds (pre-collated), so
  ``1 - direct/pipe`` time is the spaCy wrapper's overhead (tokenising, planning, collating, docs);
- ``reference``: fixed batches of 8 in input order, padded to the longest, texts tokenised every
  call and (bi-encoder) labels encoded every batch — what the upstream ``gliclass`` pipeline does;
- ``cross``: the cross-encoder way, one (text, label) pair per sequence, in-order batches of 8 pairs.
  Each text is paired with ``cross_pairs`` of its labels (seeded), and docs/s = pairs/s ÷ n_labels,
  so every text's length is in the estimate without timing n_texts × n_labels sequences;
- ``bare``: the backbone alone on length-sorted batches of 8 of the texts — the hardware ceiling;
- ``pipe_int8`` (optional): ``nlp.pipe`` with ``quantize="int8"``.

It checks that ``pipe``, ``per_doc`` and ``reference`` give the same scores (within ``atol``; the
reference only on docs it did not have to truncate, since the pipe windows long texts instead), and
reports how far the cross-encoder scores are (equal for a bi-encoder, different for a uni-encoder
whose labels attend to each other). Achieved GFLOP/s count useful tokens only (no padding):
``2·P·T + 4·L·d·T²`` per sequence of T tokens, P = non-embedding backbone parameters.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATASETS_ENV = "GLICLASS_DATASETS"
DEFAULT_DATASETS = Path("../shared/datasets")  # seen from the repository root
# (dataset, share of the texts): short tweets to long reviews.
TEXT_MIX: tuple[tuple[str, float], ...] = (
    ("tweet_eval_sentiment", 0.35),
    ("emotion", 0.3),
    ("ag_news", 0.2),
    ("imdb", 0.15),
)
MAX_WORDS = 400  # longest review kept (BENCHMARKS.md: "~400-word reviews")
LABEL_SOURCES = ("banking77", "massive_intent")
REFERENCE_BATCH = 8
BARE_BATCH = 8
METHODS = ("pipe", "per_doc", "direct", "reference", "cross", "bare")


@dataclass
class BenchSettings:
    n_texts: int = 160
    max_labels: int = 64
    repeats: int = 5
    pipe_batch_size: int = 128  # docs per nlp.pipe buffer
    batch_size: int | None = None  # component batch_size; None = the pipe's config
    max_batch_tokens: int | None = None
    max_length: int = 512
    cross_pairs: int = 2
    seed: int = 0
    label_counts: tuple[int, ...] = ()  # () = 1, 2, 4, … max_labels
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    int8: bool = False
    atol: float = 1e-5
    methods: tuple[str, ...] = METHODS
    datasets_dir: str = ""  # "" = $GLICLASS_DATASETS or ../shared/datasets


def datasets_root(datasets_dir: str | Path = "") -> Path:
    return Path(datasets_dir or os.environ.get(DATASETS_ENV, DEFAULT_DATASETS))


def _read_texts(name: str, root: Path) -> list[str]:
    import srsly

    path = root / name / "test.jsonl"
    return [row["text"] for row in srsly.read_jsonl(path) if row.get("text", "").strip()]


def sample_texts(n: int, seed: int = 0, root: Path | None = None) -> list[str]:
    """``n`` texts mixed from short tweets to long reviews, in a seeded random order."""
    root = root or datasets_root()
    rng = random.Random(seed)
    counts = [int(round(n * share)) for _, share in TEXT_MIX]
    counts[0] += n - sum(counts)
    texts: list[str] = []
    for (name, _), count in zip(TEXT_MIX, counts, strict=True):
        pool = [t for t in _read_texts(name, root) if len(t.split()) <= MAX_WORDS]
        texts.extend(rng.sample(pool, min(count, len(pool))))
    rng.shuffle(texts)
    return texts


def label_pool(seed: int = 0, root: Path | None = None) -> list[str]:
    """Intent names from banking77 and massive_intent, unique, in a seeded random order."""
    import srsly

    root = root or datasets_root()
    labels: dict[str, None] = {}
    for name in LABEL_SOURCES:
        for label in srsly.read_json(root / name / "dataset_info.json")["labels"]:
            labels.setdefault(str(label).replace("_", " "), None)
    pool = list(labels)
    random.Random(seed).shuffle(pool)
    return pool


def label_counts(max_labels: int) -> list[int]:
    counts, k = [], 1
    while k <= max_labels:
        counts.append(k)
        k *= 2
    return counts


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This CPU's fp32 matmul speed with torch's current threads (best of ``repeats``)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FlopCounter:
    """Useful FLOPs of the backbone for sequences of given lengths (padding not counted)."""

    def __init__(self, encoder: Any) -> None:
        cfg = encoder.config
        embeddings = getattr(encoder, "embeddings", None)
        pooler = getattr(encoder, "pooler", None)
        skip = {id(p) for m in (embeddings, pooler) if m is not None for p in m.parameters()}
        self.params = sum(p.numel() for p in encoder.parameters() if id(p) not in skip)
        self.layers = int(cfg.num_hidden_layers)
        self.hidden = int(cfg.hidden_size)

    def __call__(self, lengths: Sequence[int]) -> float:
        return float(sum(2 * self.params * t + 4 * self.layers * self.hidden * t * t for t in lengths))


def make_nlp(model: str, settings: BenchSettings, quantize: str = "", runtime: str = "torch") -> Any:
    import spacy

    config: dict[str, Any] = {
        "model": {"name": model, "max_length": settings.max_length, "runtime": runtime},
        "labels": ["placeholder"],
    }
    if settings.batch_size is not None:
        config["batch_size"] = settings.batch_size
    if settings.max_batch_tokens is not None:
        config["max_batch_tokens"] = settings.max_batch_tokens
    if quantize:
        config["model"]["quantize"] = quantize
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config=config)
    return nlp


class Bench:
    """The methods of one model, each a callable ``labels -> scores`` (or None) over the texts."""

    def __init__(self, model: str, texts: list[str], settings: BenchSettings) -> None:
        import torch

        from . import batching
        from .architectures import get_shim

        self.torch = torch
        self.batching = batching
        self.texts = texts
        self.settings = settings
        self.nlp = make_nlp(model, settings)
        self.pipe = self.nlp.get_pipe("gliclass")
        shim = get_shim(self.pipe.model)
        self.model = shim.ensure_loaded()
        self.processor = shim.processor
        self.is_bi = self.processor.config.is_bi_encoder
        self.flops = FlopCounter(self.model.encoder_model)
        self.nlp_int8 = make_nlp(model, settings, "int8") if settings.int8 else None
        self.text_ids = self.processor.tokenize_texts(texts)
        self._prepared: dict[str, Any] = {}
        self.prepare_bare()

    # -- per label set preparation (untimed) --------------------------------------------------
    def prepare(self, labels: list[str], rng: random.Random) -> None:
        """Build the batches the timed methods replay, and the useful-token counts of each method."""
        b, proc, s = self.batching, self.processor, self.pipe.settings
        self.pipe.labels = labels
        if self.nlp_int8 is not None:
            self.nlp_int8.get_pipe("gliclass").labels = labels
        direct: list[Any] = []
        pipe_lengths: list[int] = []
        n_buffer = self.settings.pipe_batch_size
        for start in range(0, len(self.texts), n_buffer):
            requests = [b.Request(ids, labels) for ids in self.text_ids[start : start + n_buffer]]
            tasks = b.plan(requests, proc, s)
            pipe_lengths += [len(t.sequence) for t in tasks]
            direct += [
                proc.collate([t.sequence for t in batch], [t.labels for t in batch]) for batch in b.batches(tasks, s)
            ]
        budget = proc.text_budget(labels)
        fits = [len(ids) <= budget for ids in self.text_ids]
        ref_lengths = [proc.num_special_tokens + min(len(ids), budget) for ids in self.text_ids]
        if not self.is_bi:
            ref_lengths = [n + len(proc.label_block(labels)) for n in ref_lengths]
        pairs = [
            (i, label)
            for i in range(len(self.texts))
            for label in rng.sample(labels, min(self.settings.cross_pairs, len(labels)))
        ]
        cross_lengths = [
            proc.num_special_tokens
            + min(len(self.text_ids[i]), proc.text_budget([label]))
            + (0 if self.is_bi else len(proc.label_block([label])))
            for i, label in pairs
        ]
        self._prepared = {
            "labels": labels,
            "direct": direct,
            "fits": fits,
            "pairs": pairs,
            "lengths": {
                "pipe": pipe_lengths,
                "per_doc": pipe_lengths,
                "direct": pipe_lengths,
                "pipe_int8": pipe_lengths,
                "reference": ref_lengths,
                "cross": cross_lengths,
                "bare": self._bare_lengths,
            },
        }

    def prepare_bare(self) -> None:
        proc = self.processor
        order = sorted(range(len(self.text_ids)), key=lambda i: len(self.text_ids[i]))
        limit = proc.max_length - proc.num_special_tokens
        seqs = [[*proc._prefix, *self.text_ids[i][:limit], *proc._suffix] for i in order]
        self._bare = [proc.pad(seqs[i : i + BARE_BATCH]) for i in range(0, len(seqs), BARE_BATCH)]
        self._bare_lengths = [len(s) for s in seqs]

    def useful_flops(self, method: str) -> float:
        return self.flops(self._prepared["lengths"][method])

    def tokens_per_doc(self) -> float:
        return sum(self._prepared["lengths"]["pipe"]) / len(self.texts)

    # -- the timed methods --------------------------------------------------------------------
    def run_pipe(self) -> list[np.ndarray]:
        labels = self._prepared["labels"]
        docs = list(self.nlp.pipe(self.texts, batch_size=self.settings.pipe_batch_size))
        return [np.array([doc.cats[label] for label in labels]) for doc in docs]

    def run_pipe_int8(self) -> list[np.ndarray]:
        labels = self._prepared["labels"]
        docs = list(self.nlp_int8.pipe(self.texts, batch_size=self.settings.pipe_batch_size))
        return [np.array([doc.cats[label] for label in labels]) for doc in docs]

    def run_per_doc(self) -> list[np.ndarray]:
        labels = self._prepared["labels"]
        docs = [self.nlp(text) for text in self.texts]
        return [np.array([doc.cats[label] for label in labels]) for doc in docs]

    def run_direct(self) -> None:
        with self.torch.inference_mode():
            for batch in self._prepared["direct"]:
                self.model.encode(batch).logits.numpy()

    def _without_label_cache(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` with the bi-encoder label cache emptied per batch (as upstream encodes labels
        with every batch), then put the pipe's cache back so the interleaved pipe run is not charged."""
        saved = self.model._label_cache.copy()
        try:
            return fn()
        finally:
            self.model._label_cache.clear()
            self.model._label_cache.update(saved)

    def run_reference(self) -> list[np.ndarray]:
        return self._without_label_cache(self._reference)

    def run_cross(self) -> list[float]:
        return self._without_label_cache(self._cross)

    def _reference(self) -> list[np.ndarray]:
        labels, proc, out = self._prepared["labels"], self.processor, []
        with self.torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(self.texts), REFERENCE_BATCH):
                chunk = self.texts[start : start + REFERENCE_BATCH]
                self.model.clear_label_cache()  # upstream encodes the labels with every batch
                batch = proc.encode_ids(proc.tokenize_texts(chunk), [labels] * len(chunk))
                out += list(_sigmoid(self.model.encode(batch).logits[:, : len(labels)].numpy()))
        return out

    def _cross(self) -> list[float]:
        pairs, proc, out = self._prepared["pairs"], self.processor, []
        with self.torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(pairs), REFERENCE_BATCH):
                chunk = pairs[start : start + REFERENCE_BATCH]
                self.model.clear_label_cache()
                ids = proc.tokenize_texts([self.texts[i] for i, _ in chunk])
                batch = proc.encode_ids(ids, [[label] for _, label in chunk])
                out += list(_sigmoid(self.model.encode(batch).logits[:, 0].numpy()))
        return out

    def run_bare(self) -> None:
        with self.torch.inference_mode():
            for ids, mask in self._bare:
                self.model.encoder_model(input_ids=ids, attention_mask=mask)

    def docs_per_s(self, method: str, seconds: float) -> float:
        if method == "cross":  # docs/s = pairs/s ÷ labels per doc
            return len(self._prepared["pairs"]) / seconds / len(self._prepared["labels"])
        return len(self.texts) / seconds

    # -- agreement ----------------------------------------------------------------------------
    def agreement(self, outputs: dict[str, Any]) -> dict[str, Any]:
        pipe = np.stack(outputs["pipe"])
        report: dict[str, Any] = {}
        if "per_doc" in outputs:
            report["pipe_vs_per_doc"] = float(np.abs(pipe - np.stack(outputs["per_doc"])).max())
        if "reference" in outputs:
            fits = np.array(self._prepared["fits"])
            ref = np.stack(outputs["reference"])
            report["reference_docs_compared"] = int(fits.sum())
            report["pipe_vs_reference"] = float(np.abs(pipe[fits] - ref[fits]).max()) if fits.any() else 0.0
        if "cross" in outputs:
            index = {label: j for j, label in enumerate(self._prepared["labels"])}
            ours = np.array([pipe[i, index[label]] for i, label in self._prepared["pairs"]])
            fits = [self._prepared["fits"][i] for i, _ in self._prepared["pairs"]]
            diff = np.abs(ours - np.array(outputs["cross"]))[np.array(fits)] if any(fits) else np.zeros(1)
            report["pipe_vs_cross"] = float(diff.max())
        if "pipe_int8" in outputs:
            report["pipe_vs_int8"] = float(np.abs(pipe - np.stack(outputs["pipe_int8"])).max())
        atol = self.settings.atol
        required = ["pipe_vs_per_doc", "pipe_vs_reference"] + (["pipe_vs_cross"] if self.is_bi else [])
        report["ok"] = all(report.get(key, 0.0) <= atol for key in required)
        return report


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
        times: dict[str, list[float]] = {m: [] for m in methods}
        outputs: dict[str, Any] = {}
        for _ in range(settings.repeats):
            for method in methods:  # interleaved: A B C A B C …
                start = time.perf_counter()
                outputs[method] = getattr(bench, f"run_{method}")()
                times[method].append(time.perf_counter() - start)
        median = {m: statistics.median(ts) for m, ts in times.items()}
        docs_per_s = {m: bench.docs_per_s(m, t) for m, t in median.items()}
        gflops = {m: bench.useful_flops(m) / t / 1e9 for m, t in median.items() if m != "per_doc"}
        ratios = {f"pipe/{m}": docs_per_s["pipe"] / v for m, v in docs_per_s.items() if m != "pipe"}
        row = {
            "n_labels": k,
            "tokens_per_doc": bench.tokens_per_doc(),
            "docs_per_s": docs_per_s,
            "times_s": times,
            "gflops": gflops,
            "ratios": ratios,
            "wrapper_overhead_pct": 100 * (1 - median["direct"] / median["pipe"]) if "direct" in median else None,
            "agreement": bench.agreement({m: v for m, v in outputs.items() if v is not None}),
        }
        rows.append(row)
        log(format_row(row, methods))
    config = bench.processor.config
    return {
        "model": model or "<embedded default>",
        "architecture": config.architecture_type,
        "backbone_params_non_embedding": bench.flops.params,
        "methods": methods,
        "settings": {k: v for k, v in settings.__dict__.items()},
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
    load_before = _load_average()
    root = datasets_root(settings.datasets_dir)
    texts, labels = sample_texts(settings.n_texts, settings.seed, root), label_pool(settings.seed, root)
    machine = {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "matmul_gflops_fp32": matmul_gflops(),
        "load_average_before": load_before,
    }
    log(f"fp32 matmul: {machine['matmul_gflops_fp32']:.1f} GFLOP/s on {machine['torch_threads']} threads")
    results = []
    for model in models:
        log(f"== {model or '<embedded default>'}")
        log(header(list(settings.methods) + (["pipe_int8"] if settings.int8 else [])))
        results.append(benchmark_model(model, settings, texts, labels, log))
    machine["load_average_after"] = _load_average()
    return {
        "machine": machine,
        "results": results,
        "peak_rss_mb": peak_rss_mb(),
        "elapsed_s": time.perf_counter() - started,
        "agreement_ok": all(r["agreement_ok"] for r in results),
    }


# -- reporting ---------------------------------------------------------------------------------
def header(methods: Sequence[str]) -> str:
    cols = "".join(f"{m:>10}" for m in methods)
    return f"{'labels':>6} {'tok/doc':>7}{cols} {'pipe/ref':>8} {'pipe/doc':>8} {'pipe/bare':>9} {'ovh%':>5} {'GF/s':>5} ok"


def format_row(row: dict[str, Any], methods: Sequence[str]) -> str:
    d, r = row["docs_per_s"], row["ratios"]
    cols = "".join(f"{d[m]:>10.2f}" if m in d else f"{'-':>10}" for m in methods)
    overhead = row["wrapper_overhead_pct"]

    def ratio(key: str, width: int) -> str:
        return f"{r[key]:>{width}.2f}" if key in r else f"{'-':>{width}}"

    return (
        f"{row['n_labels']:>6} {row['tokens_per_doc']:>7.1f}{cols} {ratio('pipe/reference', 8)} "
        f"{ratio('pipe/per_doc', 8)} {ratio('pipe/bare', 9)} "
        f"{overhead if overhead is not None else float('nan'):>5.1f} {row['gflops']['pipe']:>5.1f} "
        f"{'yes' if row['agreement']['ok'] else 'NO'}"
    )


def plot(report: dict[str, Any], path: str | Path) -> None:
    """docs/s vs number of labels, one panel per model (matplotlib imported only here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, result in zip(axes[0], results, strict=True):
        ks = [row["n_labels"] for row in result["rows"]]
        for method in result["methods"]:
            ax.plot(ks, [row["docs_per_s"][method] for row in result["rows"]], marker="o", label=method)
        ax.set(xscale="log", yscale="log", xlabel="labels", ylabel="docs/s")
        ax.set_title(f"{result['architecture']}: {Path(result['model']).name or result['model']}")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)


# -- int8 accuracy -----------------------------------------------------------------------------
def macro_f1(gold: Sequence[int], pred: Sequence[int], n_classes: int) -> float:
    scores = []
    for c in range(n_classes):
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def quantization_accuracy(
    model: str,
    datasets: Sequence[str],
    n_rows: int = 500,
    seed: int = 0,
    max_length: int = 512,
    datasets_dir: str | Path = "",
) -> dict[str, Any]:
    """Zero-shot macro-F1 (argmax over the dataset's labels) of fp32 vs int8, and their docs/s."""
    import srsly

    settings = BenchSettings(max_length=max_length)
    pipes = {"fp32": make_nlp(model, settings), "int8": make_nlp(model, settings, "int8")}
    out: dict[str, Any] = {}
    for name in datasets:
        root = datasets_root(datasets_dir) / name
        labels = [str(x) for x in srsly.read_json(root / "dataset_info.json")["labels"]]
        rows = [r for r in srsly.read_jsonl(root / "test.jsonl") if r.get("text", "").strip()]
        rows = random.Random(seed).sample(rows, min(n_rows, len(rows)))
        gold = [labels.index(r["labels"][0] if isinstance(r["labels"], list) else r["labels"]) for r in rows]
        texts = [r["text"] for r in rows]
        entry: dict[str, Any] = {"n": len(rows)}
        for kind, nlp in pipes.items():
            nlp.get_pipe("gliclass").labels = labels
            start = time.perf_counter()
            docs = list(nlp.pipe(texts))
            entry[f"{kind}_docs_per_s"] = len(texts) / (time.perf_counter() - start)
            pred = [int(np.argmax([doc.cats[label] for label in labels])) for doc in docs]
            entry[f"{kind}_macro_f1"] = macro_f1(gold, pred, len(labels))
        entry["f1_loss"] = entry["fp32_macro_f1"] - entry["int8_macro_f1"]
        entry["speedup"] = entry["int8_docs_per_s"] / entry["fp32_docs_per_s"]
        out[name] = entry
    return out

"""What a benchmark run shows: the printed tables, the docs/s chart and the JSON it writes.

Imports nothing heavy (matplotlib only inside ``plot``): the project's report script draws the
chart from a saved JSON file with it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def header(methods: Sequence[str]) -> str:
    cols = "".join(f"{m:>10}" for m in methods)
    ratios = f"{'pipe/ref':>8} {'pipe/doc':>8} {'pipe/bare':>9}"
    return f"{'labels':>6} {'tok/doc':>7}{cols} {ratios} {'ovh%':>5} {'GF/s':>5} ok"


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


def format_summary(report: dict[str, Any]) -> str:
    """Memory, load before and after, time taken and the agreement verdict of a whole run."""
    m, verdict = report["machine"], "ok" if report["agreement_ok"] else "FAILED"
    return (
        f"peak RSS {report['peak_rss_mb']:.0f} MB; load average before {m['load_average_before']} after "
        f"{m['load_average_after']}; {report['elapsed_s']:.0f} s; agreement {verdict}"
    )


def format_int8_accuracy(per_model: dict[str, dict[str, Any]]) -> str:
    """Per model and dataset: macro-F1 and docs/s of torch fp32 against int8."""
    lines = []
    for name, per_set in per_model.items():
        lines.append(f"int8 vs fp32, {name}:")
        for ds, e in per_set.items():
            lines.append(
                f"  {ds:<22} F1 fp32 {e['fp32_macro_f1']:.3f} int8 {e['int8_macro_f1']:.3f} "
                f"(loss {e['f1_loss']:+.3f}); docs/s {e['fp32_docs_per_s']:.1f} -> {e['int8_docs_per_s']:.1f}"
                f" (x{e['speedup']:.2f})"
            )
    return "\n".join(lines)


def format_runtimes(report: dict[str, Any]) -> str:
    """One line per runtime: docs/s, speed-up, macro-F1 per dataset, average and its change."""
    names = report["datasets"]
    title = f"{'runtime':<11} {'docs/s':>7} {'speed-up':>8} " + " ".join(f"{n:>8}" for n in names)
    lines = [title + "      avg  ΔF1 pts"]
    for name, e in report["runtimes"].items():
        f1 = " ".join(f"{e['macro_f1'].get(n, float('nan')):>8.3f}" for n in names)
        cells = (f"{name:<11}", f"{e['docs_per_s']:>7.1f}", f"{e['speedup']:>7.2f}x", f1, f"{e['avg_macro_f1']:>8.3f}")
        lines.append(" ".join(cells) + f" {-e['f1_loss_points']:>+8.2f}")
    return "\n".join(lines)


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")


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

"""The published results: markdown tables and two charts from the evaluation and benchmark JSON.

- ``REPORT.md``: zero-shot macro-F1 per dataset for every model, each trained model scored only on
  the fold it never saw, with the change against the floor and the paper's figures beside it; the
  release model (trained on every training split, so *not* zero-shot on these sets) beside the
  fold models; the same with the transductive label-prior correction; calibration at 0.5; speed;
- ``f1_per_dataset.png``: the same numbers as grouped bars;
- ``speed_vs_labels.png``: docs/s against the number of labels (drawn by the package's benchmark);
- ``fewshot.png``: the few-shot study (``fewshot_ppo.py``) with error bars over seeds.

    python scripts/report.py results/ --floor results/eval_floor.json \
        --model "supervised=results/eval_supervised_a.json,results/eval_supervised_b.json" ...
"""

from __future__ import annotations

import json
from pathlib import Path

import fewshot_table
import typer

from spacy_gliclass.bench.report import plot as plot_speed

FLOOR = "embedded default (floor)"
RELEASE = "release model (all training splits)"


def read_scores(paths: str, key: str = "datasets") -> tuple[dict[str, float], dict[str, str]]:
    """Merge per-fold evaluation files: {dataset: F1} and {dataset: which file scored it}."""
    scores: dict[str, float] = {}
    source: dict[str, str] = {}
    for path in [Path(p.strip()) for p in paths.split(",") if p.strip()]:
        payload = json.loads(path.read_text(encoding="utf8"))
        for name, f1 in payload.get(key, {}).items():
            if name in scores:
                raise typer.BadParameter(f"{name} is scored twice ({source[name]} and {path}): folds must not overlap")
            scores[name], source[name] = float(f1), path.stem
    return scores, source


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def markdown(
    columns: dict[str, dict[str, float]],
    datasets: list[str],
    fold_of: dict[str, str],
    not_zero_shot: tuple[str, ...] = (),
) -> str:
    """The F1 table; ``best trained − floor`` counts only zero-shot models (not ``not_zero_shot``)."""
    names = list(columns)
    head = "| dataset | scored by | " + " | ".join(names) + " | best zero-shot trained − floor |"
    lines = [head, "|" + "---|" * (len(names) + 3)]
    trained = [n for n in names if n != FLOOR and not n.startswith("gliclass-") and n not in not_zero_shot]
    for d in datasets:
        cells = [f"{columns[n][d]:.3f}" if d in columns[n] else "–" for n in names]
        best = max((columns[n][d] for n in trained if d in columns[n]), default=None)
        delta = f"{best - columns[FLOOR][d]:+.3f}" if best is not None and d in columns[FLOOR] else "–"
        lines.append(f"| {d} | {fold_of.get(d, '–')} | " + " | ".join(cells) + f" | {delta} |")
    averages = [f"**{mean([columns[n][d] for d in datasets if d in columns[n]]):.3f}**" for n in names]
    lines.append("| **average** | | " + " | ".join(averages) + " | |")
    return "\n".join(lines)


def plot_f1(columns: dict[str, dict[str, float]], datasets: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(columns)
    width = 0.8 / len(names)
    x = np.arange(len(datasets) + 1)
    fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(x)), 5))
    for i, name in enumerate(names):
        values = [columns[name].get(d, np.nan) for d in datasets]
        values.append(mean([v for v in values if not np.isnan(v)]))
        style = {"hatch": "//", "alpha": 0.45} if name.startswith("gliclass-") else {}
        ax.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name, **style)
    ax.axvline(len(datasets) - 0.5, color="grey", lw=0.8)
    ax.set_xticks(x, [*datasets, "AVERAGE"], rotation=35, ha="right")
    ax.set_ylabel("zero-shot macro-F1")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.set_title("Zero-shot macro-F1 per dataset (each trained model scored only on its held-out fold)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def speed_table(bench: dict) -> str:
    result = bench["results"][0]
    methods = result["methods"]
    lines = ["| labels | " + " | ".join(methods) + " | nlp.pipe vs reference loop |", "|" + "---|" * (len(methods) + 2)]
    for row in result["rows"]:
        cells = [f"{row['docs_per_s'][m]:.1f}" for m in methods]
        ratio = row["ratios"].get("pipe/reference")
        ratio_cell = f"{ratio:.2f}×" if ratio else "–"
        lines.append(f"| {row['n_labels']} | " + " | ".join(cells) + f" | {ratio_cell} |")
    return "\n".join(lines)


def calibration_table(calibration: dict) -> str:
    lines = [
        "| data | pairs | ECE before | ECE after | micro-F1@0.5 before | micro-F1@0.5 after | mean score before | after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("fit sets (" + ", ".join(calibration["fit_sets"]) + ")", calibration["fit"])]
    if "held_out" in calibration:
        rows.append(("**kept-out sets, pooled**", calibration["held_out"]))
        rows += [(f"kept out: {name}", part) for name, part in calibration["held_out_per_set"].items()]
    for what, part in rows:
        b, a = part["before"], part["after"]
        lines.append(
            f"| {what} | {a['pairs']} | {b['ece']:.3f} | {a['ece']:.3f} | {b['micro_f1']:.3f} | {a['micro_f1']:.3f} "
            f"| {b['mean_score']:.3f} | {a['mean_score']:.3f} |"
        )
    return "\n".join(lines)


def before_after_table(bench: dict) -> str:
    """nlp.pipe docs/s of each benchmarked model (the floor first) and the ratio to the first."""
    results = bench["results"]
    names = [r["model"] for r in results]
    lines = ["| labels | " + " | ".join(names) + " | ratio |", "|" + "---|" * (len(names) + 2)]
    for i, row in enumerate(results[0]["rows"]):
        speeds = [r["rows"][i]["docs_per_s"]["pipe"] for r in results]
        lines.append(
            f"| {row['n_labels']} | " + " | ".join(f"{v:.1f}" for v in speeds) + f" | {speeds[-1] / speeds[0]:.2f}× |"
        )
    return "\n".join(lines)


def runtimes_table(report: dict) -> str:
    """docs/s, speed-up and macro-F1 per set of torch/ONNX Runtime × fp32/int8 (one interleaved run)."""
    sets = report["datasets"]
    lines = [
        "| runtime | docs/s | speed-up | " + " | ".join(sets) + " | avg | Δ F1 points |",
        "|---|" + "---|" * (len(sets) + 4),
    ]
    for name, e in report["runtimes"].items():
        f1 = " | ".join(f"{e['macro_f1'][d]:.3f}" for d in sets)
        lines.append(
            f"| {name} | {e['docs_per_s']:.1f} | {e['speedup']:.2f}× | {f1} | {e['avg_macro_f1']:.3f} "
            f"| {0.0 - e['f1_loss_points']:+.1f} |"
        )
    return "\n".join(lines)


def main(
    output: Path = typer.Argument(..., help="Folder for REPORT.md and the PNG charts."),
    floor: Path = typer.Option(..., help="Evaluation JSON of the embedded default."),
    model: list[str] = typer.Option([], help="'name=a.json,b.json': a trained model, one file per fold."),
    release: Path | None = typer.Option(None, help="Evaluation JSON of the release model (trained on every set)."),
    calibration: Path | None = typer.Option(None, help="Calibration JSON of the release model."),
    reference: Path = typer.Option(..., help="The paper's published figures (JSON)."),
    benchmark: Path | None = typer.Option(None, help="Benchmark JSON (docs/s vs labels)."),
    speed_before_after: Path | None = typer.Option(None, help="Benchmark JSON of the floor and the release model."),
    runtimes: Path | None = typer.Option(None, help="Benchmark --runtimes JSON (torch/ORT × fp32/int8)."),
    fewshot: list[Path] = typer.Option([], help="JSON lines of scripts/fewshot_ppo.py (the few-shot study)."),
    title: str = typer.Option("spacy-gliclass: zero-shot results"),
) -> None:
    floor_scores = json.loads(floor.read_text(encoding="utf8"))
    datasets = list(floor_scores["datasets"])
    columns: dict[str, dict[str, float]] = {FLOOR: floor_scores["datasets"]}
    corrected: dict[str, dict[str, float]] = {FLOOR: floor_scores.get("datasets_prior_corrected", {})}
    fold_of: dict[str, str] = {}
    for spec in model:
        name, _, paths = spec.partition("=")
        columns[name], fold_of_model = read_scores(paths)
        corrected[name], _ = read_scores(paths, "datasets_prior_corrected")
        fold_of.update({d: f"model {f.rsplit('_', 1)[-1].upper()}" for d, f in fold_of_model.items()})
    if release is not None:
        columns[RELEASE], _ = read_scores(str(release))
        corrected[RELEASE], _ = read_scores(str(release), "datasets_prior_corrected")
    for name, scores in json.loads(reference.read_text(encoding="utf8"))["models"].items():
        columns[name] = {d: scores[d] for d in datasets if d in scores}
    output.mkdir(parents=True, exist_ok=True)
    plot_f1({n: columns[n] for n in columns if n != RELEASE}, datasets, output / "f1_per_dataset.png")
    parts = [
        f"# {title}",
        "",
        f"Zero-shot macro-F1, argmax over each dataset's own label names, {floor_scores['n']} seeded test rows "
        f"per dataset (seed {floor_scores['seed']}); the paper's columns are its published figures on the full "
        "test sets, for reference. `scored by` names the fold model that never saw the dataset in any split. "
        f"The *{RELEASE}* column is the model the package ships: it trained on every training split "
        "(these sets' included), so its figures are not zero-shot; its honest zero-shot estimate is the fold "
        "models' column.",
        "",
        markdown(columns, datasets, fold_of, not_zero_shot=(RELEASE,)),
        "",
        "![F1 per dataset](f1_per_dataset.png)",
    ]
    with_correction = {n: v for n, v in corrected.items() if v}
    if with_correction:
        plain = {n: columns[n] for n in with_correction}
        parts += [
            "",
            "## Transductive label-prior correction (opt-in, uses the unlabeled test texts)",
            "",
            "Each label's logit minus its mean over the test sample before the argmax "
            "(`evaluate --prior-correction`); not a zero-shot protocol, reported separately.",
            "",
            "| dataset | " + " | ".join(f"{n} | {n} + correction" for n in with_correction) + " |",
            "|---|" + "---|---|" * len(with_correction),
        ]
        for d in datasets:
            cells = []
            for n in with_correction:
                cells += [
                    f"{plain[n][d]:.3f}" if d in plain[n] else "–",
                    f"{with_correction[n][d]:.3f}" if d in with_correction[n] else "–",
                ]
            parts.append(f"| {d} | " + " | ".join(cells) + " |")
        cells = []
        for n in with_correction:
            cells += [f"**{mean(list(plain[n].values())):.3f}**", f"**{mean(list(with_correction[n].values())):.3f}**"]
        parts.append("| **average** | " + " | ".join(cells) + " |")
    if calibration is not None:
        cal = json.loads(calibration.read_text(encoding="utf8"))
        parts += [
            "",
            "## Calibration of the release model (independent sigmoid scores, threshold 0.5)",
            "",
            f"Logit scale and bias refitted by logistic regression on (text, label, is-gold) pairs from "
            f"{cal['rows_per_set']} test rows of each fit set (training-only datasets, never an evaluation set): "
            f"scale {cal['before']['scale']:.3f} → {cal['after']['scale']:.3f}, bias {cal['before']['bias']:.3f} → "
            f"{cal['after']['bias']:.3f}. ECE: 15 equal-width bins over all pairs; micro-F1 of the pairs scored ≥ 0.5.",
            "",
            calibration_table(cal),
        ]
    if benchmark is not None:
        bench = json.loads(benchmark.read_text(encoding="utf8"))
        plot_speed(bench, output / "speed_vs_labels.png")
        machine = bench["machine"]
        parts += [
            "",
            "## Speed",
            "",
            f"docs/s (medians of interleaved repeats) on {machine['cpu_count']} CPU cores, "
            f"{machine['torch_threads']} torch threads, fp32 matmul peak {machine['matmul_gflops_fp32']:.0f} GFLOP/s; "
            f"model: {bench['results'][0]['model']}.",
            "",
            speed_table(bench),
            "",
            "![docs/s vs labels](speed_vs_labels.png)",
        ]
    if speed_before_after is not None:
        parts += [
            "",
            "`nlp.pipe` docs/s of the untrained floor and the release model (same texts, same process):",
            "",
            before_after_table(json.loads(speed_before_after.read_text(encoding="utf8"))),
        ]
    if runtimes is not None:
        runs = json.loads(runtimes.read_text(encoding="utf8"))
        parts += [
            "",
            "## Runtimes: torch and ONNX Runtime, fp32 and int8",
            "",
            f"`nlp.pipe` docs/s over {runs['n_texts']} mixed texts with {runs['n_labels']} labels (medians of "
            f"{runs['repeats']} interleaved repeats) and zero-shot macro-F1 on {runs['n_rows']} test rows per set, "
            f"same run; model: {runs['model']}.",
            "",
            runtimes_table(runs),
        ]
    if fewshot:
        cells = fewshot_table.read_cells(fewshot)
        fewshot_table.plot(cells, output / "fewshot.png")
        parts += [
            "",
            "## Few-shot: in-context examples, supervised, PPO",
            "",
            "Every stage starts from the untrained floor; shots and a dev split of the same size per label come "
            "from each set's train split, training stops early on the dev split and keeps its best weights (the "
            "start's included); macro-F1 of the argmax on seeded test rows (goemotions: its single-label rows). "
            "PPO from feedback sees only a simulated reviewer's accept/reject on the floor's top proposals for "
            "as many texts, drawn as the train split comes (`feedback_draw`), and replaces the start model only "
            "when its gain in accepted top labels on the judged dev texts clears a one-sided sign test "
            "(`feedback_gain_z` standard errors; `scripts/fewshot_ppo.py`).",
            "",
            fewshot_table.recipe(cells),
            "",
            fewshot_table.markdown(cells),
            "",
            "![few-shot](fewshot.png)",
        ]
    (output / "REPORT.md").write_text("\n".join(parts) + "\n", encoding="utf8")
    typer.echo((output / "REPORT.md").read_text(encoding="utf8"))


if __name__ == "__main__":
    typer.run(main)

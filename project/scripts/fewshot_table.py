"""The few-shot section of the report: mean ± std over seeds per set and stage, and a bar chart with
error bars, from the JSON lines ``fewshot_ppo.py`` writes (one per set, shots, seed and stage)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

STAGE_NAMES = {
    "zero-shot": "zero-shot",
    "in-context": "in-context examples",
    "sft": "supervised",
    "ppo": "PPO (gold)",
    "sft+ppo": "PPO after supervised",
    "ppo_feedback": "PPO from feedback",
}


def read_cells(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text(encoding="utf8").splitlines() if line.strip()]


def recipe(cells: list[dict]) -> str:
    """The settings the cells were run with (``fewshot_ppo.py`` stores them in every cell), as one line."""
    settings = {json.dumps(c.get("settings", {}), sort_keys=True) for c in cells}
    if len(settings) != 1:
        return "Cells of several recipes: compare with care."
    values = json.loads(settings.pop())
    return "Recipe: " + ", ".join(f"`{k}` {v}" for k, v in sorted(values.items())) + "."


def by_seed(cells: list[dict]) -> dict[tuple[int, str, str], dict[int, float]]:
    """{(shots, set, stage): {seed: macro-F1}}."""
    out: dict[tuple[int, str, str], dict[int, float]] = {}
    for c in cells:
        out.setdefault((c["shots"], c["set"], c["stage"]), {})[c["seed"]] = c["macro_f1"]
    return out


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summary(cells: list[dict]) -> dict[int, dict[str, dict[str, tuple[float, float]]]]:
    """{shots: {set or "average": {stage: (mean, std over seeds)}}}; the average is over sets per seed,
    taken only over the seeds every set has."""
    seeds = by_seed(cells)
    out: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
    for (shots, name, stage), values in seeds.items():
        out.setdefault(shots, {}).setdefault(name, {})[stage] = _mean_std(list(values.values()))
    for shots, table in out.items():
        names = list(table)
        for stage in {s for row in table.values() for s in row}:
            runs = [seeds.get((shots, name, stage), {}) for name in names]
            common = set.intersection(*(set(r) for r in runs)) if all(runs) else set()
            if common:
                table.setdefault("average", {})[stage] = _mean_std(
                    [statistics.mean(r[seed] for r in runs) for seed in sorted(common)]
                )
    return out


def stages_present(cells: list[dict]) -> list[str]:
    seen = {c["stage"] for c in cells}
    return [s for s in STAGE_NAMES if s in seen]


def markdown(cells: list[dict]) -> str:
    stages = stages_present(cells)
    seeds = sorted({c["seed"] for c in cells})
    parts = []
    for shots, table in sorted(summary(cells).items()):
        parts += [
            f"**{shots} examples per label**, macro-F1 mean ± std over seeds {', '.join(map(str, seeds))}:",
            "",
            "| set | " + " | ".join(STAGE_NAMES[s] for s in stages) + " |",
            "|---|" + "---|" * len(stages),
        ]
        for name, row in table.items():
            cells_ = [f"{row[s][0]:.3f} ± {row[s][1]:.3f}" if s in row else "–" for s in stages]
            label = f"**{name}**" if name == "average" else name
            parts.append(f"| {label} | " + " | ".join(cells_) + " |")
        parts.append("")
    return "\n".join(parts).rstrip()


def plot(cells: list[dict], path: Path) -> None:
    """One panel per number of shots: bars per set and stage, error bars one std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stages, tables = stages_present(cells), sorted(summary(cells).items())
    fig, axes = plt.subplots(1, len(tables), figsize=(7 * len(tables), 4.5), squeeze=False)
    width = 0.8 / len(stages)
    for ax, (shots, table) in zip(axes[0], tables, strict=True):
        names = list(table)
        x = np.arange(len(names))
        for i, stage in enumerate(stages):
            means = [table[n].get(stage, (np.nan, 0.0))[0] for n in names]
            stds = [table[n].get(stage, (np.nan, 0.0))[1] for n in names]
            ax.bar(
                x + (i - (len(stages) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=STAGE_NAMES[stage]
            )
        ax.set_xticks(x, names, rotation=20, ha="right")
        ax.set_title(f"{shots} examples per label")
        ax.set_ylabel("macro-F1 (mean ± std over seeds)")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

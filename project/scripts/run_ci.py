"""Run the project's `fewshot` command and `all` workflow on tiny settings in a scratch copy, then
check their outputs.

The copy (project.yml, configs/, scripts/) goes to a folder of its own, so the published results in
results/ are never overwritten; the datasets folder is passed on as an absolute path.

    python scripts/run_ci.py ../../shared/datasets ci
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import typer

PROJECT = Path(__file__).resolve().parents[1]
TINY = {
    "train_rows": 12,
    "dev_rows": 4,
    "max_candidates": 4,
    "train_steps": 2,
    "release_steps": 2,
    "calibration_rows": 4,
    "batch_size": 4,
    "ppo_rows": 8,
    "ppo_steps": 1,
    "eval_rows": 6,
    "bench_texts": 6,
    "bench_label_counts": "1,4",
    "bench_repeats": 1,
    "runtime_rows": 6,
    "package_version": "0.0.0",
    "fewshot_sets": "sst2",
    "fewshot_shots": "2",
    "fewshot_seeds": "0",
    "fewshot_test_rows": 6,
    "fewshot_sft_steps": 2,
    "fewshot_ppo_steps": 2,
}
EXPECTED = [
    "results/REPORT.md",
    "results/f1_per_dataset.png",
    "results/speed_vs_labels.png",
    "training/ppo_b/pipeline-wise/config.cfg",
    "training/release/release.safetensors",
    "results/eval_release.json",
    "results/calibration.json",
    "results/runtimes.json",
    "results/fewshot.png",
]


def main(
    datasets_dir: Path = typer.Argument(..., help="The datasets folder (relative to the project folder)."),
    scratch: Path = typer.Argument(Path("ci"), help="Scratch folder for the copy (replaced)."),
) -> None:
    scratch = (PROJECT / scratch).resolve()
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    shutil.copy(PROJECT / "project.yml", scratch / "project.yml")
    for folder in ("configs", "scripts"):
        shutil.copytree(PROJECT / folder, scratch / folder)
    overrides = [f"--vars.datasets_dir={(PROJECT / datasets_dir).resolve()}"]
    overrides += [f"--vars.{key}={value}" for key, value in TINY.items()]
    start = time.perf_counter()
    for what in ("fewshot", "all"):  # the few-shot command first: `all`'s report reads its results
        subprocess.run([sys.executable, "-m", "spacy", "project", "run", what, str(scratch), *overrides], check=True)
    missing = [p for p in EXPECTED if not (scratch / p).exists()]
    if not list((scratch / "packages").glob(f"*-{TINY['package_version']}/dist/*.whl")):
        missing.append("packages/*/dist/*.whl")
    if missing:
        raise SystemExit(f"ci workflow finished but did not write: {', '.join(missing)}")
    print(f"ci workflow: all outputs written in {time.perf_counter() - start:.0f}s ({scratch})")


if __name__ == "__main__":
    typer.run(main)

"""``calibrate``: refit a pipeline's logit scale and bias so that 0.5 is a sensible threshold."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def calibrate(
    pipeline: Path = typer.Argument(..., help="A saved spaCy pipeline with a gliclass pipe (bi-encoder)."),
    output: Path = typer.Argument(..., help="Where to save the calibrated pipeline."),
    datasets_dir: Path = typer.Option(Path("../shared/datasets"), help="Folder with one folder per dataset."),
    fit_sets: str = typer.Option("", help="Comma-separated datasets to fit on; '' = every one with a test split."),
    exclude: str = typer.Option("", help="Comma-separated datasets never to fit on (the evaluation sets)."),
    report_sets: str = typer.Option("", help="Comma-separated datasets kept out of the fit, to report on."),
    rows: int = typer.Option(300, help="Test rows per dataset (seeded sample)."),
    seed: int = typer.Option(0),
    report: Path | None = typer.Option(None, help="Write the before/after figures as JSON here."),
    pipe_name: str = typer.Option("", help="Name of the gliclass pipe; '' = the pipeline's gliclass pipe."),
) -> None:
    """Fit scale and bias by logistic regression on (text, label, is-gold) pairs; print ECE and micro-F1 at 0.5."""
    from ..datasets import dataset_names
    from ..pipeline import load_saved_pipeline
    from ..training.calibrate import calibrate as run

    nlp, pipe = load_saved_pipeline(pipeline, pipe_name)

    def split(text: str) -> list[str]:
        return [x.strip() for x in text.split(",") if x.strip()]

    names = split(fit_sets) or dataset_names(datasets_dir, "test")
    held_out = set(split(exclude)) | set(split(report_sets))
    fit = [x for x in names if x not in held_out]
    result = run(nlp, datasets_dir, fit, split(report_sets), rows=rows, seed=seed, pipe_name=pipe.name)
    nlp.to_disk(output)
    before, after = result["before"], result["after"]
    typer.echo(f"scale {before['scale']:.3f} -> {after['scale']:.3f}, bias {before['bias']:.3f} -> {after['bias']:.3f}")
    for part in ("fit", "held_out"):
        if part in result:
            b, a = result[part]["before"], result[part]["after"]
            typer.echo(
                f"{part:9} {a['pairs']} pairs: ECE {b['ece']:.3f} -> {a['ece']:.3f}, "
                f"micro-F1@0.5 {b['micro_f1']:.3f} -> {a['micro_f1']:.3f}, mean score {b['mean_score']:.3f} -> {a['mean_score']:.3f}"
            )
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    typer.echo(f"Wrote {output}")

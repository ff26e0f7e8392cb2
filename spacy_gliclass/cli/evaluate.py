"""``evaluate``: zero-shot macro-F1 per dataset (argmax over the dataset's labels)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

PAPER_SETS = (
    "sst2,sst5,rotten_tomatoes,cr,imdb,ag_news,20_newsgroups,emotion,financial_phrasebank,"
    "cap_sotu,sms_spam,banking77,massive_intent,snips"
)


def evaluate(
    model: str = typer.Option("", help="Saved spaCy pipeline dir, GLiClass checkpoint dir, or '' (default)."),
    datasets_dir: Path = typer.Option(Path("../shared/datasets"), help="Folder with one folder per dataset."),
    datasets: str = typer.Option(PAPER_SETS, help="Comma-separated dataset names."),
    n: int = typer.Option(1000, help="Test rows per dataset (seeded sample; 0 = all)."),
    seed: int = typer.Option(0),
    output: Path | None = typer.Option(None, help="Write the scores as JSON here."),
    prior_correction: bool = typer.Option(
        False, "--prior-correction", help="Transductive: subtract each label's mean score over the test sample."
    ),
) -> None:
    """Score a model zero-shot on datasets it never trained on."""
    from ..datasets import load_eval_sets
    from ..evaluation import evaluate_zero_shot
    from ..pipeline import load_pipeline
    from ..validation import check_writable

    # The data and the output path are checked before the model loads and the scoring starts.
    sets = load_eval_sets(datasets_dir, [x.strip() for x in datasets.split(",") if x.strip()], n=n, seed=seed)
    if output:
        check_writable(output)
    nlp, pipe = load_pipeline(model)
    results = evaluate_zero_shot(nlp, sets, pipe_name=pipe.name, prior_correction=prior_correction)
    extra = f" {'prior-corrected':>15}" if prior_correction else ""
    typer.echo(f"{'dataset':24} {'macro-F1':>8}{extra} {'rows':>6} {'labels':>6} {'docs/s':>7}")
    for r in results:
        extra = f" {r.macro_f1_prior_corrected:15.3f}" if prior_correction else ""
        typer.echo(f"{r.name:24} {r.macro_f1:8.3f}{extra} {r.n_rows:6d} {r.n_labels:6d} {r.n_rows / r.seconds:7.1f}")
    average = sum(r.macro_f1 for r in results) / len(results)
    payload = {
        "model": model or "embedded default",
        "n": n,
        "seed": seed,
        "average": average,
        "datasets": {r.name: r.macro_f1 for r in results},
    }
    extra = ""
    if prior_correction:
        payload["datasets_prior_corrected"] = {r.name: r.macro_f1_prior_corrected for r in results}
        payload["average_prior_corrected"] = sum(payload["datasets_prior_corrected"].values()) / len(results)
        extra = f" {payload['average_prior_corrected']:15.3f}"
    typer.echo(f"{'average':24} {average:8.3f}{extra}")
    if output:
        output.write_text(json.dumps(payload, indent=2) + "\n")

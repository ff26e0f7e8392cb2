"""``demo``: classify a handful of sample texts with the default pipeline and print doc.cats."""

from __future__ import annotations

import json

import typer

SAMPLES = [
    "The striker scored twice in the final minutes to win the cup.",
    "Shares tumbled after the company cut its profit forecast for the year.",
    "Researchers found a new exoplanet using the space telescope.",
    "I absolutely loved this movie, the acting was wonderful!",
    "My card payment was declined at the supermarket this morning.",
]
LABELS = ["sports", "business", "science", "entertainment", "banking"]


def demo(
    model: str = typer.Option(
        "", help="A saved pipeline, checkpoint dir, Hub id, delta file or 'floor'; '' = the default."
    ),
    labels: str = typer.Option(",".join(LABELS), help="Comma-separated labels."),
) -> None:
    """Classify sample texts zero-shot and print each doc's cats."""
    from ..pipeline import load_pipeline

    nlp, _ = load_pipeline(model, labels=[x.strip() for x in labels.split(",") if x.strip()])
    for doc in nlp.pipe(SAMPLES):
        best = max(doc.cats, key=doc.cats.get)
        cats = {k: round(v, 3) for k, v in doc.cats.items()}
        typer.echo(f"{doc.text}\n  -> {best}  {json.dumps(cats)}")

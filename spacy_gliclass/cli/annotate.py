"""``annotate``: classify a whole corpus (JSONL, CSV, text or .spacy) into JSONL or a DocBin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def annotate(
    input_path: Annotated[Path, typer.Argument(help="Input: .jsonl, .csv, .spacy, or plain text (one record a line).")],
    output_path: Annotated[Path, typer.Argument(help="Output: .jsonl (input record + cats + labels) or .spacy.")],
    model: str = typer.Option("", help="Saved spaCy pipeline dir, GLiClass checkpoint dir, or empty (default)."),
    labels: str = typer.Option("", help="Comma-separated labels; required unless the pipeline has labels."),
    labels_file: Path | None = typer.Option(
        None, help="Labels from a file instead: one a line, or a JSON list (for labels with commas)."
    ),
    threshold: float | None = typer.Option(None, help="Score from which a label is assigned (default: the pipe's)."),
    text_field: str = typer.Option("text", help="JSONL key / CSV column holding the text."),
    batch_size: int = typer.Option(64, help="Records per nlp.pipe call and per commit (keep it when resuming)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run where it stopped."),
    engine: str = typer.Option("local", help="'local' (this process) or 'ray' (Ray Data; needs the 'ray' extra)."),
    workers: int = typer.Option(1, help="Ray engine: number of workers (actors), each loading the pipeline once."),
    ray_address: str | None = typer.Option(
        None, envvar="RAY_ADDRESS", help="Ray engine: cluster address (default: RAY_ADDRESS, else a local Ray)."
    ),
    num_gpus: float | None = typer.Option(None, help="Ray engine: GPUs per worker (default: 1 if CUDA is visible)."),
    progress: bool = typer.Option(True, help="Show a progress bar with docs/s and ETA."),
) -> None:
    """Annotate a corpus with a gliclass pipeline: streaming, order-preserving and resumable."""
    from ..annotate import AnnotateSettings, annotate_corpus
    from ..annotate.io import read_labels_file
    from ..errors import Errors, GLiClassError

    if labels and labels_file is not None:
        raise GLiClassError(Errors.E056)
    chosen = read_labels_file(labels_file) if labels_file is not None else labels.split(",")
    settings = AnnotateSettings(
        input=input_path,
        output=output_path,
        model=model,
        labels=[label.strip() for label in chosen if label.strip()] or None,
        threshold=threshold,
        text_field=text_field,
        batch_size=batch_size,
        engine=engine,
        workers=workers,
        ray_address=ray_address,
        num_gpus=num_gpus,
        resume=resume,
        progress=progress,
    )
    typer.echo(str(annotate_corpus(settings)))

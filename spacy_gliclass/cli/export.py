"""``export``: write a pipeline's gliclass model as an upstream-layout checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    pipeline: Path = typer.Argument(..., help="A saved spaCy pipeline with a gliclass pipe."),
    output: Path = typer.Argument(..., help="Folder for config.json, model.safetensors and tokenizer files."),
    pipe_name: str = typer.Option("gliclass", help="Name of the gliclass pipe in the pipeline."),
) -> None:
    """Export the model so that upstream gliclass (and `model = OUTPUT` in a config) can load it."""
    import spacy

    from ..architectures import get_shim

    nlp = spacy.load(pipeline)
    get_shim(nlp.get_pipe(pipe_name).model).save_pretrained(output)
    typer.echo(f"Wrote {output}")

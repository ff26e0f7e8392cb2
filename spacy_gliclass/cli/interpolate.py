"""``interpolate``: average a trained pipeline's weights with its start model's (WiSE-FT)."""

from __future__ import annotations

from pathlib import Path

import typer


def interpolate(
    pipeline: Path = typer.Argument(..., help="A saved spaCy pipeline with a trained gliclass pipe."),
    output: Path = typer.Argument(..., help="Where to save the interpolated pipeline."),
    alpha: float = typer.Option(0.5, help="Weight of the fine-tuned model: 0 = start model, 1 = unchanged."),
    start: str = typer.Option(
        None, help="Start checkpoint; default: the model the pipe was created from ('' = embedded default)."
    ),
    pipe_name: str = typer.Option("gliclass", help="Name of the gliclass pipe in the pipeline."),
) -> None:
    """Move a fine-tuned pipeline part of the way back to its start model, keeping zero-shot robustness."""
    import spacy

    from ..architectures import get_shim, load_checkpoint
    from ..training.interpolate import interpolate_weights

    nlp = spacy.load(pipeline)
    shim = get_shim(nlp.get_pipe(pipe_name).model)
    name = shim.cfg["name"] if start is None else start
    shown = name or "<embedded default>"
    start_model, _ = load_checkpoint(name, int(shim.cfg["max_length"]))
    interpolate_weights(shim.fp32_model(), start_model, alpha, start_name=shown)
    nlp.to_disk(output)
    typer.echo(f"Wrote {output}: {alpha:g} x fine-tuned + {1 - alpha:g} x {shown}")

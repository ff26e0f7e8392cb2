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
    pipe_name: str = typer.Option("", help="Name of the gliclass pipe; '' = the pipeline's gliclass pipe."),
) -> None:
    """Move a fine-tuned pipeline part of the way back to its start model, keeping zero-shot robustness."""
    from ..architectures import get_shim
    from ..modeling import checkpoint
    from ..pipeline import load_saved_pipeline
    from ..training.interpolate import interpolate_weights

    nlp, pipe = load_saved_pipeline(pipeline, pipe_name)
    shim = get_shim(pipe.model)
    name = shim.cfg["name"] if start is None else start
    shown = name or "<embedded default>"
    start_model, _ = checkpoint.load(name, int(shim.cfg["max_length"]))
    interpolate_weights(shim.fp32_model(), start_model, alpha, start_name=shown)
    nlp.to_disk(output)
    typer.echo(f"Wrote {output}: {alpha:g} x fine-tuned + {1 - alpha:g} x {shown}")

"""``delta``: write a pipeline's model as a compact delta on top of the embedded floor model."""

from __future__ import annotations

from pathlib import Path

import typer


def delta(
    pipeline: Path = typer.Argument(
        ..., help="A saved spaCy pipeline whose gliclass pipe was trained from model 'floor'."
    ),
    output: Path = typer.Argument(..., help="The delta file to write (.safetensors); load it with model = OUTPUT."),
    rank: int = typer.Option(
        32, help="Rank of each encoder matrix's update (truncated SVD; exact for LoRA of this rank)."
    ),
    pipe_name: str = typer.Option("", help="Name of the gliclass pipe; '' = the pipeline's gliclass pipe."),
) -> None:
    """Store what training changed, in a few MB: low-rank encoder updates and the heads."""
    from ..architectures import get_shim
    from ..modeling.defaults import save_delta
    from ..pipeline import load_saved_pipeline

    _, pipe = load_saved_pipeline(pipeline, pipe_name)
    stats = save_delta(get_shim(pipe.model).fp32_model(), output, rank=rank)
    size = output.stat().st_size / 2**20
    typer.echo(f"Wrote {output}: {stats['tensors']} tensors, {stats['numbers']:,} numbers, {size:.1f} MB")

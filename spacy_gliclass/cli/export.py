"""``export``: write a pipeline's gliclass model as an upstream-layout checkpoint (and ONNX graphs)."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    pipeline: Path = typer.Argument(..., help="A saved spaCy pipeline with a gliclass pipe."),
    output: Path = typer.Argument(..., help="Folder for config.json, model.safetensors and tokenizer files."),
    pipe_name: str = typer.Option("", help="Name of the gliclass pipe; '' = the pipeline's gliclass pipe."),
    onnx: bool = typer.Option(
        False, "--onnx", help='Also write onnx/*.onnx (fp32 and int8) for runtime = "onnx" (needs the onnx extra).'
    ),
) -> None:
    """Export the model so that upstream gliclass (and `model = OUTPUT` in a config) can load it."""
    from ..architectures import get_shim
    from ..pipeline import load_saved_pipeline

    _, pipe = load_saved_pipeline(pipeline, pipe_name)
    shim = get_shim(pipe.model)
    shim.save_pretrained(output)
    if onnx:
        from ..modeling.onnx_export import export_onnx

        for path in export_onnx(shim.fp32_model(), output):
            typer.echo(f"Wrote {path}")
    typer.echo(f"Wrote {output}")

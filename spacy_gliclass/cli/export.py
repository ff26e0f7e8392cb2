"""``export``: write a pipeline's gliclass model as an upstream-layout checkpoint (and ONNX graphs)."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    pipeline: Path = typer.Argument(..., help="A saved spaCy pipeline with a gliclass pipe."),
    output: Path = typer.Argument(..., help="Folder for config.json, model.safetensors and tokenizer files."),
    pipe_name: str = typer.Option("gliclass", help="Name of the gliclass pipe in the pipeline."),
    onnx: bool = typer.Option(
        False, "--onnx", help='Also write onnx/*.onnx (fp32 and int8) for runtime = "onnx" (needs the onnx extra).'
    ),
) -> None:
    """Export the model so that upstream gliclass (and `model = OUTPUT` in a config) can load it."""
    import spacy

    from ..architectures import get_shim

    nlp = spacy.load(pipeline)
    shim = get_shim(nlp.get_pipe(pipe_name).model)
    shim.save_pretrained(output)
    if onnx:
        from ..modeling.onnx_export import export_onnx

        for path in export_onnx(shim.fp32_model(), output):
            typer.echo(f"Wrote {path}")
    typer.echo(f"Wrote {output}")

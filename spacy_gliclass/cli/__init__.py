"""Thin typer commands over the package (``python -m spacy_gliclass --help``)."""

import typer

from .demo import demo

app = typer.Typer(name="spacy_gliclass", help="GLiClass zero-shot text classification for spaCy.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """GLiClass zero-shot text classification for spaCy."""


app.command("demo")(demo)

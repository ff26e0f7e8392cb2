"""Thin typer commands over the package (``python -m spacy_gliclass --help``)."""

import typer

from .annotate import annotate
from .benchmark import benchmark
from .demo import demo
from .evaluate import evaluate
from .export import export
from .interpolate import interpolate
from .ppo import ppo

app = typer.Typer(name="spacy_gliclass", help="GLiClass zero-shot text classification for spaCy.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """GLiClass zero-shot text classification for spaCy."""


app.command("annotate")(annotate)
app.command("benchmark")(benchmark)
app.command("demo")(demo)
app.command("evaluate")(evaluate)
app.command("export")(export)
app.command("interpolate")(interpolate)
app.command("ppo", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(ppo)

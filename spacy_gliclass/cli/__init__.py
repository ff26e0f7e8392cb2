"""Thin typer commands over the package (``python -m spacy_gliclass --help``)."""

import functools
from collections.abc import Callable
from typing import Any

import typer

from ..errors import GLiClassError
from .annotate import annotate
from .benchmark import benchmark
from .calibrate import calibrate
from .delta import delta
from .demo import demo
from .evaluate import evaluate
from .export import export
from .interpolate import interpolate
from .ppo import ppo

app = typer.Typer(name="spacy_gliclass", help="GLiClass zero-shot text classification for spaCy.", no_args_is_help=True)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Our errors are the user's to fix: print them as ``Error: ...`` (no traceback) and exit 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GLiClassError as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(1) from err

    return run


@app.callback()
def main() -> None:
    """GLiClass zero-shot text classification for spaCy."""


app.command("annotate")(reports_errors(annotate))
app.command("benchmark")(reports_errors(benchmark))
app.command("calibrate")(reports_errors(calibrate))
app.command("delta")(reports_errors(delta))
app.command("demo")(reports_errors(demo))
app.command("evaluate")(reports_errors(evaluate))
app.command("export")(reports_errors(export))
app.command("interpolate")(reports_errors(interpolate))
app.command("ppo", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(reports_errors(ppo))

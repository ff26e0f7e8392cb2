"""``python -m spacy_gliclass``: the package's command line."""

from .cli import app

app()

"""Corpus-scale annotation: read records, classify them with a ``gliclass`` pipeline, write them back.

``settings`` says what a run is asked to do, ``io`` reads and writes records (with line numbers
and rejects), ``engine`` annotates spans of records in-process, ``ray_engine`` does the same on Ray
Data, and ``runner`` ties them together with the part file, the commit file and ``--resume``.
Nothing here is imported by ``import spacy``.
"""

from .runner import Summary, annotate_corpus
from .settings import AnnotateSettings

__all__ = ["AnnotateSettings", "Summary", "annotate_corpus"]

"""Corpus-scale annotation: read records, classify them with a ``gliclass`` pipeline, write them back.

``io`` reads and writes records (with line numbers and rejects), ``engine`` annotates spans of
records in-process, ``ray_engine`` does the same on Ray Data, and ``runner`` ties them together
with the part file, the commit file and ``--resume``. Nothing here is imported by ``import spacy``.
"""

from .runner import AnnotateSettings, Summary, annotate_corpus

__all__ = ["AnnotateSettings", "Summary", "annotate_corpus"]

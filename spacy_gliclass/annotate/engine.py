"""Load the pipeline once and annotate spans of records with it: the local engine.

``annotate_span`` is the single function that turns a span into output and reject lines; the
Ray engine calls it too, on the same spans, so both engines write the same bytes (the model
sees identical batches, hence identical floats).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Errors, GLiClassError
from .io import Record, Source, Span, output_line

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass
class SpanResult:
    """What one span became: output lines, reject lines, and their counts."""

    span: Span
    output: str
    rejects: str
    written: int
    rejected: int


def load_pipeline(model: str, labels: Sequence[str] | None) -> tuple[Language, str]:
    """A pipeline with a gliclass pipe that has labels, loaded before any file is written, and the
    pipe's name. ``model``: a saved spaCy pipeline, a GLiClass checkpoint directory, a Hub id, a
    delta file, "floor", or "" for the default."""
    from ..architectures import get_shim
    from ..pipeline import is_saved_pipeline
    from ..pipeline import load_pipeline as load

    path = Path(model)
    if model and path.is_dir() and not is_saved_pipeline(path) and not (path / "config.json").is_file():
        raise GLiClassError(Errors.E044.format(model=model))
    nlp, pipe = load(model, labels=list(labels or []))
    if not pipe.labels:
        raise GLiClassError(Errors.E043.format(model=model or "<embedded default>"))
    get_shim(pipe.model).ensure_loaded()  # a bad checkpoint fails before any file is written
    return nlp, pipe.name


class Annotator:
    """Annotates spans of one source with one pipeline (one per process or Ray actor)."""

    def __init__(
        self,
        source: Source,
        model: str,
        labels: Sequence[str] | None,
        threshold: float | None,
        output_format: str,
    ) -> None:
        self.source = source
        self.nlp, self.name = load_pipeline(model, labels)
        pipe: Any = self.nlp.get_pipe(self.name)
        self.labels = list(pipe.labels)
        self.exclusive = bool(pipe.cfg["exclusive_classes"])
        self.threshold = float(pipe.cfg["threshold"] if threshold is None else threshold)
        self.output_format = output_format

    def annotate(self, span: Span) -> SpanResult:
        return annotate_span(self, self.source.read(span), span)

    def inputs(self, records: list[Record]) -> list[Any]:
        """What ``nlp.pipe`` reads for the records: their texts, or their docs for a .spacy input."""
        if self.source.format != "spacy":
            return [record.text for record in records]
        from spacy.tokens import Doc

        return [Doc(self.nlp.vocab).from_bytes(record.doc_bytes) for record in records]

    def record_line(self, record: Record, doc: Any) -> str:
        """The output line of an annotated record: its scores and chosen labels (or its doc)."""
        cats = {label: doc.cats[label] for label in self.labels if label in doc.cats}
        if self.exclusive:
            chosen = [max(cats, key=cats.__getitem__)] if cats else []
        else:
            chosen = [label for label, score in cats.items() if score >= self.threshold]
        if self.output_format == "spacy":
            return base64.b64encode(doc.to_bytes(exclude=["tensor"])).decode("ascii")
        if record.data is None:  # a .spacy input: its text is the record
            record.data = {"text": doc.text}
        return output_line(record, cats, chosen)


def annotate_span(annotator: Annotator, records: list[Record], span: Span) -> SpanResult:
    """Annotate the valid records of a span in one ``nlp.pipe`` buffer; reject the others."""
    valid = [record for record in records if record.error is None]
    docs = annotator.nlp.pipe(annotator.inputs(valid), batch_size=max(len(valid), 1))
    lines = [annotator.record_line(record, doc) for record, doc in zip(valid, docs, strict=True)]
    rejects = [record.reject_line() for record in records if record.error is not None]
    return SpanResult(span, _join(lines), _join(rejects), len(lines), len(rejects))


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


class LocalEngine:
    """Annotate spans in this process, in order."""

    def __init__(self, annotator: Annotator) -> None:
        self.annotator = annotator

    def run(self, spans: Iterable[Span]) -> Iterator[SpanResult]:
        for span in spans:
            yield self.annotator.annotate(span)

"""Readers and writers of ``annotate``: JSONL, CSV, plain text and ``.spacy`` DocBins.

An input is cut into *spans*: runs of consecutive records with their byte range, first line
number and first record index. A span can be re-read anywhere (another process, a Ray worker)
from the file alone, which is what lets both engines annotate exactly the same batches and lets
``--resume`` restart at a record boundary. Every input record becomes exactly one output line or
one reject line; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Errors, GLiClassError

FORMATS = ("jsonl", "csv", "txt", "spacy")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".spacy": "spacy"}
RAW_LIMIT = 1000  # characters of a rejected record kept in the rejects file


def detect_format(path: str | Path) -> str:
    """The format of a path from its suffix; anything unknown is plain text, one record a line."""
    return _SUFFIXES.get(Path(path).suffix.lower(), "txt")


@dataclass(frozen=True)
class Span:
    """Consecutive input records: ``n`` of them from record ``index`` (line ``line``, byte ``start``)."""

    index: int
    line: int
    start: int
    end: int
    n: int

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "line": self.line, "start": self.start, "end": self.end, "n": self.n}


@dataclass
class Record:
    """One input record: its payload and text, or the reason it was rejected."""

    index: int
    line: int
    data: dict[str, Any] | None = None
    text: str | None = None
    doc_bytes: bytes | None = None
    error: str | None = None
    raw: str = ""

    def reject_line(self) -> str:
        return json.dumps(
            {"line": self.line, "record": self.index, "reason": self.error, "raw": self.raw[:RAW_LIMIT]},
            ensure_ascii=False,
        )


class Source:
    """An input file: ``count`` its records, ``scan`` it into spans, ``read`` a span's records."""

    def __init__(self, path: str | Path, fmt: str | None = None, text_field: str = "text") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise GLiClassError(Errors.E040.format(path=self.path))
        self.format = fmt or detect_format(self.path)
        if self.format not in FORMATS:
            raise GLiClassError(Errors.E041.format(value=self.format, supported=", ".join(FORMATS)))
        self.text_field = text_field
        self.header: list[str] | None = None
        self._doc_bytes: list[bytes] | None = None
        self._body = 0  # byte offset of the first record (after a CSV header)
        if self.format == "csv":
            with self.path.open("rb") as f:
                _, _, end = next(_csv_records(f, 0, 1), (1, 0, 0))
                f.seek(0)
                first = f.read(end)
            try:
                text = first.decode("utf-8-sig")
            except UnicodeDecodeError as err:
                raise GLiClassError(Errors.E051.format(path=self.path, reason=_utf8_problem(err))) from err
            row = next(csv.reader(io.StringIO(text, newline="")), [])
            if text_field not in row:
                raise GLiClassError(Errors.E042.format(path=self.path, field=text_field, header=row))
            self.header, self._body = row, end

    # -- spans --------------------------------------------------------------------------------
    def _positions(self) -> Iterator[tuple[int, int, int]]:
        """(start byte, end byte, first line) of every record, without parsing it."""
        if self.format == "spacy":
            for i in range(len(self._docs())):
                yield i, i + 1, i + 1
            return
        with self.path.open("rb") as f:
            f.seek(self._body)
            line, pos = (2 if self.header is not None else 1), self._body
            if self.format == "csv":
                for first, start, end in _csv_records(f, pos, line):
                    yield start, end, first
                return
            for raw in f:
                yield pos, pos + len(raw), line
                pos += len(raw)
                line += 1

    def scan(self, batch_size: int, skip: int = 0) -> Iterator[Span]:
        """Spans of ``batch_size`` records, after the first ``skip`` records."""
        group: list[tuple[int, int, int]] = []
        index = 0
        for index, position in enumerate(self._positions()):
            if index < skip:
                continue
            group.append(position)
            if len(group) == batch_size:
                yield Span(index - batch_size + 1, group[0][2], group[0][0], group[-1][1], batch_size)
                group = []
        if group:
            yield Span(index - len(group) + 1, group[0][2], group[0][0], group[-1][1], len(group))

    def byte_end(self, span: Span) -> int:
        """Where in the file the bytes of ``span``'s records end (a DocBin is one blob: its end)."""
        return self.path.stat().st_size if self.format == "spacy" else span.end

    def count(self) -> int:
        """The number of records (for the progress bar's total)."""
        if self.format in ("jsonl", "txt"):
            with self.path.open("rb") as f:
                n, last = 0, b"\n"
                while block := f.read(1 << 20):
                    n += block.count(b"\n")
                    last = block[-1:]
                return n + (last != b"\n")
        return sum(1 for _ in self._positions())

    # -- records ------------------------------------------------------------------------------
    def read(self, span: Span) -> list[Record]:
        """The records of ``span``, parsed and validated (rejects carry their reason)."""
        if self.format == "spacy":
            docs = self._docs()
            return [Record(i, i + 1, doc_bytes=docs[i]) for i in range(span.index, span.index + span.n)]
        with self.path.open("rb") as f:
            f.seek(span.start)
            data = f.read(span.end - span.start)
        if self.format == "csv":
            return self._read_csv(data, span)
        records = []
        for k, raw in enumerate(data.split(b"\n")[: span.n]):
            record = Record(span.index + k, span.line + k)
            try:
                text = raw.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError as err:
                record.error, record.raw = _utf8_problem(err), repr(raw)
                records.append(record)
                continue
            record.raw = text
            if self.format == "txt":
                record.data, record.text = {"text": text}, text
                record.error = None if text.strip() else "blank line"
            else:
                self._parse_json(record, text)
            _check_text(record, self.text_field if self.format == "jsonl" else "text")
            records.append(record)
        return records

    def _parse_json(self, record: Record, text: str) -> None:
        if not text.strip():
            record.error = "blank line"
            return
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            record.error = f"invalid JSON: {err.msg} (column {err.colno})"
            return
        if not isinstance(value, dict):
            record.error = f"not a JSON object but {type(value).__name__}"
            return
        record.data = value
        if self.text_field not in value:
            record.error = f"missing field {self.text_field!r}"
            return
        record.text = value[self.text_field]

    def _read_csv(self, data: bytes, span: Span) -> list[Record]:
        assert self.header is not None
        records = []
        for k, (first, start, end) in enumerate(_csv_records(io.BytesIO(data), 0, span.line)):
            if k == span.n:
                break
            record = Record(span.index + k, first)
            try:
                chunk = data[start:end].decode("utf-8")
            except UnicodeDecodeError as err:
                record.error, record.raw = _utf8_problem(err), repr(data[start:end])
                records.append(record)
                continue
            record.raw = chunk.rstrip("\r\n")
            rows = list(csv.reader(io.StringIO(chunk, newline="")))
            if _ends_quoted(data[start:end]):
                record.error = "malformed CSV record (a quoted field is never closed)"
            elif len(rows) != 1:
                record.error = "malformed CSV record"
            elif len(rows[0]) != len(self.header):
                record.error = f"expected {len(self.header)} fields, got {len(rows[0])}"
            else:
                record.data = dict(zip(self.header, rows[0], strict=True))
                record.text = record.data[self.text_field]
                _check_text(record, self.text_field)
            records.append(record)
        return records

    def _docs(self) -> list[bytes]:
        """The serialised docs of a DocBin (the format cannot be streamed: it is one blob)."""
        if self._doc_bytes is None:
            from spacy.tokens import DocBin
            from spacy.vocab import Vocab

            vocab = Vocab()
            try:
                docbin = DocBin(store_user_data=True).from_disk(self.path)
            except Exception as err:  # noqa: BLE001 - any parse failure means a corrupt file
                raise GLiClassError(Errors.E003.format(path=self.path, reason=err)) from err
            self._doc_bytes = [doc.to_bytes() for doc in docbin.get_docs(vocab)]
        return self._doc_bytes


def _check_text(record: Record, field: str) -> None:
    if record.error is not None:
        return
    if not isinstance(record.text, str):
        record.error = f"field {field!r} is {type(record.text).__name__}, not a string"
    elif not record.text.strip():
        record.error = f"field {field!r} is empty"


def _utf8_problem(err: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 ({err.reason} at byte {err.start})"


def _csv_records(f: Any, pos: int, line: int) -> Iterator[tuple[int, int, int]]:
    """(first line, start byte, end byte) of each CSV record, read the way Python's ``csv`` reads
    them: a quote opens a quoted field only at the start of a field (``5" screen`` is plain text),
    a doubled quote inside one is a quote, and a record ends at the first newline outside one."""
    start, first, quoted = pos, line, False
    for raw in f:
        if quoted or b'"' in raw:
            quoted = _still_quoted(raw, quoted)
        pos += len(raw)
        line += 1
        if not quoted:
            yield first, start, pos
            start, first = pos, line
    if pos > start:
        yield first, start, pos


def _ends_quoted(data: bytes) -> bool:
    """Whether a record runs to the end of the file inside a quoted field (csv would swallow the rest)."""
    quoted = False
    for raw in data.splitlines(keepends=True):
        quoted = _still_quoted(raw, quoted)
    return quoted


def _still_quoted(raw: bytes, quoted: bool) -> bool:
    """Whether a physical line that starts inside (``quoted``) or outside a quoted field ends inside one."""
    field_start = not quoted
    i, n = 0, len(raw)
    while i < n:
        char = raw[i : i + 1]
        if quoted:
            if char == b'"':
                if raw[i + 1 : i + 2] == b'"':
                    i += 1  # an escaped quote
                else:
                    quoted = False
        elif char == b",":
            field_start = True
            i += 1
            continue
        elif char == b'"' and field_start:
            quoted = True
        field_start = False
        i += 1
    return quoted


def read_labels_file(path: Path) -> list[str]:
    """Labels from a file: a JSON list of strings, or one label a line (blank lines skipped), so
    that labels may contain commas."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise GLiClassError(Errors.E055.format(path=path, reason=err.strerror)) from err
    except UnicodeDecodeError as err:
        raise GLiClassError(Errors.E055.format(path=path, reason=_utf8_problem(err))) from err
    if not text.lstrip().startswith("["):
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        labels = json.loads(text)
    except json.JSONDecodeError as err:
        raise GLiClassError(Errors.E055.format(path=path, reason=f"invalid JSON: {err}")) from err
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise GLiClassError(Errors.E055.format(path=path, reason="the JSON is not a list of strings"))
    return labels


def output_line(record: Record, cats: dict[str, float], labels: list[str]) -> str:
    """The JSONL output of an annotated record: the input record plus ``cats`` and ``labels``."""
    data = dict(record.data) if record.data is not None else {}
    data["cats"], data["labels"] = cats, labels
    return json.dumps(data, ensure_ascii=False)

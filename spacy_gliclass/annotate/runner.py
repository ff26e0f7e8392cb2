"""Run an annotation end to end: part file, commit file, ``--resume``, progress bar, summary.

Crash safety: output lines go to ``OUTPUT.part`` and reject lines to ``OUTPUT.rejects.jsonl``; after
each span both are flushed and fsynced, *then* ``OUTPUT.progress.json`` is replaced atomically with
the new record count and both byte sizes. A resumed run truncates both files to the committed
sizes and skips the committed records, so a record is never lost nor written twice. Because spans
always start at a multiple of ``batch_size``, a resumed run feeds the model the same batches as an
uninterrupted one and writes the same bytes. The part file becomes OUTPUT with ``os.replace``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import Errors, GLiClassError
from ..validation import check_int, check_threshold, check_writable
from .engine import Annotator, LocalEngine
from .io import Source
from .settings import AnnotateSettings

_OUTPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".spacy": "spacy"}
# Settings a resumed run must share with the interrupted one (the engine and workers may change).
_RESUME_KEYS = ("input", "model", "labels", "threshold", "text_field", "batch_size")


@dataclass
class Summary:
    read: int
    written: int
    rejected: int
    seconds: float
    output: Path
    rejects: Path
    resumed_from: int = 0

    @property
    def docs_per_second(self) -> float:
        return (self.read - self.resumed_from) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        lines = [
            f"Read {self.read} records: wrote {self.written} to {self.output}, rejected {self.rejected}"
            + (f" (see {self.rejects})" if self.rejected else "")
            + ".",
            f"{self.read - self.resumed_from} records in {self.seconds:.1f} s ({self.docs_per_second:.1f} docs/s)"
            + (f"; resumed after record {self.resumed_from}." if self.resumed_from else "."),
        ]
        return "\n".join(lines)


@dataclass
class _State:
    """The commit file's content: what is durably in the part and rejects files."""

    settings: dict[str, Any]
    records: int = 0
    written: int = 0
    rejected: int = 0
    part_bytes: int = 0
    rejects_bytes: int = 0
    input_bytes: int = 0  # the input bytes the committed records came from, and their sha256
    input_sha256: str = ""


class _InputDigest:
    """sha256 of the input bytes annotated so far. ``--resume`` compares it with the committed one,
    so an input edited after the interruption is refused instead of mixing old and new records
    (records appended after the annotated part are fine: they are simply annotated next)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._sha = hashlib.sha256()

    def advance(self, end: int) -> None:
        with self.path.open("rb") as f:
            f.seek(self.size)
            while self.size < end and (block := f.read(min(1 << 20, end - self.size))):
                self._sha.update(block)
                self.size += len(block)

    @property
    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _paths(output: Path) -> tuple[Path, Path, Path]:
    base = str(output)
    return Path(base + ".part"), Path(base + ".progress.json"), Path(base + ".rejects.jsonl")


def _write_state(path: Path, state: _State) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state)), encoding="utf8")
    os.replace(tmp, path)


def _read_state(progress: Path, output: Path, part: Path) -> _State:
    try:
        state = _State(**json.loads(progress.read_text(encoding="utf8")))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:  # TypeError: not the expected keys
        raise GLiClassError(Errors.E054.format(output=output, progress=progress, reason=err, part=part)) from err
    counts = (state.records, state.written, state.rejected, state.part_bytes, state.rejects_bytes)
    if not isinstance(state.settings, dict) or not all(isinstance(n, int) and n >= 0 for n in counts):
        reason = "unexpected values"
        raise GLiClassError(Errors.E054.format(output=output, progress=progress, reason=reason, part=part))
    return state


def _open_state(settings: AnnotateSettings, fingerprint: dict[str, Any], digest: _InputDigest) -> _State:
    """The committed state to continue from (resume), or a fresh one; files truncated to match."""
    part, progress, rejects = _paths(settings.output)
    if progress.is_file() and part.is_file():
        state = _read_state(progress, settings.output, part)
        if not settings.resume:
            raise GLiClassError(
                Errors.E045.format(output=settings.output, done=state.records, progress=progress, part=part)
            )
        for key in _RESUME_KEYS:
            if state.settings.get(key) != fingerprint[key]:
                raise GLiClassError(
                    Errors.E046.format(
                        output=settings.output,
                        key=key,
                        before=state.settings.get(key),
                        now=fingerprint[key],
                        progress=progress,
                    )
                )
        digest.advance(state.input_bytes)
        if (digest.size, digest.hexdigest) != (state.input_bytes, state.input_sha256):
            raise GLiClassError(
                Errors.E053.format(
                    output=settings.output,
                    input=settings.input,
                    records=state.records,
                    n_bytes=state.input_bytes,
                    progress=progress,
                )
            )
        for path, size in ((part, state.part_bytes), (rejects, state.rejects_bytes)):
            with path.open("ab") as f:
                f.truncate(size)
        return state
    state = _State(settings=fingerprint, input_sha256=digest.hexdigest)
    part.write_bytes(b"")
    rejects.write_bytes(b"")
    _write_state(progress, state)
    return state


def _make_engine(settings: AnnotateSettings, source: Source, output_format: str) -> Any:
    if settings.engine == "local":
        annotator = Annotator(source, settings.model, settings.labels, settings.threshold, output_format)
        return LocalEngine(annotator)
    if settings.engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine(settings, output_format)
    raise GLiClassError(Errors.E050.format(value=settings.engine))


def _commit_docbin(part: Path, output: Path) -> None:
    """Turn the part file (one serialised Doc a line) into a DocBin. DocBin is a single blob, so
    this step holds the output's docs in memory once, at the end."""
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab, docbin = Vocab(), DocBin(store_user_data=True)
    with part.open("r", encoding="ascii") as f:
        for line in f:
            docbin.add(Doc(vocab).from_bytes(base64.b64decode(line)))
    tmp = output.with_name(output.name + ".tmp")
    docbin.to_disk(tmp)
    os.replace(tmp, output)
    part.unlink()


def annotate_corpus(settings: AnnotateSettings) -> Summary:
    """Annotate ``settings.input`` into ``settings.output``; resumable, streaming, order-preserving."""
    from tqdm import tqdm

    # Everything that can be checked without the model is checked before it loads.
    for name in ("batch_size", "workers"):
        check_int(getattr(settings, name), name, 1)
    if settings.threshold is not None:
        check_threshold(settings.threshold)
    output_format = _OUTPUT_FORMATS.get(settings.output.suffix.lower())
    if output_format is None:
        raise GLiClassError(Errors.E048.format(path=settings.output))
    source = Source(settings.input, text_field=settings.text_field)
    part, progress, rejects = _paths(settings.output)
    for what, path in (
        ("output", settings.output),
        ("part file", part),
        ("progress file", progress),
        ("rejects file", rejects),
    ):
        if path.resolve() == settings.input.resolve():
            raise GLiClassError(Errors.E052.format(output=settings.output, what=what, path=path))
    check_writable(settings.output)
    fingerprint = {
        "input": str(settings.input.resolve()),
        "model": settings.model,
        "labels": settings.labels,
        "threshold": settings.threshold,
        "text_field": settings.text_field,
        "batch_size": settings.batch_size,
    }
    engine = _make_engine(settings, source, output_format)  # load the model before touching any file
    digest = _InputDigest(settings.input)
    state = _open_state(settings, fingerprint, digest)
    resumed_from = state.records
    started = time.perf_counter()
    bar = tqdm(total=source.count(), initial=state.records, unit="doc", disable=not settings.progress, smoothing=0.1)
    with part.open("ab") as out, rejects.open("ab") as rej, bar:
        for result in engine.run(source.scan(settings.batch_size, skip=state.records)):
            out.write(result.output.encode("utf8"))
            rej.write(result.rejects.encode("utf8"))
            for f in (out, rej):
                f.flush()
                os.fsync(f.fileno())
            state.records += result.span.n
            state.written += result.written
            state.rejected += result.rejected
            state.part_bytes, state.rejects_bytes = out.tell(), rej.tell()
            digest.advance(source.byte_end(result.span))
            state.input_bytes, state.input_sha256 = digest.size, digest.hexdigest
            _write_state(progress, state)
            bar.update(result.span.n)
    if output_format == "spacy":
        _commit_docbin(part, settings.output)
    else:
        os.replace(part, settings.output)
    progress.unlink()
    return Summary(
        read=state.records,
        written=state.written,
        rejected=state.rejected,
        seconds=time.perf_counter() - started,
        output=settings.output,
        rejects=rejects,
        resumed_from=resumed_from,
    )

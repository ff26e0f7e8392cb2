"""The Ray engine: the same spans as the local engine, annotated by a pool of Ray Data actors.

The driver only cuts the input into spans (byte ranges, a few ints each); every actor loads the
pipeline once and re-reads its spans from the input file, so the input path and the model must be
visible from every node (a shared filesystem on a multi-node cluster). Results come back in span
order (``preserve_order``) and the runner commits them exactly as it does for the local engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import Errors, GLiClassError
from .engine import Annotator, SpanResult
from .io import Source, Span
from .settings import AnnotateSettings

MAX_BLOCKS = 2000  # spans per Ray block grow beyond this many spans, to bound the driver's metadata


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra, not only ray core
    except ImportError as err:
        raise GLiClassError(Errors.E047) from err
    return ray


class SpanPredictor:
    """The Ray Data stateful UDF: one pipeline per actor, one result row per span row."""

    def __init__(
        self,
        source: dict[str, Any],
        model: str,
        labels: list[str] | None,
        threshold: float | None,
        output_format: str,
    ) -> None:
        self.annotator = Annotator(Source(**source), model, labels, threshold, output_format)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        columns: dict[str, list[Any]] = {"output": [], "rejects": [], "written": [], "rejected": []}
        for row in range(len(batch["index"])):
            span = Span(**{key: int(batch[key][row]) for key in ("index", "line", "start", "end", "n")})
            result = self.annotator.annotate(span)
            columns["output"].append(result.output)
            columns["rejects"].append(result.rejects)
            columns["written"].append(result.written)
            columns["rejected"].append(result.rejected)
        out = {key: np.asarray(batch[key]) for key in ("index", "line", "start", "end", "n")}
        out.update({key: np.asarray(values, dtype=object) for key, values in columns.items()})
        return out


class RayEngine:
    """Annotate spans on Ray Data with ``workers`` actors; results in input order."""

    def __init__(self, settings: AnnotateSettings, output_format: str) -> None:
        self.ray = _import_ray()
        self.settings = settings
        self.output_format = output_format
        # Load the pipeline once here too: a bad --model or missing labels fails before any worker starts.
        source = Source(settings.input, text_field=settings.text_field)
        Annotator(source, settings.model, settings.labels, settings.threshold, output_format)

    def _num_gpus(self) -> float:
        if self.settings.num_gpus is not None:
            return self.settings.num_gpus
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0

    def run(self, spans: Iterable[Span]) -> Iterator[SpanResult]:
        ray, settings = self.ray, self.settings
        items = [span.to_dict() for span in spans]
        if not items:
            return
        if not ray.is_initialized():
            ray.init(address=settings.ray_address, log_to_driver=False, include_dashboard=False)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        source = {"path": str(settings.input), "text_field": settings.text_field}
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS)).map_batches(
            SpanPredictor,
            fn_constructor_kwargs={
                "source": source,
                "model": settings.model,
                "labels": settings.labels,
                "threshold": settings.threshold,
                "output_format": self.output_format,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=settings.workers),
            num_gpus=self._num_gpus(),
        )
        expected = iter(items)
        for row in dataset.iter_rows():
            span = Span(**{key: int(row[key]) for key in ("index", "line", "start", "end", "n")})
            if span.to_dict() != next(expected):  # order is what makes resume and byte-equality work
                raise GLiClassError(Errors.E057.format(span=span))
            yield SpanResult(span, row["output"], row["rejects"], int(row["written"]), int(row["rejected"]))

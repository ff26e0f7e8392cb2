"""The ``gliclass`` pipe: zero-shot (and trainable) text classification into ``doc.cats``.

Follows spaCy's ``textcat_multilabel`` contract. The pipe knows spaCy (docs, examples, labels,
config, scoring) and hands token ids to the torch model through ``batching``; it never touches
torch internals beyond logits and a loss.

Which labels a doc is scored against, first match wins: the ``labels`` argument of a call
(``nlp.pipe(texts, component_cfg={"gliclass": {"labels": [...]}})``), the doc's own labels
(``doc._.gliclass_labels``, or a ``{"labels": [...]}`` context given with ``as_tuples=True``), the
labels of the reference doc's gold ``cats`` (training), the pipe's ``labels``. In-context
``examples`` (``[{"text": ..., "labels": [...]}]``) are chosen the same way: the call's, the doc's
(``doc._.gliclass_examples`` or an ``"examples"`` context), the pipe's.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import minibatch
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer

from . import batching
from .architectures import get_shim
from .errors import Errors, GLiClassError, LabelError
from .fewshot import check_examples, model_examples
from .modeling import validate_labels
from .modeling.processor import FewShotExample
from .settings import PipeSettings, validate_cfg
from .training.losses import FocalLoss

DOC_LABELS_EXTENSION = "gliclass_labels"
DOC_EXAMPLES_EXTENSION = "gliclass_examples"


def install_extensions() -> None:
    """Register ``doc._.gliclass_labels`` and ``doc._.gliclass_examples`` (per doc) once; never forced."""
    for name in (DOC_LABELS_EXTENSION, DOC_EXAMPLES_EXTENSION):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def doc_setting(doc: Doc, extension: str, key: str) -> Any:
    """A doc's own labels or examples: its extension attribute, else its ``as_tuples`` context."""
    own = doc._.get(extension)
    context = getattr(doc, "_context", None)
    if own is None and isinstance(context, dict):
        own = context.get(key, context.get(extension))
    return own


class GLiClassCategorizer(TrainablePipe):
    """Scores every label of a doc with a GLiClass model and writes the scores to ``doc.cats``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "gliclass",
        *,
        loss: Callable | str | None = None,
        scorer: Callable | None = None,
        **settings: Any,
    ) -> None:
        """``settings``: any of :class:`~spacy_gliclass.settings.PipeSettings`' fields; the rest
        take its defaults. ``loss``: a callable ``(logits, targets, mask) -> loss`` (the config's
        ``[components.gliclass.loss]`` block); default: focal loss."""
        install_extensions()
        unknown = sorted(set(settings) - set(PipeSettings.names()))
        if unknown:
            raise GLiClassError(Errors.E119.format(keys=unknown, known=", ".join(PipeSettings.names())))
        if isinstance(loss, str) or (loss is not None and not callable(loss)):
            raise GLiClassError(Errors.E120.format(value=loss))
        self.vocab = vocab
        self.model = model
        self.name = name
        self.loss = loss if loss is not None else FocalLoss()
        self.scorer = scorer
        self.cfg: dict[str, Any] = validate_cfg({**PipeSettings().to_cfg(), **settings})

    # -- serialisation ------------------------------------------------------------------------
    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = ()) -> "GLiClassCategorizer":
        super().from_bytes(bytes_data, exclude=exclude)
        return self._check_loaded_cfg()

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "GLiClassCategorizer":
        super().from_disk(path, exclude=exclude)
        return self._check_loaded_cfg()

    def _check_loaded_cfg(self) -> "GLiClassCategorizer":
        """spaCy merges the saved ``cfg`` into ours unchecked: give it the checks a config gets."""
        try:
            self.cfg = validate_cfg(self.cfg)
        except GLiClassError as err:
            raise GLiClassError(Errors.E029.format(name=self.name, reason=err)) from err
        return self

    # -- labels -------------------------------------------------------------------------------
    @property
    def labels(self) -> tuple[str, ...]:
        """The labels every doc is scored against unless a call or the doc says otherwise."""
        return tuple(self.cfg["labels"])

    @labels.setter
    def labels(self, value: Sequence[str]) -> None:
        self.cfg["labels"] = validate_labels(value)

    @property
    def label_data(self) -> list[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add a label; 1 if it was added, 0 if it was there already. No retraining needed."""
        if label in self.cfg["labels"]:
            return 0
        self.cfg["labels"] = validate_labels([*self.cfg["labels"], label])
        return 1

    def _labels_for(self, doc: Doc, call_labels: list[str] | None = None) -> list[str]:
        if call_labels is not None:
            return call_labels
        own = doc_setting(doc, DOC_LABELS_EXTENSION, "labels")
        if own is not None:
            return validate_labels(own)
        if not self.cfg["labels"]:
            raise LabelError(Errors.E019.format(name=self.name))
        return self.cfg["labels"]

    def _examples_for(
        self, doc: Doc, shared: tuple[FewShotExample, ...], from_call: bool
    ) -> tuple[FewShotExample, ...]:
        """The examples a doc is scored with: ``shared`` (the call's) if the call gave some, else the
        doc's own, else ``shared`` (the pipe's), which is converted once per buffer, not per doc."""
        if from_call:
            return shared
        own = doc_setting(doc, DOC_EXAMPLES_EXTENSION, "examples")
        return shared if own is None else model_examples(check_examples(own), self._model_text)

    def _model_text(self, label: str) -> str:
        """What the model reads for a label: its description if one was given, else its name."""
        return self.cfg["label_descriptions"].get(label, label)

    # -- prediction ---------------------------------------------------------------------------
    @property
    def settings(self) -> PipeSettings:
        """The pipe's settings as one object (a copy: change them through ``cfg`` or ``labels``)."""
        return PipeSettings.from_cfg(self.cfg)

    def _score_docs(
        self, docs: Sequence[Doc], labels: list[str] | None, examples: list[dict[str, Any]] | None
    ) -> list[tuple[list[str], np.ndarray]]:
        shim = get_shim(self.model)
        shim.ensure_loaded()
        processor = shim.processor
        label_sets = [self._labels_for(doc, labels) for doc in docs]
        shared = model_examples(examples if examples is not None else self.cfg["examples"], self._model_text)
        requests = [
            batching.Request(
                ids,
                [self._model_text(label) for label in label_set],
                self._examples_for(doc, shared, examples is not None),
            )
            for ids, label_set, doc in zip(
                processor.tokenize_texts([doc.text for doc in docs]), label_sets, docs, strict=True
            )
        ]

        def run(batch: Any) -> np.ndarray:
            return self.model.predict(batch).logits.float().cpu().numpy()

        scores = batching.score(requests, processor, self.settings, run)
        return list(zip(label_sets, scores, strict=True))

    @staticmethod
    def _columns(label_sets: Iterable[Sequence[str]]) -> list[str]:
        return list(dict.fromkeys(label for label_set in label_sets for label in label_set))

    def predict(
        self,
        docs: Iterable[Doc],
        *,
        labels: Sequence[str] | None = None,
        examples: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """(n_docs × n_labels) scores; NaN where a doc was not scored for a label (per-doc labels).
        ``labels`` / ``examples``: this call's, for every doc (see the module docstring)."""
        docs = list(docs)
        call_labels = validate_labels(labels) if labels is not None else None
        if not docs:
            return np.zeros((0, len(call_labels if call_labels is not None else self.labels)), dtype="float32")
        call_examples = check_examples(examples) if examples is not None else None
        scored = self._score_docs(docs, call_labels, call_examples)
        columns = self._columns(labels for labels, _ in scored)
        index = {label: i for i, label in enumerate(columns)}
        out = np.full((len(docs), len(columns)), np.nan, dtype="float32")
        for row, (doc_labels, scores) in enumerate(scored):
            out[row, [index[label] for label in doc_labels]] = scores
        return out

    def set_annotations(self, docs: Iterable[Doc], scores: np.ndarray, *, labels: Sequence[str] | None = None) -> None:
        """Write each doc's scores to ``doc.cats``, keeping any other component's cats. ``labels``:
        the ones ``predict`` was given."""
        docs = list(docs)
        call_labels = validate_labels(labels) if labels is not None else None
        columns = self._columns(self._labels_for(doc, call_labels) for doc in docs)
        for doc, row in zip(docs, scores, strict=True):
            doc.cats.update({label: float(v) for label, v in zip(columns, row, strict=True) if not np.isnan(v)})

    def __call__(
        self, doc: Doc, *, labels: Sequence[str] | None = None, examples: Sequence[dict[str, Any]] | None = None
    ) -> Doc:
        return next(self.pipe([doc], labels=labels, examples=examples))

    def pipe(
        self,
        stream: Iterable[Doc],
        *,
        batch_size: int = 128,
        labels: Sequence[str] | None = None,
        examples: Sequence[dict[str, Any]] | None = None,
    ) -> Iterator[Doc]:
        """Annotate docs in buffers of ``batch_size``; order is kept, inputs are length-sorted inside."""
        error_handler = self.get_error_handler()
        # Checked once, before the first buffer: a bad label list fails before any work.
        labels = validate_labels(labels) if labels is not None else None
        examples = check_examples(examples) if examples is not None else None
        for docs in minibatch(stream, size=batch_size):
            try:
                self.set_annotations(docs, self.predict(docs, labels=labels, examples=examples), labels=labels)
                yield from docs
            except Exception as err:  # noqa: BLE001 - spaCy's error handler decides
                error_handler(self.name, self, docs, err)

    # -- training -----------------------------------------------------------------------------
    def _candidates(self, example: Example) -> tuple[list[str], list[float]]:
        """Candidate labels of a training example and their gold values."""
        gold = example.reference.cats
        if example.reference._.get(DOC_LABELS_EXTENSION):
            labels = validate_labels(example.reference._.get(DOC_LABELS_EXTENSION))
        elif gold:
            labels = list(gold)
        else:
            labels = list(self.labels)
        return labels, [float(gold.get(label, 0.0)) for label in labels]

    def _loss_on(
        self, examples: Sequence[Example], candidates: Sequence[tuple[list[str], list[float]]], is_train: bool
    ) -> torch.Tensor:
        """The loss of a batch, planned as inference plans it: a long text is read in windows, each
        an input with the doc's gold labels; a label set too long for one input, in groups."""
        shim = get_shim(self.model)
        shim.ensure_loaded()
        processor = shim.processor
        text_ids = processor.tokenize_texts([eg.predicted.text for eg in examples])
        requests = [
            batching.Request(ids, [self._model_text(label) for label in labels])
            for ids, (labels, _) in zip(text_ids, candidates, strict=True)
        ]
        tasks = batching.plan(requests, processor, self.settings)
        batch = processor.collate([t.sequence for t in tasks], [t.labels for t in tasks])
        output, _ = self.model(batch, is_train=is_train)
        targets = torch.zeros_like(output.logits)
        for row, (task, start) in enumerate(zip(tasks, batching.label_offsets(tasks), strict=True)):
            gold = candidates[task.request][1][start : start + len(task.labels)]
            targets[row, : len(gold)] = torch.tensor(gold, dtype=targets.dtype)
        return self.loss(output.logits, targets, output.label_mask)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """One gradient step on a batch; each example is scored against its own candidate labels."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "GLiClassCategorizer.update")
        pairs = [(eg, cands) for eg in examples if (cands := self._candidates(eg))[0]]
        if not pairs:
            return losses
        loss = self._loss_on([eg for eg, _ in pairs], [cands for _, cands in pairs], is_train=True)
        loss.backward()
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += float(loss.detach())
        return losses

    def get_loss(self, examples: Iterable[Example], scores: np.ndarray) -> tuple[float, np.ndarray]:
        """The configured loss of ``scores`` (from ``predict``) and its gradient w.r.t. the scores."""
        examples = list(examples)
        validate_examples(examples, "GLiClassCategorizer.get_loss")
        columns = self._columns(self._labels_for(eg.predicted) for eg in examples)
        probs = torch.tensor(np.nan_to_num(scores, nan=0.5), dtype=torch.float32, requires_grad=True)
        mask = torch.tensor(~np.isnan(scores), dtype=torch.float32)
        targets = torch.tensor([[float(eg.reference.cats.get(c, 0.0)) for c in columns] for eg in examples])
        logits = torch.logit(probs.clamp(1e-6, 1 - 1e-6))
        loss = self.loss(logits, targets, mask)
        loss.backward()
        return float(loss.detach()), probs.grad.numpy()

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Language | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Load the model and set the labels: from ``labels``, the config, or the gold ``cats`` (if any)."""
        validate_get_examples(get_examples, "GLiClassCategorizer.initialize")
        if labels is not None:
            self.labels = labels
        elif not self.labels:
            # Zero-shot pipes may get their labels per call or per doc only: no labels is allowed.
            found = self._columns(eg.reference.cats for eg in islice(get_examples(), 10_000))
            if found:
                self.labels = found
        get_shim(self.model).ensure_loaded()

    # -- scoring ------------------------------------------------------------------------------
    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """``cats_*`` scores through the configured scorer (threshold and labels from the pipe)."""
        examples = list(examples)
        validate_examples(examples, "GLiClassCategorizer.score")
        exclusive = self.cfg["exclusive_classes"]
        kwargs.setdefault("labels", self.labels)
        kwargs.setdefault("multi_label", not exclusive)
        kwargs.setdefault("threshold", 0.0 if exclusive else self.cfg["threshold"])
        return self.scorer(examples, **kwargs)

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

import warnings
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
from .fewshot import check_example_weight, check_examples, model_examples
from .modeling import validate_labels
from .modeling.processor import FewShotExample
from .settings import PipeSettings
from .training.losses import LOSSES, compute_loss
from .validation import check_float, check_int, check_threshold, check_type

DOC_LABELS_EXTENSION = "gliclass_labels"
DOC_EXAMPLES_EXTENSION = "gliclass_examples"
AGGREGATIONS = ("max", "mean")
CFG_KEYS = (
    "labels",
    "label_descriptions",
    "exclusive_classes",
    "threshold",
    "prompt",
    "batch_size",
    "max_batch_tokens",
    "window_size",
    "window_overlap",
    "aggregation",
    "loss",
    "focal_alpha",
    "focal_gamma",
)


def install_extensions() -> None:
    """Register ``doc._.gliclass_labels`` and ``doc._.gliclass_examples`` (per doc) once; never forced."""
    for name in (DOC_LABELS_EXTENSION, DOC_EXAMPLES_EXTENSION):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def validate_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    """The pipe's settings, checked and normalised. The one check for both a new pipe and a loaded
    one: a saved pipe's ``cfg`` file is plain JSON that spaCy's config validation never sees."""
    missing = [key for key in CFG_KEYS if key not in cfg]
    if missing:
        raise GLiClassError(Errors.E030.format(keys=missing))
    labels = check_type(cfg["labels"], "labels", list | tuple, "a list of strings")
    labels = validate_labels(labels) if labels else []
    descriptions = check_type(cfg["label_descriptions"], "label_descriptions", dict, "a dict of label → text")
    if descriptions:
        validate_labels(list(descriptions))
        validate_labels(list(descriptions.values()))
        unknown = [key for key in descriptions if key not in labels]
        if labels and unknown:
            warnings.warn(Errors.W002.format(keys=unknown, labels=labels), stacklevel=3)
    for setting, supported in (("aggregation", AGGREGATIONS), ("loss", LOSSES)):
        if cfg[setting] not in supported:
            raise GLiClassError(Errors.E016.format(setting=setting, supported=supported, value=cfg[setting]))
    window_size = check_int(cfg["window_size"], "window_size", 0)
    window_overlap = check_int(cfg["window_overlap"], "window_overlap", 0)
    if window_size and window_overlap >= window_size:
        raise GLiClassError(Errors.E018.format(overlap=window_overlap, size=window_size))
    return {
        "labels": labels,
        "label_descriptions": dict(descriptions),
        "exclusive_classes": check_type(cfg["exclusive_classes"], "exclusive_classes", bool, "true or false"),
        "threshold": check_threshold(cfg["threshold"]),
        "prompt": check_type(cfg["prompt"], "prompt", str, "a string"),
        # Pipelines saved before examples existed have neither key.
        "examples": check_examples(cfg.get("examples", []), labels),
        "example_weight": check_example_weight(cfg.get("example_weight", 0.5)),
        "batch_size": check_int(cfg["batch_size"], "batch_size", 1),
        "max_batch_tokens": check_int(cfg["max_batch_tokens"], "max_batch_tokens", 1),
        "window_size": window_size,
        "window_overlap": window_overlap,
        "aggregation": cfg["aggregation"],
        "loss": cfg["loss"],
        "focal_alpha": check_float(cfg["focal_alpha"], "focal_alpha"),  # < 0 turns alpha off
        "focal_gamma": check_float(cfg["focal_gamma"], "focal_gamma"),
    }


class GLiClassCategorizer(TrainablePipe):
    """Scores every label of a doc with a GLiClass model and writes the scores to ``doc.cats``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "gliclass",
        *,
        labels: Sequence[str] = (),
        label_descriptions: dict[str, str] | None = None,
        exclusive_classes: bool = False,
        threshold: float = 0.5,
        prompt: str = "",
        examples: Sequence[dict[str, Any]] = (),
        example_weight: float = 0.5,
        batch_size: int = 8,
        max_batch_tokens: int = 4096,
        window_size: int = 0,
        window_overlap: int = 0,
        aggregation: str = "max",
        loss: str = "focal",
        focal_alpha: float = 0.5,
        focal_gamma: float = 2.0,
        scorer: Callable | None = None,
    ) -> None:
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self._call_labels: list[str] | None = None
        self._call_examples: list[dict[str, Any]] | None = None
        self.cfg: dict[str, Any] = validate_cfg(
            {
                "labels": labels,
                "label_descriptions": dict(label_descriptions or {}),
                "exclusive_classes": exclusive_classes,
                "threshold": threshold,
                "prompt": prompt,
                "examples": examples,
                "example_weight": example_weight,
                "batch_size": batch_size,
                "max_batch_tokens": max_batch_tokens,
                "window_size": window_size,
                "window_overlap": window_overlap,
                "aggregation": aggregation,
                "loss": loss,
                "focal_alpha": focal_alpha,
                "focal_gamma": focal_gamma,
            }
        )

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

    def _labels_for(self, doc: Doc) -> list[str]:
        if self._call_labels is not None:
            return self._call_labels
        own = doc._.get(DOC_LABELS_EXTENSION)
        context = getattr(doc, "_context", None)
        if own is None and isinstance(context, dict):
            own = context.get("labels", context.get(DOC_LABELS_EXTENSION))
        if own is not None:
            return validate_labels(own)
        if not self.cfg["labels"]:
            raise LabelError(Errors.E019.format(name=self.name))
        return self.cfg["labels"]

    def _examples_for(self, doc: Doc, shared: tuple[FewShotExample, ...]) -> tuple[FewShotExample, ...]:
        """The examples a doc is scored with: ``shared`` (the call's) if the call gave some, else the
        doc's own, else ``shared`` (the pipe's), which is converted once per buffer, not per doc."""
        if self._call_examples is not None:
            return shared
        own = doc._.get(DOC_EXAMPLES_EXTENSION)
        context = getattr(doc, "_context", None)
        if own is None and isinstance(context, dict):
            own = context.get("examples", context.get(DOC_EXAMPLES_EXTENSION))
        return shared if own is None else model_examples(check_examples(own), self._model_text)

    def _model_text(self, label: str) -> str:
        """What the model reads for a label: its description if one was given, else its name."""
        return self.cfg["label_descriptions"].get(label, label)

    # -- prediction ---------------------------------------------------------------------------
    @property
    def settings(self) -> PipeSettings:
        """The pipe's settings as one object (a copy: change them through ``cfg`` or ``labels``)."""
        return PipeSettings.from_cfg(self.cfg)

    def _score_docs(self, docs: Sequence[Doc]) -> list[tuple[list[str], np.ndarray]]:
        shim = get_shim(self.model)
        shim.ensure_loaded()
        processor = shim.processor
        label_sets = [self._labels_for(doc) for doc in docs]
        shared = self._call_examples if self._call_examples is not None else self.cfg["examples"]
        shared = model_examples(shared, self._model_text)
        requests = [
            batching.Request(ids, [self._model_text(label) for label in label_set], self._examples_for(doc, shared))
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

    def predict(self, docs: Iterable[Doc]) -> np.ndarray:
        """(n_docs × n_labels) scores; NaN where a doc was not scored for a label (per-doc labels)."""
        docs = list(docs)
        if not docs:
            return np.zeros((0, len(self.labels)), dtype="float32")
        scored = self._score_docs(docs)
        columns = self._columns(labels for labels, _ in scored)
        index = {label: i for i, label in enumerate(columns)}
        out = np.full((len(docs), len(columns)), np.nan, dtype="float32")
        for row, (labels, scores) in enumerate(scored):
            out[row, [index[label] for label in labels]] = scores
        return out

    def set_annotations(self, docs: Iterable[Doc], scores: np.ndarray) -> None:
        """Write each doc's scores to ``doc.cats``, keeping any other component's cats."""
        docs = list(docs)
        columns = self._columns(self._labels_for(doc) for doc in docs)
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
        call_labels = validate_labels(labels) if labels is not None else None
        call_examples = check_examples(examples) if examples is not None else None
        for docs in minibatch(stream, size=batch_size):
            self._call_labels, self._call_examples = call_labels, call_examples
            try:
                self.set_annotations(docs, self.predict(docs))
                yield from docs
            except Exception as err:  # noqa: BLE001 - spaCy's error handler decides
                error_handler(self.name, self, docs, err)
            finally:
                self._call_labels = self._call_examples = None

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
        shim = get_shim(self.model)
        shim.ensure_loaded()
        processor = shim.processor
        text_ids = processor.tokenize_texts([eg.predicted.text for eg in examples])
        model_labels = [[self._model_text(label) for label in labels] for labels, _ in candidates]
        batch = processor.encode_ids(text_ids, model_labels, prompt=self.cfg["prompt"] or None)
        output, _ = self.model(batch, is_train=is_train)
        targets = torch.zeros_like(output.logits)
        for row, (_, gold) in enumerate(candidates):
            targets[row, : len(gold)] = torch.tensor(gold, dtype=targets.dtype)
        cfg = self.cfg
        return compute_loss(
            cfg["loss"], output.logits, targets, output.label_mask, cfg["focal_alpha"], cfg["focal_gamma"]
        )

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
        cfg = self.cfg
        loss = compute_loss(cfg["loss"], logits, targets, mask, cfg["focal_alpha"], cfg["focal_gamma"])
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

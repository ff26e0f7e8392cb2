"""Docs → model batches → one score per (doc, label), in the docs' own order.

On a CPU, speed comes from never computing padding and never repeating work:
inputs are sorted by length inside the buffer ``nlp.pipe`` hands us, cut into batches under a
token budget, and padded only to each batch's longest. Long texts become windows on a token
budget that always reserves the label block and a uni-encoder's examples; label sets too long for
``max_length`` are scored in groups. Scores are put back together per doc: sigmoid per label, or softmax over the doc's labels
for exclusive classes (over all groups at once), then windows are aggregated by max or mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import Errors, GLiClassError
from .modeling import EncodedBatch, GLiClassProcessor
from .modeling.processor import FewShotExample
from .settings import PipeSettings

# A label group must leave at least this many tokens for the text window.
MIN_TEXT_TOKENS = 32
# Most share of a batch's tokens that may be padding (see ``batches``).
MAX_PADDING = 0.1


@dataclass
class Request:
    """One doc to score: its text tokens, the label strings the model reads, its examples."""

    text_ids: list[int]
    labels: list[str]
    examples: tuple[FewShotExample, ...] = ()


@dataclass
class Task:
    """One model input: a window of one doc's text with one group of its labels."""

    request: int
    window: int
    group: int
    sequence: list[int]
    labels: list[str]
    examples: tuple[FewShotExample, ...] = ()


def label_groups(
    processor: GLiClassProcessor, labels: list[str], prompt: str | None, examples: Sequence[FewShotExample] = ()
) -> list[list[str]]:
    """Split a label set into groups that each leave room for text next to them (and the examples)."""

    def budget(group: list[str]) -> int:
        return processor.text_budget(group, prompt, examples)

    if processor.config.is_bi_encoder or budget(labels) >= MIN_TEXT_TOKENS:
        return [labels]
    groups: list[list[str]] = [[]]
    for label in labels:
        if groups[-1] and budget([*groups[-1], label]) < MIN_TEXT_TOKENS:
            groups.append([])
        groups[-1].append(label)
        if budget(groups[-1]) < MIN_TEXT_TOKENS:
            n_tokens = processor.max_length - budget(groups[-1])
            raise GLiClassError(
                Errors.E014.format(n_tokens=n_tokens, n_labels=1, max_length=processor.max_length)
                + f" The label {label!r} alone is too long."
            )
    return groups


def windows(text_ids: list[int], size: int, overlap: int) -> list[list[int]]:
    """Cut a text into windows of ``size`` tokens that overlap by ``overlap`` tokens."""
    if len(text_ids) <= size:
        return [text_ids]
    step = max(size - overlap, 1)
    return [text_ids[s : s + size] for s in range(0, max(len(text_ids) - overlap, 1), step)]


def plan(requests: Sequence[Request], processor: GLiClassProcessor, settings: PipeSettings) -> list[Task]:
    """Every model input needed to score ``requests``."""
    prompt = settings.prompt or None
    prompt_ids = processor.prompt_ids(prompt)
    tasks: list[Task] = []
    uni = not processor.config.is_bi_encoder
    # Docs of a buffer usually share one label set and examples: group it, size its window and
    # build its label and example blocks once per distinct set, not once per doc (64 labels are
    # ~200 ids to assemble).
    layouts: dict[tuple, tuple[list[list[str]], int, list[list[int]], list[int]]] = {}
    for r, request in enumerate(requests):
        key = (tuple(request.labels), request.examples)
        if key not in layouts:
            groups = label_groups(processor, request.labels, prompt, request.examples)
            # One window size for all groups, so that window w of every group covers the same text.
            budget = min(processor.text_budget(group, prompt, request.examples) for group in groups)
            if settings.window_size > 0:
                budget = min(budget, settings.window_size)
            if settings.window_overlap and settings.window_overlap >= budget:
                raise GLiClassError(
                    Errors.E027.format(
                        overlap=settings.window_overlap,
                        budget=budget,
                        n_labels=len(request.labels),
                        max_length=processor.max_length,
                    )
                )
            blocks = [processor.label_block(group) if uni else [] for group in groups]
            example_ids = processor.example_ids(request.examples) if uni else []
            layouts[key] = (groups, budget, blocks, example_ids)
        groups, budget, blocks, example_ids = layouts[key]
        for g, (group, block) in enumerate(zip(groups, blocks, strict=True)):
            for w, window in enumerate(windows(request.text_ids, budget, settings.window_overlap)):
                sequence = processor.build(window, block, prompt_ids, example_ids)
                tasks.append(Task(r, w, g, sequence, group, request.examples))
    return tasks


def label_offsets(tasks: Sequence[Task]) -> list[int]:
    """Where each task's labels start in its request's labels (a group's place in the label set)."""
    starts: dict[tuple[int, int], int] = {}
    ends: dict[int, int] = {}
    for task in tasks:  # `plan` emits a request's groups in order, the windows of each together
        if (task.request, task.group) not in starts:
            starts[(task.request, task.group)] = ends.get(task.request, 0)
            ends[task.request] = starts[(task.request, task.group)] + len(task.labels)
    return [starts[(task.request, task.group)] for task in tasks]


def batches(tasks: list[Task], settings: PipeSettings) -> list[list[Task]]:
    """Length-sorted batches under the size, token and padding budgets.

    The padding cap matters on a CPU, where padding costs as much as text: a small buffer of mixed
    texts, sorted and cut every ``batch_size`` inputs, still spends much of its compute on padding,
    so a batch is closed when the next (longest so far) input would make more than ``MAX_PADDING``
    of it padding."""
    ordered = sorted(tasks, key=lambda t: len(t.sequence))
    out: list[list[Task]] = []
    current: list[Task] = []
    real = 0
    for task in ordered:
        width = len(task.sequence)  # sorted, so the newest task is the longest
        padded = width * (len(current) + 1)
        if current and (
            len(current) >= settings.batch_size
            or padded > settings.max_batch_tokens
            or padded - real - width > MAX_PADDING * padded
        ):
            out.append(current)
            current, real = [], 0
        current.append(task)
        real += width
    if current:
        out.append(current)
    return out


def _activate(logits: np.ndarray, exclusive: bool) -> np.ndarray:
    if exclusive:
        shifted = np.exp(logits - logits.max())
        return shifted / shifted.sum()
    return 1.0 / (1.0 + np.exp(-logits))


def score(
    requests: Sequence[Request],
    processor: GLiClassProcessor,
    settings: PipeSettings,
    run: Callable[[EncodedBatch], np.ndarray],
) -> list[np.ndarray]:
    """Scores per request, aligned with its labels. ``run`` maps a batch to (B, C) logits."""
    tasks = plan(requests, processor, settings)
    logits: dict[tuple[int, int, int], np.ndarray] = {}
    for batch in batches(tasks, settings):
        out = run(
            processor.collate(
                [t.sequence for t in batch],
                [t.labels for t in batch],
                [t.examples for t in batch],
                settings.example_weight,
            )
        )
        for row, task in zip(out, batch, strict=True):
            logits[(task.request, task.window, task.group)] = row[: len(task.labels)]
    n_windows: dict[int, int] = {}
    n_groups: dict[int, int] = {}
    for task in tasks:
        n_windows[task.request] = max(n_windows.get(task.request, 0), task.window + 1)
        n_groups[task.request] = max(n_groups.get(task.request, 0), task.group + 1)
    results = []
    for r in range(len(requests)):
        per_window = [
            _activate(np.concatenate([logits[(r, w, g)] for g in range(n_groups[r])]), settings.exclusive_classes)
            for w in range(n_windows[r])
        ]
        stacked = np.stack(per_window)
        scores = stacked.max(0) if settings.aggregation == "max" else stacked.mean(0)
        if settings.exclusive_classes and settings.aggregation == "max" and len(per_window) > 1:
            scores = scores / scores.sum()
        results.append(scores.astype("float32"))
    return results

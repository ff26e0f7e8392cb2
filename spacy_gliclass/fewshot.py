"""In-context examples of the ``gliclass`` pipe: ``[{"text": ..., "labels": [...]}, ...]``.

Examples are checked where the user writes them (add_pipe, a call, a doc) so that a typo fails
with a message naming the example, not deep inside a forward pass. What a model does with them
is the model's business (modeling/): uni-encoders read them in the upstream input layout,
bi-encoders mix them into the label vectors (modeling/prototypes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import Errors, GLiClassError
from .modeling.processor import FewShotExample

EXAMPLE_KEYS = ("text", "labels")


def check_examples(value: Any, labels: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``value`` as a list of plain ``{"text", "labels"}`` dicts (what the pipe's cfg stores), or a
    GLiClassError naming the bad example. With ``labels``, every example label must be one of them:
    an example of a label the pipe never scores is almost always a spelling mistake."""
    if not isinstance(value, list | tuple):
        raise GLiClassError(Errors.E100.format(type=type(value).__name__))
    checked = []
    for index, example in enumerate(value):
        if not isinstance(example, Mapping) or not isinstance(example.get("text"), str) or not example["text"].strip():
            raise GLiClassError(Errors.E101.format(index=index, value=example))
        unknown = sorted(set(example) - set(EXAMPLE_KEYS))
        if unknown:
            raise GLiClassError(Errors.E104.format(index=index, keys=unknown))
        text, example_labels = example["text"], example.get("labels")
        if (
            not isinstance(example_labels, list | tuple)
            or not example_labels
            or not all(isinstance(label, str) and label.strip() for label in example_labels)
        ):
            raise GLiClassError(Errors.E102.format(index=index, text=text, value=example_labels))
        for label in example_labels if labels else ():
            if label not in labels:
                raise GLiClassError(Errors.E103.format(index=index, text=text, label=label, labels=list(labels)))
        checked.append({"text": text, "labels": list(example_labels)})
    return checked


def check_example_weight(value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise GLiClassError(Errors.E105.format(value=value))
    return float(value)


def model_examples(
    examples: Sequence[Mapping[str, Any]], model_text: Callable[[str], str]
) -> tuple[FewShotExample, ...]:
    """Checked examples as the model reads them: each label as its ``model_text`` (its
    description, if it has one), so that examples and label block name a label the same way."""
    return tuple(
        FewShotExample(text=ex["text"], labels=tuple(model_text(label) for label in ex["labels"])) for ex in examples
    )

"""The registered scorer: spaCy's ``Scorer.score_cats`` over ``doc.cats`` (keys ``cats_*``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spacy.scorer import Scorer
from spacy.training import Example


def score_gliclass(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
    """``cats_score`` is macro-F over the labels (multi-label: thresholded; exclusive: argmax),
    so ``spacy evaluate`` and model-best selection in ``spacy train`` work unchanged."""
    return Scorer.score_cats(examples, "cats", **kwargs)

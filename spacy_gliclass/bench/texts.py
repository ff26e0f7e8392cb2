"""The texts and labels every benchmarked model is timed on: seeded, so runs compare."""

from __future__ import annotations

import random
from pathlib import Path

from ..datasets import dataset_labels, datasets_root, read_split

# (dataset, share of the texts): short tweets to long reviews, as real traffic mixes them.
TEXT_MIX: tuple[tuple[str, float], ...] = (
    ("tweet_eval_sentiment", 0.35),
    ("emotion", 0.3),
    ("ag_news", 0.2),
    ("imdb", 0.15),
)
MAX_WORDS = 400  # longest review kept: longer ones are windowed, which times something else
LABEL_SOURCES = ("banking77", "massive_intent")  # many distinct, short label names


def sample_texts(n: int, seed: int = 0, root: Path | None = None) -> list[str]:
    """``n`` texts mixed from short tweets to long reviews, in a seeded random order."""
    root = root or datasets_root()
    rng = random.Random(seed)
    counts = [int(round(n * share)) for _, share in TEXT_MIX]
    counts[0] += n - sum(counts)
    texts: list[str] = []
    for (name, _), count in zip(TEXT_MIX, counts, strict=True):
        rows = read_split(root, name, "test")
        pool = [r["text"] for r in rows if r["text"].strip() and len(r["text"].split()) <= MAX_WORDS]
        texts.extend(rng.sample(pool, min(count, len(pool))))
    rng.shuffle(texts)
    return texts


def label_pool(seed: int = 0, root: Path | None = None) -> list[str]:
    """Intent names from banking77 and massive_intent, unique, in a seeded random order."""
    root = root or datasets_root()
    labels: dict[str, None] = {}
    for name in LABEL_SOURCES:
        for label in dataset_labels(root, name):
            labels.setdefault(label.replace("_", " "), None)
    pool = list(labels)
    random.Random(seed).shuffle(pool)
    return pool

"""``spacy-gliclass.JsonlReader.v1``: a ``spacy train`` corpus that mixes several JSONL datasets.

Each example gets its own candidate label set, stored as the keys of ``reference.cats`` (1.0 gold,
0.0 other candidates; the ``gliclass`` pipe trains on exactly those keys): the dataset's labels
in a shuffled order, plus, with probability ``negative_prob``, 1..``max_negatives`` negatives
drawn from the labels of the *other* mixed datasets. Negatives teach the model to reject
plausible labels that are off-topic for the text, which one dataset's label set never shows it.

Datasets live in ``datasets_dir/<name>/{split}.jsonl`` (rows ``{"text", "labels"}``) with a
``dataset_info.json`` (``"labels"``). This module is a spaCy entry point (``spacy_readers``), so
it imports nothing heavy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..datasets import dataset_labels, read_split, subset_in_order
from ..errors import Errors, GLiClassError


def load_dataset(root: Path, name: str, split: str, max_rows: int, seed: int) -> tuple[list[str], list[dict]]:
    """(label set, rows) of one dataset; ``max_rows`` keeps a seeded random subset, in file order."""
    rows = subset_in_order(read_split(root, name, split), max_rows, f"{seed}:{name}")
    labels = dataset_labels(root, name)
    # A gold label missing from dataset_info.json must still be a candidate.
    labels += [x for x in dict.fromkeys(x for row in rows for x in row["labels"]) if x not in set(labels)]
    return labels, rows


def candidate_labels(
    own: Sequence[str],
    pool: Sequence[str],
    rng: random.Random,
    negative_prob: float,
    max_negatives: int,
    gold: Sequence[str] = (),
    max_candidates: int = 0,
) -> list[str]:
    """The dataset's labels plus maybe some negatives from ``pool`` (labels not in ``own``), shuffled.

    ``max_candidates`` > 0 keeps every ``gold`` label and a random sample of the dataset's other
    labels up to that many: a 77-label set would otherwise cost 77 label encodings per example.
    """
    candidates = list(own)
    if max_candidates and len(candidates) > max_candidates:
        wrong = [x for x in candidates if x not in set(gold)]
        keep = max(max_candidates - (len(candidates) - len(wrong)), 0)
        candidates = [x for x in candidates if x in set(gold)] + rng.sample(wrong, min(keep, len(wrong)))
    others = [x for x in pool if x not in set(own)]
    if others and max_negatives > 0 and rng.random() < negative_prob:
        candidates += rng.sample(others, rng.randint(1, min(max_negatives, len(others))))
    rng.shuffle(candidates)
    return candidates


@registry.readers("spacy-gliclass.JsonlReader.v1")
def create_jsonl_reader(
    datasets_dir: str,
    datasets: str | list[str],
    split: str = "train",
    max_rows: int = 0,
    seed: int = 0,
    negative_prob: float = 0.5,
    max_negatives: int = 5,
    shuffle: bool = True,
    max_candidates: int = 0,
) -> Callable[[Language], Iterator[Example]]:
    """A corpus over several datasets; every pass is seeded (pass k uses seed + k), so runs repeat
    exactly while each epoch sees fresh negatives and a fresh order. ``max_candidates`` caps the
    dataset's own labels per example (gold always kept); 0 keeps all."""
    if isinstance(datasets, str):  # "a,b,c" (handy for --paths overrides)
        datasets = [x.strip() for x in datasets.split(",") if x.strip()]
    if not datasets:
        raise GLiClassError(Errors.E067)
    root = Path(datasets_dir)
    loaded = {name: load_dataset(root, name, split, max_rows, seed) for name in datasets}
    pool = list(dict.fromkeys(label for labels, _ in loaded.values() for label in labels))
    passes = 0

    def read(nlp: Language) -> Iterator[Example]:
        nonlocal passes
        rng = random.Random(seed * 1_000_003 + passes)
        passes += 1
        items = [(name, row) for name, (_, rows) in loaded.items() for row in rows if row["text"]]
        if shuffle:
            rng.shuffle(items)
        for name, row in items:
            own = loaded[name][0]
            gold = set(row["labels"])
            labels = candidate_labels(own, pool, rng, negative_prob, max_negatives, gold, max_candidates)
            doc = nlp.make_doc(row["text"])
            reference = doc.copy()
            reference.cats = {label: 1.0 if label in gold else 0.0 for label in labels}
            if Doc.has_extension("gliclass_labels"):  # dev scoring predicts over the same candidates
                doc._.gliclass_labels = labels
            yield Example(doc, reference)

    return read

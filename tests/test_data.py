"""The JSONL training reader: mixing, seeded candidates with negatives, and ``spacy train`` with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from spacy_gliclass.training.data import create_jsonl_reader

SETS = {
    "animals": (["cat", "dog", "bird"], ["a cat meows", "the dog barks", "a bird sings", "cats and dogs"]),
    "food": (["pizza", "soup"], ["hot soup tonight", "pizza with cheese", "tomato soup"]),
}


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    for name, (labels, texts) in SETS.items():
        folder = root / name
        folder.mkdir()
        (folder / "dataset_info.json").write_text(json.dumps({"name": name, "labels": labels, "multi_label": False}))
        rows = [{"text": t, "labels": [next(x for x in labels if x in t)]} for t in texts]
        (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def read(datasets_dir: Path, **kwargs) -> list[tuple[str, dict[str, float]]]:
    reader = create_jsonl_reader(str(datasets_dir), list(SETS), **kwargs)
    return [(eg.predicted.text, dict(eg.reference.cats)) for eg in reader(spacy.blank("en"))]


def test_reader_is_deterministic_and_mixes_all_rows(datasets_dir):
    first = read(datasets_dir, seed=3, negative_prob=0.7)
    assert first == read(datasets_dir, seed=3, negative_prob=0.7)
    assert sorted(t for t, _ in first) == sorted(t for _, texts in SETS.values() for t in texts)
    assert first != read(datasets_dir, seed=4, negative_prob=0.7)


def test_candidates_hold_gold_and_negatives_from_other_datasets(datasets_dir):
    examples = read(datasets_dir, seed=0, negative_prob=1.0, max_negatives=2)
    for text, cats in examples:
        name = "animals" if text in SETS["animals"][1] else "food"
        own, other = SETS[name][0], SETS["food" if name == "animals" else "animals"][0]
        assert [k for k, v in cats.items() if v == 1.0] == [next(x for x in own if x in text)]
        assert set(own) <= set(cats)
        negatives = set(cats) - set(own)
        assert negatives <= set(other) and 1 <= len(negatives) <= 2
        assert all(cats[x] == 0.0 for x in negatives)
    without = read(datasets_dir, seed=0, negative_prob=0.0)
    assert all(len(cats) == len(SETS["animals" if t in SETS["animals"][1] else "food"][0]) for t, cats in without)


def test_max_candidates_keeps_gold_and_caps_own_labels(datasets_dir):
    capped = read(datasets_dir, seed=0, negative_prob=0.0, max_candidates=2)
    dropped = set()
    for text, cats in capped:
        name = "animals" if text in SETS["animals"][1] else "food"
        gold = next(x for x in SETS[name][0] if x in text)
        assert cats[gold] == 1.0 and len(cats) == 2 and set(cats) <= set(SETS[name][0])
        dropped |= set(SETS[name][0]) - set(cats)
    assert dropped  # the 3-label set lost a label somewhere


def test_max_rows_and_errors(datasets_dir):
    assert len(read(datasets_dir, max_rows=2)) == 4
    from spacy_gliclass.errors import GLiClassError

    with pytest.raises(GLiClassError, match="No dataset 'nope'"):
        create_jsonl_reader(str(datasets_dir), ["nope"])


TRAIN_CFG = """
[paths]
train = null
dev = null

[system]
seed = 0

[nlp]
lang = "en"
pipeline = ["gliclass"]
batch_size = 8

[components]

[components.gliclass]
factory = "gliclass"

[components.gliclass.model]
@architectures = "spacy-gliclass.GLiClassModel.v1"
name = "{model}"
max_length = 64

[corpora]

[corpora.train]
@readers = "spacy-gliclass.JsonlReader.v1"
datasets_dir = "{datasets_dir}"
datasets = ["animals", "food"]
negative_prob = 1.0
max_negatives = 1

[corpora.dev]
@readers = "spacy-gliclass.JsonlReader.v1"
datasets_dir = "{datasets_dir}"
datasets = ["animals", "food"]
negative_prob = 0.0

[training]
max_steps = 2
eval_frequency = 1

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.001

[initialize]
"""


def test_spacy_train_with_the_reader(datasets_dir, tmp_path):
    import torch
    from spacy.cli.train import train
    from thinc.api import Config

    from tests.conftest import build_tiny

    model = build_tiny(tmp_path / "tiny")
    config_path = tmp_path / "config.cfg"
    # spaCy's own defaults for everything the tiny config leaves out ([training] seed, batcher, ...)
    defaults = Config().from_disk(Path(spacy.__file__).parent / "default_config.cfg", interpolate=False)
    own = Config().from_str(TRAIN_CFG.format(model=model, datasets_dir=datasets_dir), interpolate=False)
    defaults.merge(own).to_disk(config_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config_path, tmp_path / "out", overrides={"training.max_epochs": 0})
    finally:
        torch.set_num_threads(threads)
    for name in ("model-best", "model-last"):
        nlp = spacy.load(tmp_path / "out" / name)
        doc = nlp("a dog and a cat")
        assert {"cat", "dog", "bird", "pizza", "soup"} <= set(doc.cats)

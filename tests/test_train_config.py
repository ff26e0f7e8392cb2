"""The project's `spacy train` config stays valid: convert real datasets, train two steps on a tiny model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def load_convert():
    spec = importlib.util.spec_from_file_location("convert", ROOT / "project" / "scripts" / "convert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the repo")
def test_project_train_config_trains_and_saves(tiny_bi, tmp_path):
    convert = load_convert()
    kwargs = {"negative_prob": 1.0, "max_negatives": 2, "max_candidates": 3}
    convert.write_corpus(DATASETS, ["trec", "banking77"], "train", tmp_path / "train.spacy", 10, 0, 8, **kwargs)
    convert.write_corpus(DATASETS, ["subj"], "test", tmp_path / "dev.spacy", 5, 1, 8, **kwargs)
    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(spacy.blank("en").vocab))
    assert len(docs) == 20 and all(len(doc.text.split()) <= 8 for doc in docs)
    # Every doc carries its candidates: one gold, at most 3 own labels plus 1-2 negatives.
    assert all(sum(doc.cats.values()) == 1.0 and 2 <= len(doc.cats) <= 5 for doc in docs)
    overrides = {
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "dev.spacy"),
        "paths.model": str(tiny_bi),
        "training.max_steps": 2,
        "training.eval_frequency": 1,
    }
    train(ROOT / "project" / "configs" / "train.cfg", tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    doc = nlp.get_pipe("gliclass")(nlp.make_doc("What is the capital of France?"), labels=["location", "person"])
    assert set(doc.cats) == {"location", "person"}

"""The project's `spacy train` config stays valid: two steps on a tiny model over the real datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the repo")
def test_project_train_config_trains_and_saves(tiny_bi, tmp_path):
    overrides = {
        "paths.datasets_dir": str(DATASETS),
        "paths.model": str(tiny_bi),
        "paths.train_sets": "trec,subj",
        "paths.dev_sets": "tweet_eval_irony",
        "training.max_steps": 2,
        "training.eval_frequency": 1,
        "corpora.train.max_rows": 20,
        "corpora.dev.max_rows": 10,
    }
    train(ROOT / "project" / "configs" / "train.cfg", tmp_path, overrides=overrides)
    nlp = spacy.load(tmp_path / "model-best")
    doc = nlp.get_pipe("gliclass")(nlp.make_doc("What is the capital of France?"), labels=["location", "person"])
    assert set(doc.cats) == {"location", "person"}

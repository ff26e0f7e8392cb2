"""The embedded models classify real text: the shipped default (trained, calibrated) and the floor
(all-MiniLM-L6-v2 embedding similarity, untrained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the repo"),
]


def first_rows_per_label(name: str, per_label: int) -> tuple[list[str], list[dict]]:
    """The first rows of each label in file order: a fixed sample, not picked by any model."""
    labels = json.loads((DATASETS / name / "dataset_info.json").read_text())["labels"]
    taken: dict[str, list[dict]] = {label: [] for label in labels}
    with (DATASETS / name / "test.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            bucket = taken[row["labels"][0]]
            if len(bucket) < per_label:
                bucket.append(row)
    return labels, [row for rows in taken.values() for row in rows]


@pytest.fixture(scope="module", params=["", "floor"], ids=["default", "floor"])
def nlp(request):
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": request.param})  # no labels: they come per call below
    return nlp


def test_the_default_model_gets_the_demo_samples_right_by_a_clear_margin():
    from spacy_gliclass.cli.demo import LABELS, SAMPLES

    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"labels": LABELS})
    for doc, expected in zip(nlp.pipe(SAMPLES), LABELS, strict=True):  # one sample per label, in order
        runner_up = max(v for k, v in doc.cats.items() if k != expected)
        assert doc.cats[expected] >= 2 * runner_up, (doc.text, doc.cats)


@pytest.mark.parametrize("name,per_label,minimum", [("ag_news", 6, 0.5), ("snips", 4, 0.45), ("sst2", 10, 0.6)])
def test_real_sentences_are_classified_well_above_chance(nlp, name, per_label, minimum):
    labels, rows = first_rows_per_label(name, per_label)
    docs = nlp.pipe((r["text"] for r in rows), component_cfg={"gliclass": {"labels": labels}})
    correct = sum(max(doc.cats, key=doc.cats.get) == r["labels"][0] for doc, r in zip(docs, rows, strict=True))
    accuracy = correct / len(rows)
    assert len(rows) >= 20
    assert accuracy >= minimum, f"{name}: accuracy {accuracy:.2f} on {len(rows)} rows (chance {1 / len(labels):.2f})"


def test_default_pipeline_round_trips_offline(nlp, tmp_path):
    nlp.get_pipe("gliclass").labels = ["sports", "business"]
    texts = ["The striker scored twice.", "Shares fell after the results."]
    expected = [doc.cats for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "default")
    again = spacy.load(tmp_path / "default")
    # Equal up to float rounding: cached label vectors may have been computed in other batches.
    for doc, cats in zip(again.pipe(texts), expected, strict=True):
        assert doc.cats == pytest.approx(cats, abs=1e-6)
    assert max(expected[0], key=expected[0].get) == "sports"
    assert max(expected[1], key=expected[1].get) == "business"

"""Parity with upstream ``gliclass``: every committed fixture gives upstream's ids and scores.

The fixtures (tests/fixtures/upstream, made by tests/fixtures/make_upstream_fixtures.py in a side
virtualenv with gliclass 0.1.21) are tiny random checkpoints over a matrix of configs, with the
ids, logits and scores upstream produced for fixed texts and label sets. The upstream package is
not needed here. Print the parity table with ``python -m tests.test_upstream_parity``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch

from spacy_gliclass.modeling import GLiClassModel

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
TOLERANCE = 1e-4


@cache
def expected() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text())


def fixture_names() -> list[str]:
    return sorted(expected()["fixtures"])


def compare(name: str) -> dict[str, float | bool]:
    """Our ids and scores for one fixture against upstream's: max abs differences."""
    meta = expected()
    entry = meta["fixtures"][name]
    model, processor = GLiClassModel.from_pretrained(FIXTURES / name, max_length=meta["max_length"])
    ids_equal, logit_diff, sigmoid_diff, softmax_diff, top1_equal = True, 0.0, 0.0, 0.0, True
    for s, labels in enumerate(meta["label_sets"]):
        batch = processor(meta["texts"], labels, prompt=entry["prompt"], examples=entry["examples"])
        ours_ids = [row[mask.bool()].tolist() for row, mask in zip(batch.input_ids, batch.attention_mask, strict=True)]
        ids_equal &= ours_ids == entry["input_ids"][s]
        with torch.inference_mode():
            logits = model.encode(batch).logits.double()
        theirs = torch.tensor(entry["logits"][s], dtype=torch.float64)
        logit_diff = max(logit_diff, float((logits - theirs).abs().max()))
        sig = torch.tensor(entry["multi_label"][s], dtype=torch.float64)
        sigmoid_diff = max(sigmoid_diff, float((torch.sigmoid(logits) - sig).abs().max()))
        probs = torch.softmax(logits, dim=-1)
        for t, single in enumerate(entry["single_label"][s]):
            best = int(probs[t].argmax())
            top1_equal &= labels[best] == single["label"]
            softmax_diff = max(softmax_diff, abs(float(probs[t, best]) - single["score"]))
    return {
        "ids_equal": ids_equal,
        "logits": logit_diff,
        "sigmoid": sigmoid_diff,
        "softmax": softmax_diff,
        "top1_equal": top1_equal,
    }


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_matches_upstream(name):
    result = compare(name)
    assert result["ids_equal"], f"{name}: token ids differ from upstream's"
    assert result["logits"] < TOLERANCE, f"{name}: logits differ by {result['logits']:.2e}"
    assert result["sigmoid"] < TOLERANCE and result["softmax"] < TOLERANCE
    assert result["top1_equal"]


@pytest.mark.parametrize("name", [n for n in fixture_names() if expected()["fixtures"][n]["examples"]])
def test_pipe_with_examples_matches_upstream(name):
    """The same scores through the spaCy pipe: the ``examples`` setting, batching and windowing."""
    import spacy

    meta = expected()
    entry = meta["fixtures"][name]
    nlp = spacy.blank("en")
    # The pipe refuses a max_length beyond the encoder's positions (the fixtures' texts are short).
    positions = json.loads((FIXTURES / name / "config.json").read_text())["encoder_config"]["max_position_embeddings"]
    max_length = min(meta["max_length"], positions)
    config = {"model": {"name": str(FIXTURES / name), "max_length": max_length}, "prompt": entry["prompt"] or ""}
    nlp.add_pipe("gliclass", config={**config, "examples": entry["examples"]})
    for s, labels in enumerate(meta["label_sets"]):
        docs = nlp.pipe(meta["texts"], component_cfg={"gliclass": {"labels": labels}})
        ours = torch.tensor([[doc.cats[label] for label in labels] for doc in docs], dtype=torch.float64)
        theirs = torch.tensor(entry["multi_label"][s], dtype=torch.float64)
        assert float((ours - theirs).abs().max()) < TOLERANCE


def test_fixture_matrix_covers_the_issue():
    names = set(fixture_names())
    for backbone in ("bert", "deberta", "modernbert"):
        for scorer in ("simple", "mlp", "weighted-dot", "hopfield"):
            for pooling in ("first", "avg"):
                for pf in ("pf0", "pf1"):
                    assert f"{backbone}-{scorer}-{pooling}-{pf}" in names
        assert f"{backbone}-cross-attn-pass-pf1" in names
    for extra in ("clsavg", "etf", "squeeze", "norm", "prompt", "examples", "biencoder", "segemb", "lstm"):
        assert any(extra in n for n in names), extra


def main() -> None:
    print(f"{'fixture':44} {'ids':>4} {'max |Δlogit|':>13} {'max |Δsigmoid|':>15} {'top-1':>6}")
    worst = 0.0
    for name in fixture_names():
        r = compare(name)
        worst = max(worst, r["logits"])
        ids = "ok" if r["ids_equal"] else "DIFF"
        top1 = "ok" if r["top1_equal"] else "DIFF"
        print(f"{name:44} {ids:>4} {r['logits']:13.2e} {r['sigmoid']:15.2e} {top1:>6}")
    print(f"{len(fixture_names())} fixtures, worst logit difference {worst:.2e} (tolerance {TOLERANCE:.0e})")


if __name__ == "__main__":
    main()

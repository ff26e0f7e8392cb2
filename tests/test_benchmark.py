"""The benchmark's measuring logic on a tiny model: result structure and the agreement checks."""

from __future__ import annotations

import pytest

from spacy_gliclass.bench import harness, options
from spacy_gliclass.bench.methods import Bench
from spacy_gliclass.datasets import macro_f1

from .conftest import build_tiny

TEXTS = [
    "great movie",
    "The central bank raised interest rates again, and stocks fell sharply in early trading on Monday.",
    "ok",
    "My card was declined twice at the supermarket and the app shows a pending payment I never made.",
    "What a wonderful day at the beach with the kids, the weather was perfect and nobody got sunburnt.",
]
LABELS = ["card declined", "weather query", "exchange rate", "play music", "book a table"]


@pytest.mark.parametrize("arch", ["uni-encoder", "bi-encoder"])
def test_benchmark_structure_and_agreement(tmp_path, arch):
    overrides = {"architecture_type": arch, "scorer_type": "simple"} if arch == "bi-encoder" else {}
    path = build_tiny(tmp_path / arch, **overrides)
    settings = options.BenchSettings(repeats=1, max_labels=4, pipe_batch_size=2, batch_size=2, int8=True)
    result = harness.benchmark_model(str(path), settings, texts=TEXTS, labels=LABELS)
    assert result["architecture"] == arch
    assert [row["n_labels"] for row in result["rows"]] == [1, 2, 4]
    for row in result["rows"]:
        assert set(row["docs_per_s"]) == {*options.METHODS, "pipe_int8"}
        assert all(v > 0 for v in row["docs_per_s"].values())
        assert row["agreement"]["ok"], row["agreement"]
        assert row["agreement"]["pipe_vs_per_doc"] <= 1e-5
        assert row["agreement"]["reference_docs_compared"] == len(TEXTS)
        if arch == "bi-encoder":  # one label per sequence changes nothing for a bi-encoder
            assert row["agreement"]["pipe_vs_cross"] <= 1e-5
    # A uni-encoder's input grows with its labels; a bi-encoder's does not.
    tokens = [row["tokens_per_doc"] for row in result["rows"]]
    assert tokens[0] < tokens[-1] if arch == "uni-encoder" else tokens[0] == tokens[-1]


def test_agreement_check_catches_a_wrong_path(tmp_path):
    path = build_tiny(tmp_path / "uni")
    b = Bench(str(path), TEXTS, options.BenchSettings(max_labels=2))
    import random

    b.prepare(LABELS[:2], random.Random(0))
    outputs = {"pipe": b.run_pipe(), "per_doc": b.run_per_doc(), "reference": b.run_reference()}
    assert b.agreement(outputs)["ok"]
    outputs["reference"][1] = outputs["reference"][1] + 1e-3
    assert not b.agreement(outputs)["ok"]


def test_label_counts_and_macro_f1():
    assert options.label_counts(64) == [1, 2, 4, 8, 16, 32, 64]
    assert options.label_counts(5) == [1, 2, 4]
    assert macro_f1(["a", "b", "b"], ["a", "b", "a"], ["a", "b"]) == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_int8_is_opt_in_saves_fp32_weights_and_refuses_training(tmp_path, tiny_uni):
    import spacy
    import torch
    from spacy.training import Example

    from spacy_gliclass.architectures import get_shim
    from spacy_gliclass.errors import GLiClassError
    from spacy_gliclass.modeling import GLiClassModel

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("gliclass", config={"model": {"name": str(tiny_uni), "quantize": "int8"}, "labels": LABELS[:3]})
    cats = nlp(TEXTS[1]).cats
    shim = get_shim(pipe.model)
    assert shim.is_quantized and not any(type(m) is torch.nn.Linear for m in shim._model.modules())
    original = GLiClassModel.from_pretrained(tiny_uni)[0].state_dict()
    assert all(torch.equal(v, original[k]) for k, v in shim.fp32_model().state_dict().items())
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert get_shim(loaded.get_pipe("gliclass").model).is_quantized
    assert loaded(TEXTS[1]).cats == pytest.approx(cats, abs=1e-6)
    example = Example.from_dict(nlp.make_doc(TEXTS[0]), {"cats": {LABELS[0]: 1.0, LABELS[1]: 0.0}})
    with pytest.raises(GLiClassError, match="inference-only"):
        pipe.update([example])
    with pytest.raises(GLiClassError, match="quantize"):
        spacy.blank("en").add_pipe("gliclass", config={"model": {"name": str(tiny_uni), "quantize": "int4"}})


def test_texts_and_labels_are_seeded_and_read_through_datasets(tmp_path):
    import json

    from spacy_gliclass.bench import texts as bench_texts

    for name, _ in bench_texts.TEXT_MIX:
        (tmp_path / name).mkdir()
        (tmp_path / name / "dataset_info.json").write_text(json.dumps({"labels": ["a"]}))
        rows = [{"text": f"{name} {i}", "labels": ["a"]} for i in range(20)]
        rows += [{"text": "  ", "labels": ["a"]}, {"text": "long " * 401, "labels": ["a"]}]
        (tmp_path / name / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    label_sets = (["card_declined", "top_up"], ["top up", "alarm_set"])
    for name, labels in zip(bench_texts.LABEL_SOURCES, label_sets, strict=True):
        (tmp_path / name).mkdir()
        (tmp_path / name / "dataset_info.json").write_text(json.dumps({"labels": labels}))
    sample = bench_texts.sample_texts(20, seed=1, root=tmp_path)
    assert len(sample) == 20 and sample == bench_texts.sample_texts(20, seed=1, root=tmp_path)
    assert all(t.strip() and len(t.split()) <= bench_texts.MAX_WORDS for t in sample)
    assert sorted(bench_texts.label_pool(0, tmp_path)) == ["alarm set", "card declined", "top up"]


def test_a_saved_pipeline_refuses_settings_it_would_ignore(tmp_path, tiny_uni):
    """benchmark --int8 (or any other setting) on a saved pipeline is an error naming the setting,
    not a silent fp32 run; repeating the pipeline's own settings is fine."""
    import spacy

    from spacy_gliclass.errors import GLiClassError
    from spacy_gliclass.pipeline import load_pipeline

    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": LABELS[:2], "batch_size": 4})
    nlp.to_disk(tmp_path / "pipeline")
    with pytest.raises(GLiClassError, match=r"model.quantize = 'int8' \(it has ''\)"):
        options.make_nlp(str(tmp_path / "pipeline"), options.BenchSettings(), quantize="int8")
    with pytest.raises(GLiClassError, match=r"batch_size = 8 \(it has 4\)"):
        load_pipeline(str(tmp_path / "pipeline"), config={"batch_size": 8})
    _, pipe = load_pipeline(
        str(tmp_path / "pipeline"), labels=["x"], config={"batch_size": 4, "model": {"quantize": ""}}
    )
    assert pipe.labels == ("x",)

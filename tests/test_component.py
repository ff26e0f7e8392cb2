"""The gliclass pipe, in the style of spaCy's test_textcat.py: tiny random models, seconds per test."""

from __future__ import annotations

import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed, load_model_from_path

from spacy_gliclass.errors import CheckpointError, GLiClassError, LabelError

from .conftest import LABELS, cats_matrix, make_nlp

TEXTS = [
    "The striker scored twice in the final minutes.",
    "ok",
    "Stocks fell sharply after the central bank raised interest rates again, and traders "
    "worried that the economy would slow down before the end of the year.",
    "",
    "   ",
    "A new telescope photographed the atmosphere of a distant planet.",
    "The match was postponed because of heavy rain.",
]
TRAIN_DATA = [
    ("The team won the match in extra time.", {"sports": 1.0, "business": 0.0, "science and technology": 0.0}),
    ("Profits rose as the company expanded abroad.", {"sports": 0.0, "business": 1.0, "science and technology": 0.0}),
    ("Engineers built a faster quantum computer.", {"sports": 0.0, "business": 0.0, "science and technology": 1.0}),
    ("The goalkeeper saved a penalty.", {"sports": 1.0, "business": 0.0, "science and technology": 0.0}),
]


@pytest.mark.parametrize("arch", ["uni", "bi"])
def test_zero_shot_works_right_after_add_pipe(arch, tiny_uni, tiny_bi):
    nlp = make_nlp(tiny_uni if arch == "uni" else tiny_bi)
    docs = list(nlp.pipe(TEXTS))
    assert [doc.text for doc in docs] == TEXTS
    for doc in docs:
        assert set(doc.cats) == set(LABELS)
        assert all(0.0 <= v <= 1.0 for v in doc.cats.values())
    assert cats_matrix(docs).std() > 0


@pytest.mark.parametrize("arch", ["uni", "bi"])
@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_pipe_equals_call_whatever_the_batch_size(arch, batch_size, tiny_uni, tiny_bi):
    nlp = make_nlp(tiny_uni if arch == "uni" else tiny_bi, batch_size=3, max_batch_tokens=200)
    one_by_one = cats_matrix([nlp(text) for text in TEXTS])
    piped = cats_matrix(nlp.pipe(TEXTS, batch_size=batch_size))
    numpy.testing.assert_allclose(piped, one_by_one, atol=1e-5)


def test_exclusive_classes_sum_to_one_and_other_cats_are_kept(tiny_uni):
    nlp = make_nlp(tiny_uni, exclusive_classes=True)
    doc = nlp.make_doc(TEXTS[0])
    doc.cats["from_elsewhere"] = 0.25
    doc = nlp(doc)
    assert doc.cats["from_elsewhere"] == 0.25
    assert sum(doc.cats[label] for label in LABELS) == pytest.approx(1.0, abs=1e-5)


def test_labels_at_runtime_per_call_and_per_doc(tiny_uni):
    nlp = make_nlp(tiny_uni)
    pipe = nlp.get_pipe("gliclass")
    assert pipe.add_label("weather") == 1 and pipe.add_label("weather") == 0
    assert set(nlp(TEXTS[0]).cats) == {*LABELS, "weather"}
    pipe.labels = ["a", "b"]
    assert set(nlp(TEXTS[0]).cats) == {"a", "b"}
    docs = list(nlp.pipe(TEXTS[:2], component_cfg={"gliclass": {"labels": ["x", "y", "z"]}}))
    assert all(set(doc.cats) == {"x", "y", "z"} for doc in docs)
    doc = nlp.make_doc(TEXTS[0])
    doc._.gliclass_labels = ["rain", "sun"]
    assert set(nlp(doc).cats) == {"rain", "sun"}
    pairs = [(TEXTS[0], {"labels": ["p", "q"]}), (TEXTS[1], None)]
    out = list(nlp.pipe(pairs, as_tuples=True))
    assert set(out[0][0].cats) == {"p", "q"} and set(out[1][0].cats) == {"a", "b"}
    assert out[1][1] is None


def test_per_doc_label_scores_equal_scoring_alone(tiny_uni):
    nlp = make_nlp(tiny_uni)
    mixed = [nlp.make_doc(t) for t in TEXTS[:3]]
    mixed[1]._.gliclass_labels = ["rain", "sports"]
    scored = list(nlp.pipe(mixed))
    alone = nlp.get_pipe("gliclass")(nlp.make_doc(TEXTS[1]), labels=["rain", "sports"])
    assert scored[1].cats == pytest.approx(alone.cats, abs=1e-5)
    assert set(scored[0].cats) == set(LABELS)


def test_label_descriptions_change_what_the_model_reads(tiny_uni):
    plain = make_nlp(tiny_uni)(TEXTS[0]).cats
    described = make_nlp(tiny_uni, label_descriptions={"sports": "a game of football"})(TEXTS[0]).cats
    assert set(described) == set(LABELS)
    assert described["sports"] != pytest.approx(plain["sports"], abs=1e-6)


def test_long_docs_are_scored_in_windows(tiny_uni):
    nlp_max = make_nlp(tiny_uni, max_length=48)
    nlp_mean = make_nlp(tiny_uni, max_length=48, aggregation="mean")
    long_text = " ".join(TEXTS[0] for _ in range(40))
    doc_max, doc_mean = nlp_max(long_text), nlp_mean(long_text)
    assert set(doc_max.cats) == set(LABELS)
    assert all(doc_max.cats[k] >= doc_mean.cats[k] - 1e-6 for k in LABELS)
    assert any(doc_max.cats[k] > doc_mean.cats[k] + 1e-6 for k in LABELS)  # windows differ


def test_many_labels_are_scored_in_groups(tiny_uni):
    labels = [f"topic number {i}" for i in range(30)]
    nlp = make_nlp(tiny_uni, max_length=64, exclusive_classes=True)
    doc = nlp.get_pipe("gliclass")(nlp.make_doc(TEXTS[0]), labels=labels)
    assert set(doc.cats) == set(labels)
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "labels,match",
    [
        (["a", "a"], "more than once"),
        (["ok", "x<<LABEL>>y"], "marker"),
    ],
)
def test_bad_labels_fail_at_add_pipe(tiny_uni, labels, match):
    nlp = spacy.blank("en")
    with pytest.raises(LabelError, match=match):
        nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": labels})


def test_non_string_labels_are_refused(tiny_uni):
    from confection import ConfigValidationError

    nlp = spacy.blank("en")
    with pytest.raises(ConfigValidationError, match="labels"):  # spaCy's config validation says it first
        nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": ["a", 3]})
    pipe = nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": ["a"]})
    with pytest.raises(LabelError, match="non-empty strings"):
        pipe.labels = ["a", 3]
    with pytest.raises(LabelError, match="non-empty strings"):
        nlp("text", component_cfg={"gliclass": {"labels": [None]}})


def test_no_labels_is_a_clear_error(tiny_uni):
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni)})
    with pytest.raises(LabelError, match="has no labels"):
        nlp("some text")


def test_bad_model_paths_fail_with_the_path_in_the_message(tmp_path, tiny_uni):
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tmp_path / "nope"), "labels": LABELS})
    with pytest.raises(CheckpointError, match="nope"):  # when first needed: a saved pipe never needs it
        nlp("some text")
    nlp = spacy.blank("en")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    nlp.add_pipe("gliclass", config={"model": str(corrupt), "labels": LABELS})
    with pytest.raises(GLiClassError, match="corrupt"):
        nlp.initialize()


def test_overfitting_IO(tiny_uni, tmp_path):
    fix_random_seed(0)
    nlp = make_nlp(tiny_uni, loss="bce")
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in TRAIN_DATA]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    optimizer.learn_rate = 3e-3
    history = [nlp.update(examples, sgd=optimizer, losses={})["gliclass"] for _ in range(40)]
    assert history[-1] < 0.05 < history[0]
    for text, cats in TRAIN_DATA:
        predicted = nlp(text).cats
        assert max(predicted, key=predicted.get) == max(cats, key=cats.get)

    # Save and reload: identical cats, offline, no access to the original checkpoint needed.
    expected = cats_matrix(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    reloaded = load_model_from_path(tmp_path / "pipeline")
    numpy.testing.assert_array_equal(cats_matrix(reloaded.pipe(TEXTS)), expected)
    numpy.testing.assert_array_equal(cats_matrix(spacy.load(tmp_path / "pipeline").pipe(TEXTS)), expected)
    assert reloaded.get_pipe("gliclass").labels == tuple(LABELS)

    # Bytes round trip too, into a pipe built from a different model.
    other = make_nlp(tiny_uni)
    other.get_pipe("gliclass").from_bytes(nlp.get_pipe("gliclass").to_bytes())
    numpy.testing.assert_array_equal(cats_matrix(other.pipe(TEXTS)), expected)

    # Scores and the threshold sweep.
    scores = nlp.evaluate(examples)
    for key in ("cats_score", "cats_micro_f", "cats_macro_f", "cats_macro_auc", "cats_f_per_type"):
        assert key in scores
    assert scores["cats_macro_auc"] == pytest.approx(1.0)
    low = nlp.evaluate(examples, scorer_cfg={"threshold": 0.0})
    assert low["cats_micro_p"] == pytest.approx(1 / 3)  # every label predicted for every text
    high = nlp.evaluate(examples, scorer_cfg={"threshold": 1.0})
    assert high["cats_micro_r"] < 1.0


def test_get_loss_is_zero_only_for_perfect_scores(tiny_uni):
    nlp = make_nlp(tiny_uni, loss="bce")
    pipe = nlp.get_pipe("gliclass")
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in TRAIN_DATA]
    perfect = numpy.array([[cats[label] for label in LABELS] for _, cats in TRAIN_DATA], dtype="float32")
    loss_perfect, _ = pipe.get_loss(examples, perfect)
    loss_bad, grad = pipe.get_loss(examples, 0.9 - 0.8 * perfect)
    assert loss_perfect < 1e-4 < loss_bad
    assert grad.shape == perfect.shape and (numpy.sign(grad) == numpy.sign(0.5 - perfect)).all()


def test_predict_shape_and_empty_input(tiny_uni):
    nlp = make_nlp(tiny_uni)
    pipe = nlp.get_pipe("gliclass")
    docs = [nlp.make_doc(t) for t in TEXTS]
    assert pipe.predict(docs).shape == (len(TEXTS), len(LABELS))
    assert pipe.predict([]).shape == (0, len(LABELS))
    assert list(nlp.pipe([])) == []


def test_multiprocessing_pipe_keeps_every_doc_in_order(tiny_uni):
    nlp = make_nlp(tiny_uni)
    expected = cats_matrix(nlp.pipe(TEXTS))  # torch's thread pool is running before the fork
    docs = list(nlp.pipe(TEXTS * 3, n_process=2, batch_size=2))
    assert [d.text for d in docs] == TEXTS * 3
    numpy.testing.assert_allclose(cats_matrix(docs), numpy.vstack([expected] * 3), atol=1e-5)


def test_doc_extension_is_registered_once_without_force(tiny_uni):
    from spacy_gliclass.component import install_extensions

    make_nlp(tiny_uni)
    assert Doc.has_extension("gliclass_labels")
    getter = Doc.get_extension("gliclass_labels")
    install_extensions()  # a second pipe must not reset or re-register it
    make_nlp(tiny_uni)
    assert Doc.get_extension("gliclass_labels") is getter


def test_entry_point_module_is_light():
    code = (
        "import sys, spacy; before = set(sys.modules); import spacy_gliclass.factory; "
        "new = set(sys.modules) - before; "
        "heavy = [m for m in new if m.split('.')[0] in ('torch', 'transformers') or 'modeling' in m]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("head_lr_scale", [0.0, 1.0])
def test_bi_encoder_trains_with_scalar_params_and_separate_head_rate(tiny_bi, head_lr_scale):
    import torch

    from spacy_gliclass.architectures import get_shim

    nlp = make_nlp(tiny_bi, loss="softmax", head_lr_scale=head_lr_scale)
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in TRAIN_DATA]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    model = get_shim(nlp.get_pipe("gliclass").model).fp32_model()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    nlp.update(examples, sgd=optimizer)
    changed = {k for k, v in model.named_parameters() if not torch.equal(v.detach(), before[k])}
    assert "encoder_model.embeddings.word_embeddings.weight" in changed
    heads = {"logit_scale", "text_projector.linear_1.weight", "classes_projector.linear_2.weight"}
    assert heads <= changed if head_lr_scale else not (heads & changed)


def test_every_training_step_hands_freed_memory_back(tiny_bi, monkeypatch):
    # Without it glibc kept ~70 MB per step of freed activations: long `spacy train` runs ran out of memory.
    from spacy_gliclass import architectures

    calls = []
    monkeypatch.setattr(architectures, "trim_heap", lambda: calls.append(1))
    nlp = make_nlp(tiny_bi)
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in TRAIN_DATA]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    assert len(calls) == 3

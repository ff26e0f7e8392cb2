"""In-context examples: validation, precedence, serialisation, the uni-encoder layout through the
pipe's batching, and the bi-encoder prototype rule (tiny random models, seconds per test)."""

from __future__ import annotations

import numpy
import pytest
import spacy
import torch
from spacy.util import load_model_from_path

from spacy_gliclass import batching
from spacy_gliclass.architectures import get_shim
from spacy_gliclass.errors import GLiClassError
from spacy_gliclass.modeling import GLiClassModel
from spacy_gliclass.modeling.processor import FewShotExample
from spacy_gliclass.modeling.prototypes import mix_prototypes
from spacy_gliclass.settings import PipeSettings

from .conftest import LABELS, cats_matrix, make_nlp

EXAMPLES = [
    {"text": "The striker scored twice in the final minutes.", "labels": ["sports"]},
    {"text": "Profits rose as the company expanded abroad.", "labels": ["business"]},
]
OTHER_EXAMPLES = [{"text": "Engineers built a faster quantum computer.", "labels": ["science and technology"]}]
TEXTS = [
    "The striker scored twice in the final minutes.",
    "ok",
    "Stocks fell sharply after the central bank raised interest rates again.",
    "A new telescope photographed the atmosphere of a distant planet.",
    "The match was postponed because of heavy rain.",
]


@pytest.fixture(params=["uni", "bi"])
def model_path(request, tiny_uni, tiny_bi):
    return tiny_uni if request.param == "uni" else tiny_bi


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "examples, match",
    [
        ([{"labels": ["sports"]}], 'non-empty string "text"'),
        (["The striker scored."], 'non-empty string "text"'),
        ([{"text": "  ", "labels": ["sports"]}], 'non-empty string "text"'),
        ([{"text": "A goal.", "labels": "sports"}], "A single label is written as a list"),
        ([{"text": "A goal.", "labels": []}], 'needs "labels"'),
        ([{"text": "A goal.", "labels": ["sports", 3]}], 'needs "labels"'),
        ([{"text": "A goal.", "labels": ["sprots"]}], "'sprots', which is not one of the pipe's labels"),
        ([{"text": "A goal.", "label": ["sports"]}], r"unknown key\(s\) \['label'\]"),
    ],
)
def test_bad_examples_fail_at_add_pipe(tiny_bi, examples, match):
    with pytest.raises(GLiClassError, match=match):
        make_nlp(tiny_bi, examples=examples)


def test_example_weight_outside_0_1_fails_at_add_pipe(tiny_bi):
    with pytest.raises(GLiClassError, match="example_weight must be between 0 and 1"):
        make_nlp(tiny_bi, example_weight=1.5)


def test_bad_examples_per_call_or_doc_are_clear_errors(tiny_bi):
    nlp = make_nlp(tiny_bi)
    with pytest.raises(GLiClassError, match="must be a list"):
        list(nlp.pipe(TEXTS, component_cfg={"gliclass": {"examples": "sports"}}))
    doc = nlp.make_doc(TEXTS[0])
    doc._.gliclass_examples = [{"text": "A goal."}]
    with pytest.raises(GLiClassError, match='needs "labels"'):
        nlp(doc)


def test_labels_outside_the_pipe_are_allowed_when_it_has_none(tiny_uni):
    """Without pipe labels (labels per call) there is nothing to check example labels against."""
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "examples": EXAMPLES})
    doc = nlp.get_pipe("gliclass")(nlp.make_doc(TEXTS[0]), labels=["sports", "weather"])
    assert set(doc.cats) == {"sports", "weather"}


# -- behaviour shared by both architectures ---------------------------------------------------
def test_examples_change_the_scores(model_path):
    zero_shot = cats_matrix(make_nlp(model_path).pipe(TEXTS))
    with_examples = cats_matrix(make_nlp(model_path, examples=EXAMPLES).pipe(TEXTS))
    assert numpy.abs(zero_shot - with_examples).max() > 1e-4


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_pipe_equals_call_with_examples(model_path, batch_size):
    nlp = make_nlp(model_path, examples=EXAMPLES, batch_size=3, max_batch_tokens=300)
    one_by_one = cats_matrix([nlp(text) for text in TEXTS])
    together = cats_matrix(nlp.pipe(TEXTS, batch_size=batch_size))
    numpy.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_call_examples_beat_doc_examples_beat_pipe_examples(model_path):
    nlp = make_nlp(model_path, examples=EXAMPLES)
    as_doc_default = cats_matrix(make_nlp(model_path, examples=OTHER_EXAMPLES).pipe(TEXTS))
    as_pipe_default = cats_matrix(nlp.pipe(TEXTS))
    assert numpy.abs(as_doc_default - as_pipe_default).max() > 1e-4

    docs = [nlp.make_doc(text) for text in TEXTS]
    for doc in docs:
        doc._.gliclass_examples = OTHER_EXAMPLES
    numpy.testing.assert_allclose(cats_matrix(nlp.pipe(docs)), as_doc_default, atol=1e-5)

    contexts = [(text, {"examples": OTHER_EXAMPLES}) for text in TEXTS]
    numpy.testing.assert_allclose(cats_matrix(d for d, _ in nlp.pipe(contexts, as_tuples=True)), as_doc_default, atol=1e-5)

    docs = [nlp.make_doc(text) for text in TEXTS]
    for doc in docs:
        doc._.gliclass_examples = OTHER_EXAMPLES
    per_call = cats_matrix(nlp.pipe(docs, component_cfg={"gliclass": {"examples": EXAMPLES}}))
    numpy.testing.assert_allclose(per_call, as_pipe_default, atol=1e-5)
    zero_shot = cats_matrix(nlp.pipe(TEXTS, component_cfg={"gliclass": {"examples": []}}))
    numpy.testing.assert_allclose(zero_shot, cats_matrix(make_nlp(model_path).pipe(TEXTS)), atol=1e-5)


def test_examples_survive_to_disk_and_load(model_path, tmp_path):
    nlp = make_nlp(model_path, examples=EXAMPLES, example_weight=0.7)
    before = cats_matrix(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    loaded = load_model_from_path(tmp_path / "pipeline")
    pipe = loaded.get_pipe("gliclass")
    assert pipe.cfg["examples"] == EXAMPLES and pipe.cfg["example_weight"] == pytest.approx(0.7)
    numpy.testing.assert_allclose(cats_matrix(loaded.pipe(TEXTS)), before, atol=1e-5)


# -- uni-encoder: the upstream layout through batching.plan -------------------------------------
def test_uni_encoder_windows_reserve_the_examples_block(tiny_uni):
    shim = get_shim(make_nlp(tiny_uni, max_length=96).get_pipe("gliclass").model)
    shim.ensure_loaded()
    processor = shim.processor
    examples = tuple(FewShotExample.coerce(ex) for ex in EXAMPLES)
    block = processor.example_ids(examples)
    long_text = processor.tokenize(" ".join(TEXTS * 6))
    tasks = batching.plan([batching.Request(long_text, LABELS, examples)], processor, PipeSettings())
    assert len(tasks) > 1  # the text is windowed ...
    end = -len(processor._suffix)
    for task in tasks:  # ... and every window keeps the whole examples block, within max_length
        assert len(task.sequence) <= processor.max_length
        assert task.sequence[end - len(block) : end] == block


# -- bi-encoder: the prototype rule ------------------------------------------------------------
def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def test_mix_prototypes_is_the_documented_rule():
    labels = unit(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    examples = unit(torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    membership = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # label 0 has both examples, label 1 none
    mixed = mix_prototypes(labels, examples, membership, 0.25)
    expected = unit(0.75 * labels[0] + 0.25 * examples.mean(0))
    torch.testing.assert_close(mixed[0], expected)
    torch.testing.assert_close(mixed[1], labels[1])  # no example: the label's own vector
    torch.testing.assert_close(mix_prototypes(labels, examples, membership, 0.0), labels)
    torch.testing.assert_close(mix_prototypes(labels, examples, membership, 1.0)[0], unit(examples.mean(0)))


def test_an_example_pulls_its_label_towards_texts_like_it(tiny_bi):
    """A doc that *is* an example of "sports" scores higher on sports with the example; labels
    without examples keep their scores exactly."""
    text = TEXTS[0]
    example = [{"text": text, "labels": ["sports"]}]
    zero_shot = make_nlp(tiny_bi)(text).cats
    for weight in (0.3, 0.7):
        shown = make_nlp(tiny_bi, examples=example, example_weight=weight)(text).cats
        assert shown["sports"] > zero_shot["sports"] + 1e-3
        assert shown["business"] == pytest.approx(zero_shot["business"], abs=1e-6)
    assert make_nlp(tiny_bi, examples=example, example_weight=0.0)(text).cats == pytest.approx(zero_shot, abs=1e-6)


def test_example_texts_are_encoded_once(tiny_bi):
    nlp = make_nlp(tiny_bi, examples=EXAMPLES)
    model = get_shim(nlp.get_pipe("gliclass").model).ensure_loaded()
    encoded = []
    original = model.encode_texts
    model.encode_texts = lambda ids, mask: encoded.append(len(ids)) or original(ids, mask)
    list(nlp.pipe(TEXTS, batch_size=2))
    # Every batch encodes its own texts; the two example texts are encoded in the first batch only.
    assert sum(encoded) == len(TEXTS) + len(EXAMPLES)


def test_processor_examples_reach_a_bi_encoder_as_in_the_pipe(tiny_bi):
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    with torch.inference_mode():
        zero_shot = model.encode(processor(TEXTS, LABELS)).logits
        shown = model.encode(processor(TEXTS, LABELS, examples=EXAMPLES)).logits
    assert (zero_shot - shown).abs().max() > 1e-4
    through_pipe = cats_matrix(make_nlp(tiny_bi, examples=EXAMPLES).pipe(TEXTS))
    numpy.testing.assert_allclose(torch.sigmoid(shown).numpy(), through_pipe, atol=1e-5)

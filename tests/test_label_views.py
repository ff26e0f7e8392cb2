"""Label views: a bi-encoder reading each label through several templates scores the mean of the
views' logits, encodes each view once, trains through all of them and keeps them when saved."""

from __future__ import annotations

import copy

import pytest
import spacy
import torch
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_gliclass.errors import GLiClassError
from spacy_gliclass.modeling import GLiClassModel

from .conftest import LABELS, cats_matrix, make_nlp

TEXTS = ["The striker scored twice in the final minutes.", "Profits rose as the company expanded abroad.", "ok"]
VIEWS = ["This text is about {label}.", "{label}"]


def _logits(path, template, texts=TEXTS, labels=LABELS):
    model, processor = GLiClassModel.from_pretrained(path)
    model.config.label_template = template
    with torch.inference_mode():
        return model.encode(processor(texts, labels)).logits


def test_views_score_the_mean_of_each_templates_logits(tiny_bi):
    single = [_logits(tiny_bi, template) for template in VIEWS]
    both = _logits(tiny_bi, VIEWS)
    assert not torch.allclose(single[0], single[1], atol=1e-3)  # the views differ, so the mean is a test
    assert torch.allclose(both, (single[0] + single[1]) / 2, atol=1e-5)


def test_views_with_per_text_label_sets_and_batches(tiny_bi):
    per_text = [LABELS, LABELS[1:], LABELS[:1]]
    together = _logits(tiny_bi, VIEWS, labels=per_text)
    for i, (text, labels) in enumerate(zip(TEXTS, per_text, strict=True)):
        alone = _logits(tiny_bi, VIEWS, texts=[text], labels=labels)
        assert torch.allclose(together[i, : len(labels)], alone[0], atol=1e-5)


def test_each_view_of_a_label_is_encoded_once_then_cached(tiny_bi):
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    model.config.label_template = VIEWS
    rows = []
    original = model._encode_labels_uncached
    model._encode_labels_uncached = lambda ids, mask: rows.append(len(ids)) or original(ids, mask)
    with torch.inference_mode():
        first = model.encode(processor(TEXTS, LABELS)).logits
        again = model.encode(processor(TEXTS, LABELS)).logits
    assert rows == [len(LABELS) * len(VIEWS)]
    assert torch.equal(first, again)


def test_the_pipe_takes_views_from_its_config_and_saves_them(tiny_bi, tmp_path):
    nlp = make_nlp(tiny_bi, label_template=VIEWS)
    expected = cats_matrix(nlp.pipe(TEXTS))
    one_view = cats_matrix(make_nlp(tiny_bi, label_template=VIEWS[0]).pipe(TEXTS))
    assert abs(expected - one_view).max() > 1e-4
    nlp.to_disk(tmp_path / "pipeline")
    reloaded = spacy.load(tmp_path / "pipeline")
    assert reloaded.get_pipe("gliclass").model.shims[0].cfg["label_template"] == VIEWS
    assert abs(cats_matrix(reloaded.pipe(TEXTS)) - expected).max() < 1e-5


def test_training_moves_the_views_scores(tiny_bi):
    fix_random_seed(0)
    nlp = make_nlp(tiny_bi, label_template=VIEWS, head_lr_scale=10.0, loss="softmax")
    gold = {"sports": 1.0, "business": 0.0, "science and technology": 0.0}
    examples = [Example.from_dict(nlp.make_doc(TEXTS[0]), {"cats": gold})]
    optimizer = nlp.initialize(lambda: examples)
    before = nlp(TEXTS[0]).cats["sports"]
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    assert nlp(TEXTS[0]).cats["sports"] > before


@pytest.mark.parametrize(
    "template,message",
    [
        ([], "non-empty list"),
        (["{label}", "no place for the label"], "no place for the label"),
        (["{label}", "{name}"], "{name}"),
    ],
)
def test_bad_views_are_refused_at_add_pipe(tiny_bi, template, message):
    with pytest.raises(GLiClassError, match="label_template") as err:
        make_nlp(tiny_bi, label_template=template)
    assert message in str(err.value)


def test_a_uni_encoder_refuses_views(tiny_uni):
    nlp = make_nlp(tiny_uni, label_template=VIEWS)
    with pytest.raises(GLiClassError, match="bi-encoders"):
        nlp(TEXTS[0])


def test_the_batch_says_how_many_views_it_holds(tiny_bi):
    """A processor whose config has other templates than its model's still gets its views averaged
    right: the model reads the view count from the batch, not from its own config."""
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    processor.config = copy.deepcopy(model.config)
    processor.config.label_template = VIEWS
    batch = processor(TEXTS, LABELS)
    assert batch.label_views == len(VIEWS) and len(model.config.label_templates) == 1
    with torch.inference_mode():
        logits = model.encode(batch).logits
    assert torch.allclose(logits, _logits(tiny_bi, VIEWS), atol=1e-5)


def test_label_rows_that_are_not_whole_views_are_refused(tiny_bi):
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    batch = processor(TEXTS, LABELS)
    batch.label_views = 2  # three labels, one row each: not a whole number of two-view labels
    with pytest.raises(GLiClassError, match="3 label rows") as err, torch.inference_mode():
        model.encode(batch)
    assert "2 view(s)" in str(err.value)

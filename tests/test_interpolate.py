"""WiSE-FT interpolation of a trained pipeline with its start model (``interpolate`` command)."""

from __future__ import annotations

import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_gliclass.architectures import get_shim
from spacy_gliclass.cli.interpolate import interpolate
from spacy_gliclass.errors import GLiClassError

LABELS = ["sports", "business"]
TRAIN = [("The team won the match.", "sports"), ("Profits rose at the bank.", "business")]
TEXTS = ["A late goal decided the final.", "The company cut its costs."]


def cats(nlp):
    return numpy.array([[doc.cats[x] for x in LABELS] for doc in nlp.pipe(TEXTS)])


def weights(nlp):
    model = get_shim(nlp.get_pipe("gliclass").model).fp32_model()
    return {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}


@pytest.fixture(scope="module")
def trained(tiny_bi, tmp_path_factory):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": {"name": str(tiny_bi), "head_lr_scale": 10.0}, "labels": LABELS})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {x: float(x == y) for x in LABELS}}) for t, y in TRAIN]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    optimizer.learn_rate = 1e-2
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("trained") / "model"
    nlp.to_disk(path)
    return path


def test_alpha_moves_the_weights_between_start_and_fine_tuned(trained, tiny_bi, tmp_path):
    start = spacy.blank("en")
    start.add_pipe("gliclass", config={"model": str(tiny_bi), "labels": LABELS})
    tuned = spacy.load(trained)
    w_start, w_tuned = weights(start), weights(tuned)
    assert any(not numpy.allclose(w_start[k], w_tuned[k]) for k in w_start)  # training moved something
    for alpha in (0.0, 0.5, 1.0):
        # The default start is the model the pipe was created from (here the tiny checkpoint).
        interpolate(trained, tmp_path / str(alpha), alpha=alpha, start=None, pipe_name="gliclass")
        mixed = spacy.load(tmp_path / str(alpha))
        for k, v in weights(mixed).items():
            numpy.testing.assert_allclose(v, w_start[k] + alpha * (w_tuned[k] - w_start[k]), atol=1e-6)
    numpy.testing.assert_allclose(cats(spacy.load(tmp_path / "0.0")), cats(start), atol=1e-5)
    numpy.testing.assert_allclose(cats(spacy.load(tmp_path / "1.0")), cats(tuned), atol=1e-5)


def test_bad_alpha_and_a_different_start_model_are_refused(trained, tiny_uni, tmp_path):
    with pytest.raises(GLiClassError, match="alpha must be between 0 and 1"):
        interpolate(trained, tmp_path / "x", alpha=1.5, start=None, pipe_name="gliclass")
    with pytest.raises(GLiClassError, match="Pass --start with the checkpoint"):
        interpolate(trained, tmp_path / "y", alpha=0.5, start=str(tiny_uni), pipe_name="gliclass")

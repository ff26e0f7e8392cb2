"""The config layout: pipe settings flat, model settings in a nested block, the loss registered;
labels of a call passed explicitly; training planned like inference."""

from __future__ import annotations

import subprocess
import sys
import warnings
from functools import partial

import numpy
import pytest
import spacy
from confection import ConfigValidationError
from spacy.training import Example

from spacy_gliclass.component import GLiClassCategorizer
from spacy_gliclass.errors import GLiClassError
from spacy_gliclass.pipeline import load_saved_pipeline
from spacy_gliclass.settings import ModelSettings, PipeSettings

from .conftest import make_nlp as make_pipeline

LABELS = ["sports", "business", "science"]
LONG = " ".join(["the match went on and on"] * 60)
make_nlp = partial(make_pipeline, labels=LABELS)


def test_default_config_has_one_model_block_and_one_loss_block():
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": {"name": "floor"}})
    cfg = nlp.config["components"]["gliclass"]
    assert cfg["model"]["@architectures"] == "spacy-gliclass.GLiClassModel.v1"
    assert {k: v for k, v in cfg["model"].items() if k != "@architectures"} == {
        **ModelSettings().__dict__,
        "name": "floor",
    }
    assert cfg["loss"] == {"@losses": "spacy-gliclass.focal_loss.v1", "alpha": 0.5, "gamma": 2.0}
    assert set(cfg) == {"factory", "model", "loss", "scorer", *PipeSettings.names()}


def test_model_shorthand_and_partial_block(tiny_uni):
    short = spacy.blank("en")
    short.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": LABELS})
    block = make_nlp(tiny_uni, max_length=128)
    assert block.config["components"]["gliclass"]["model"]["max_length"] == 128
    numpy.testing.assert_allclose(
        [list(d.cats.values()) for d in short.pipe(["a goal", "a market"])],
        [list(d.cats.values()) for d in block.pipe(["a goal", "a market"])],
        atol=1e-6,
    )


@pytest.mark.parametrize("key", ["max_length", "quantize", "focal_alpha"])
def test_old_flat_settings_are_refused(tiny_uni, key):
    with pytest.raises(ConfigValidationError, match=key):
        spacy.blank("en").add_pipe("gliclass", config={"model": str(tiny_uni), key: 1})


def test_a_pipeline_saved_with_flat_settings_names_their_new_place(tiny_uni, tmp_path):
    make_nlp(tiny_uni).to_disk(tmp_path / "old")
    config = (tmp_path / "old" / "config.cfg").read_text()
    (tmp_path / "old" / "config.cfg").write_text(config.replace("[components.gliclass]\n", "[components.gliclass]\nmax_length = 128\ndevice = \"\"\n"))
    with pytest.raises(GLiClassError, match=r"max_length -> \[components.gliclass.model\] max_length"):
        load_saved_pipeline(tmp_path / "old")


def test_a_loss_given_as_a_string_says_how_to_write_it(tiny_uni):
    with pytest.raises(GLiClassError, match="@losses"):
        spacy.blank("en").add_pipe("gliclass", config={"model": str(tiny_uni), "loss": "softmax"})


def test_unknown_setting_is_named(tiny_uni):
    nlp = make_nlp(tiny_uni)
    with pytest.raises(GLiClassError, match="threshhold"):
        GLiClassCategorizer(nlp.vocab, nlp.get_pipe("gliclass").model, threshhold=0.3)


def test_losses_resolve_by_name_after_import_spacy():
    """Entry points: a config can name the losses before anything of ours was imported."""
    code = (
        "import spacy, torch\n"
        "loss = spacy.util.registry.losses.get('spacy-gliclass.focal_loss.v1')(alpha=0.25, gamma=1.0)\n"
        "x = torch.zeros(1, 2)\n"
        "print(type(loss).__name__, float(loss(x, torch.ones(1, 2), torch.ones(1, 2))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    name, value = out.split()
    assert name == "FocalLoss" and float(value) == pytest.approx(0.25 * 0.5 * numpy.log(2))


def test_labels_of_interleaved_calls_never_mix(tiny_uni):
    pipe = make_nlp(tiny_uni).get_pipe("gliclass")
    nlp = spacy.blank("en")
    first = pipe.pipe((nlp.make_doc(t) for t in ["a", "b", "c"]), labels=["x", "y"], batch_size=1)
    second = pipe.pipe((nlp.make_doc(t) for t in ["d", "e", "f"]), labels=["z"], batch_size=1)
    for _ in range(3):
        assert set(next(first).cats) == {"x", "y"}
        assert set(next(second).cats) == {"z"}


def test_predict_takes_the_call_labels(tiny_uni):
    nlp = make_nlp(tiny_uni)
    pipe = nlp.get_pipe("gliclass")
    docs = [nlp.make_doc("a goal"), nlp.make_doc("a market")]
    scores = pipe.predict(docs, labels=["z", "w"])
    assert scores.shape == (2, 2)
    pipe.set_annotations(docs, scores, labels=["z", "w"])
    assert [list(d.cats) for d in docs] == [["z", "w"], ["z", "w"]]
    assert not hasattr(pipe, "_call_labels")


def test_training_reads_long_texts_in_windows_like_inference(tiny_uni, monkeypatch):
    nlp = make_nlp(tiny_uni, max_length=64, window_size=24, window_overlap=4)
    pipe = nlp.get_pipe("gliclass")
    nlp.initialize()
    processor = pipe.model.shims[0].processor
    rows = []
    collate = processor.collate
    monkeypatch.setattr(processor, "collate", lambda seqs, *a, **k: rows.append(len(seqs)) or collate(seqs, *a, **k))
    doc = nlp.make_doc(LONG)
    reference = doc.copy()
    reference.cats = {"sports": 1.0, "business": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "A text was cut" warning: nothing is truncated
        losses = nlp.update([Example(doc, reference)], sgd=nlp.create_optimizer())
    n_tokens = len(processor.tokenize(LONG))
    assert rows == [len(range(0, n_tokens - 4, 20))] and rows[0] > 1
    assert numpy.isfinite(losses["gliclass"])

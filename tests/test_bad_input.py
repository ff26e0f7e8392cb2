"""Bad settings, tampered saved pipelines and broken checkpoints fail early with a clear error (issue 17)."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from functools import partial

import numpy
import pytest
import spacy

from spacy_gliclass.errors import CheckpointError, GLiClassError
from spacy_gliclass.modeling import GLiClassModel

from .conftest import build_tiny
from .conftest import cats_matrix as cats_in_order
from .conftest import make_nlp as make_pipeline

LABELS = ["sports", "business", "science"]
TEXTS = ["The striker scored twice in the final.", "Shares tumbled after the profit warning."]
LONG_TEXT = " ".join(["the match went on and on"] * 120)  # ~700 words
make_nlp = partial(make_pipeline, labels=LABELS)
cats_matrix = partial(cats_in_order, labels=LABELS)


@pytest.fixture(scope="module")
def saved_pipeline(tiny_uni, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved")
    make_nlp(tiny_uni).to_disk(path)
    return path


# -- settings -----------------------------------------------------------------------------------
def test_max_length_above_the_encoder_positions_is_refused_at_initialize(tmp_path):
    short = build_tiny(tmp_path / "short", backbone={"max_position_embeddings": 128})
    nlp = make_nlp(short)  # max_length defaults to 512
    with pytest.raises(GLiClassError, match=r"max_length=512 .* 128 positions.*at most 128"):
        nlp.initialize()
    doc = make_nlp(short, max_length=128)(LONG_TEXT)  # at the limit, a long text is scored in windows
    assert set(doc.cats) == set(LABELS)


def test_window_overlap_larger_than_the_automatic_window_is_refused(tiny_uni):
    nlp = make_nlp(tiny_uni, max_length=64, window_overlap=60)  # window_size 0: ~50 text tokens fit
    with pytest.raises(GLiClassError, match=r"window_overlap \(60\) must be smaller than the window"):
        nlp(LONG_TEXT)


@pytest.mark.parametrize(
    "setting,value,match",
    [
        ("threshold", 1.5, "between 0 and 1"),
        ("threshold", -0.1, "between 0 and 1"),
        ("batch_size", 0, "integer ≥ 1"),
        ("window_overlap", -1, "integer ≥ 0"),
    ],
)
def test_out_of_range_settings_are_refused_at_add_pipe(tiny_uni, setting, value, match):
    with pytest.raises(GLiClassError, match=f"`{setting}` must be an? .*{match}"):
        make_nlp(tiny_uni, **{setting: value})


def test_descriptions_of_labels_the_pipe_does_not_have_warn(tiny_uni):
    with pytest.warns(UserWarning, match=r"describes \['sprots'\], which are not among the pipe's labels"):
        make_nlp(tiny_uni, label_descriptions={"sprots": "about sport"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_nlp(tiny_uni, label_descriptions={"sports": "about sport"})


@pytest.mark.parametrize("device", ["tpu:7", "cuda:99"])
def test_a_device_this_machine_lacks_is_refused_at_add_pipe(tiny_uni, device):
    with pytest.raises(GLiClassError, match=f"device '{device}' is not usable here"):
        make_nlp(tiny_uni, device=device)


# -- saved pipelines ----------------------------------------------------------------------------
def test_a_saved_pipeline_loads_after_its_source_checkpoint_is_deleted(tmp_path):
    checkpoint = build_tiny(tmp_path / "checkpoint")
    nlp = make_nlp(checkpoint.resolve())
    expected = cats_matrix(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(checkpoint)
    loaded = spacy.load(tmp_path / "pipeline")
    numpy.testing.assert_array_equal(cats_matrix(loaded.pipe(TEXTS)), expected)


def test_the_loading_config_decides_how_a_saved_pipe_runs(saved_pipeline):
    """Device, max_length and quantisation come from the config, so a pipeline saved with
    ``device = "cuda:0"`` can be loaded on a CPU with a config override."""
    from spacy_gliclass.architectures import get_shim

    nlp = spacy.load(saved_pipeline, config={"components.gliclass.model.max_length": 64})
    shim = get_shim(nlp.get_pipe("gliclass").model)
    assert shim.processor.max_length == shim.cfg["max_length"] == 64


@pytest.mark.parametrize(
    "edit,match",
    [
        ({"labels": "sports"}, "`labels` must be a list of strings"),
        ({"labels": ["a", "a"]}, "appears more than once"),
        ({"batch_size": 0}, "`batch_size` must be an integer ≥ 1"),
        ({"aggregation": "median"}, "'aggregation' setting must be one of"),
        ({"threshold": "high"}, "`threshold` must be a number between 0 and 1"),
    ],
)
def test_a_tampered_saved_cfg_is_refused_on_load(saved_pipeline, tmp_path, edit, match):
    path = shutil.copytree(saved_pipeline, tmp_path / "pipeline")
    cfg_file = path / "gliclass" / "cfg"
    cfg_file.write_text(json.dumps({**json.loads(cfg_file.read_text()), **edit}))
    with pytest.raises(GLiClassError, match=f"saved settings of the 'gliclass' pipe.*{match}"):
        spacy.load(path)


# -- checkpoints --------------------------------------------------------------------------------
def test_a_corrupt_tokenizer_json_is_a_clear_error(tiny_uni, tmp_path):
    broken = shutil.copytree(tiny_uni, tmp_path / "broken")
    (broken / "tokenizer.json").write_text("{not json")
    with pytest.raises(GLiClassError, match="tokenizer files.*corrupt"):
        GLiClassModel.from_pretrained(broken)


def test_missing_tokenizer_files_are_named_as_such(tiny_uni, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_uni / name, bare / name)
    with pytest.raises(CheckpointError, match="has no tokenizer files") as info:
        GLiClassModel.from_pretrained(bare)
    assert "upgrade" not in str(info.value)


# -- annotate: inputs, outputs and resuming ---------------------------------------------------------
def annotate(inp, out, model, **kwargs):
    from spacy_gliclass.annotate import AnnotateSettings, annotate_corpus

    return annotate_corpus(AnnotateSettings(input=inp, output=out, model=str(model), progress=False, **kwargs))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_csv_records_are_cut_as_pythons_csv_cuts_them(tmp_path, saved_pipeline):
    inp = tmp_path / "in.csv"
    inp.write_text('id,text\n1,a 5" screen\n2,"quoted, with ""quotes"""\n3,third\n', encoding="utf8")
    summary = annotate(inp, tmp_path / "out.jsonl", saved_pipeline)
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == ['a 5" screen', 'quoted, with "quotes"', "third"]
    assert (summary.read, summary.written, summary.rejected) == (3, 3, 0)


def test_csv_invalid_utf8_is_rejected_like_jsonl(tmp_path, saved_pipeline):
    inp = tmp_path / "in.csv"
    inp.write_bytes(b"id,text\n1,caf\xe9 au lait\n2,fine\n")
    summary = annotate(inp, tmp_path / "out.jsonl", saved_pipeline)
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["line"], r["reason"][:19]) for r in rejects] == [(2, "not valid UTF-8 (in")]
    assert (summary.written, summary.rejected) == (1, 1)


@pytest.fixture
def never_load(monkeypatch):
    """Fail the test if annotate gets as far as loading the model."""
    from spacy_gliclass.annotate import runner

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(runner, "_make_engine", refuse)


def test_bad_annotate_settings_fail_before_the_model_loads(tmp_path, saved_pipeline, never_load):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"text": "hello"}\n', encoding="utf8")
    (tmp_path / "file").write_text("")
    with pytest.raises(GLiClassError, match="Cannot write .*out.jsonl"):
        annotate(inp, tmp_path / "file" / "out.jsonl", saved_pipeline)
    with pytest.raises(GLiClassError, match="would overwrite the input"):
        annotate(inp, inp, saved_pipeline)
    assert inp.read_text(encoding="utf8") == '{"text": "hello"}\n'
    for threshold in (math.nan, 1.5):
        with pytest.raises(GLiClassError, match="`threshold` must be a number between 0 and 1"):
            annotate(inp, tmp_path / "out.jsonl", saved_pipeline, threshold=threshold)


def interrupted(tmp_path, saved_pipeline, monkeypatch, n_records=6):
    """An input and the output of a run killed after its first span (2 records) was committed."""
    from spacy_gliclass.annotate.engine import Annotator

    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"text": f"text number {i}"}) + "\n" for i in range(n_records)))
    original, calls = Annotator.annotate, []

    def dying(self, span):
        calls.append(span)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, span)

    monkeypatch.setattr(Annotator, "annotate", dying)
    with pytest.raises(KeyboardInterrupt):
        annotate(inp, tmp_path / "out.jsonl", saved_pipeline, batch_size=2)
    monkeypatch.setattr(Annotator, "annotate", original)
    return inp, tmp_path / "out.jsonl"


def test_resume_refuses_an_input_edited_where_it_was_already_annotated(tmp_path, saved_pipeline, monkeypatch):
    inp, out = interrupted(tmp_path, saved_pipeline, monkeypatch)
    inp.write_text(inp.read_text().replace("text number 1", "text number X"))  # same size
    with pytest.raises(GLiClassError, match="changed in the part the interrupted run already annotated"):
        annotate(inp, out, saved_pipeline, batch_size=2, resume=True)
    inp.write_text(inp.read_text().replace("text number 3", "text number 33"))  # not yet annotated: fine
    inp.write_text(inp.read_text().replace("text number X", "text number 1"))
    summary = annotate(inp, out, saved_pipeline, batch_size=2, resume=True)
    assert [r["text"] for r in read_jsonl(out)][3] == "text number 33"
    assert (summary.read, summary.resumed_from) == (6, 2)


def test_resume_with_a_corrupt_progress_file_is_a_clear_error(tmp_path, saved_pipeline, monkeypatch):
    inp, out = interrupted(tmp_path, saved_pipeline, monkeypatch)
    (tmp_path / "out.jsonl.progress.json").write_text('{"records": 2, "sett')
    with pytest.raises(GLiClassError, match="progress file .* is corrupt"):
        annotate(inp, out, saved_pipeline, batch_size=2, resume=True)

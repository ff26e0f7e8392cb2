"""``runtime = "onnx"``: ONNX Runtime gives torch's doc.cats, saves, forks and annotates like it.

Tiny random models, exported once per session with the real ``export --onnx`` command and run by
the real onnxruntime. Timing is the benchmark's business (``benchmark --runtimes``), not a test's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy
import pytest
import spacy
from typer.testing import CliRunner

from spacy_gliclass.cli import app
from spacy_gliclass.errors import CheckpointError, GLiClassError

from .conftest import LABELS, cats_matrix, make_nlp

needs_ort = pytest.mark.skipif(find_spec("onnxruntime") is None, reason="the onnx extra is not installed")

TEXTS = [
    "The striker scored twice in the final minutes.",
    "ok",
    "Stocks fell sharply after the central bank raised interest rates again, and traders "
    "worried that the economy would slow down before the end of the year.",
    "",
    "A new telescope photographed the atmosphere of a distant planet.",
]


def export(checkpoint: Path, out: Path) -> Path:
    """A torch pipeline around ``checkpoint``, exported with ``export --onnx``."""
    make_nlp(checkpoint).to_disk(out.with_suffix(".pipeline"))
    result = CliRunner().invoke(app, ["export", str(out.with_suffix(".pipeline")), str(out), "--onnx"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def onnx_uni(tiny_uni, tmp_path_factory) -> Path:
    return export(tiny_uni, tmp_path_factory.mktemp("onnx") / "uni")


@pytest.fixture(scope="module")
def onnx_bi(tiny_bi, tmp_path_factory) -> Path:
    return export(tiny_bi, tmp_path_factory.mktemp("onnx") / "bi")


@needs_ort
def test_export_writes_fp32_and_int8_graphs_next_to_the_checkpoint(onnx_uni):
    assert {p.name for p in (onnx_uni / "onnx").iterdir()} == {"encoder.onnx", "encoder.int8.onnx"}
    assert (onnx_uni / "config.json").is_file() and (onnx_uni / "model.safetensors").is_file()


@needs_ort
@pytest.mark.parametrize("arch", ["uni", "bi"])
@pytest.mark.parametrize("settings", [{}, {"window_size": 8, "window_overlap": 2}, {"exclusive_classes": True}])
def test_onnx_fp32_equals_torch(arch, settings, onnx_uni, onnx_bi):
    folder = onnx_uni if arch == "uni" else onnx_bi
    torch_cats = cats_matrix(make_nlp(folder, batch_size=2, **settings).pipe(TEXTS))
    onnx_cats = cats_matrix(make_nlp(folder, batch_size=2, runtime="onnx", **settings).pipe(TEXTS))
    numpy.testing.assert_allclose(onnx_cats, torch_cats, atol=1e-4)


@needs_ort
@pytest.mark.parametrize("arch", ["uni", "bi"])
def test_onnx_int8_runs_and_stays_close(arch, onnx_uni, onnx_bi):
    folder = onnx_uni if arch == "uni" else onnx_bi
    torch_cats = cats_matrix(make_nlp(folder).pipe(TEXTS))
    int8_cats = cats_matrix(make_nlp(folder, runtime="onnx", quantize="int8").pipe(TEXTS))
    assert not numpy.array_equal(int8_cats, torch_cats)  # the int8 graph really ran
    numpy.testing.assert_allclose(int8_cats, torch_cats, atol=0.05)


@needs_ort
def test_bi_encoder_labels_are_encoded_once(onnx_bi):
    from spacy_gliclass.architectures import get_shim

    nlp = make_nlp(onnx_bi, runtime="onnx")
    list(nlp.pipe(TEXTS))
    model = get_shim(nlp.get_pipe("gliclass").model).ensure_loaded()
    assert len(model._label_cache) == len(LABELS)


@needs_ort
@pytest.mark.parametrize("quantize", ["", "int8"])
def test_save_and_load_without_the_export_folder(quantize, onnx_bi, tmp_path):
    folder = shutil.copytree(onnx_bi, tmp_path / "export")
    nlp = make_nlp(folder, runtime="onnx", quantize=quantize)
    expected = cats_matrix(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(folder / "onnx")  # the saved pipeline carries its graph
    loaded = spacy.load(tmp_path / "pipeline")
    numpy.testing.assert_allclose(cats_matrix(loaded.pipe(TEXTS)), expected, atol=1e-6)
    assert loaded.get_pipe("gliclass").cfg == nlp.get_pipe("gliclass").cfg


@needs_ort
def test_saved_quantisation_cannot_be_switched_at_load(onnx_uni, tmp_path):
    make_nlp(onnx_uni, runtime="onnx").to_disk(tmp_path / "pipeline")
    with pytest.raises(GLiClassError, match="E088|saved with quantize"):
        spacy.load(tmp_path / "pipeline", config={"components": {"gliclass": {"model": {"quantize": "int8"}}}})


@needs_ort
def test_multiprocessing_pipe(onnx_uni):
    nlp = make_nlp(onnx_uni, runtime="onnx", quantize="int8")
    expected = cats_matrix(nlp.pipe(TEXTS))  # a session exists in the parent before the fork
    docs = list(nlp.pipe(TEXTS * 2, n_process=2, batch_size=2))
    assert [d.text for d in docs] == TEXTS * 2
    numpy.testing.assert_allclose(cats_matrix(docs), numpy.vstack([expected] * 2), atol=1e-5)


@needs_ort
def test_annotate_with_an_onnx_pipeline(onnx_uni, tmp_path):
    nlp = make_nlp(onnx_uni, runtime="onnx")
    nlp.to_disk(tmp_path / "pipeline")
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:3]), encoding="utf8")
    out = tmp_path / "out.jsonl"
    args = ["annotate", str(inp), str(out), "--model", str(tmp_path / "pipeline"), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf8").splitlines()]
    expected = cats_matrix(nlp.pipe(TEXTS[:3]))
    numpy.testing.assert_allclose([[r["cats"][label] for label in LABELS] for r in rows], expected, atol=1e-5)


@needs_ort
def test_onnx_pipes_are_inference_only(onnx_uni):
    from spacy.training import Example

    nlp = make_nlp(onnx_uni, runtime="onnx")
    nlp.initialize()
    example = Example.from_dict(nlp.make_doc("A goal."), {"cats": {"sports": 1.0}})
    with pytest.raises(GLiClassError, match="inference-only"):
        nlp.update([example])


@needs_ort
def test_a_folder_without_graphs_is_refused_with_the_export_command(tiny_uni):
    with pytest.raises(CheckpointError, match="export PIPELINE OUTPUT --onnx"):
        make_nlp(tiny_uni, runtime="onnx")("text")


def test_unknown_runtime_is_refused(tiny_uni):
    with pytest.raises(GLiClassError, match="runtime must be"):
        make_nlp(tiny_uni, runtime="tensorrt")


def test_missing_extra_gives_the_install_command(tiny_uni, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with pytest.raises(GLiClassError, match=r"spacy-gliclass\[onnx\]"):
        make_nlp(tiny_uni, runtime="onnx")


def test_torch_pipes_never_import_onnxruntime(tiny_uni):
    code = (
        "import sys, spacy, spacy_gliclass\n"
        f"nlp = spacy.blank('en'); nlp.add_pipe('gliclass', config={{'model': {str(tiny_uni)!r}, 'labels': ['a']}})\n"
        "nlp('some text')\n"
        "assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_ort
@pytest.mark.parametrize(
    "fixture",
    [
        "bert-simple-first-pf1-squeeze",
        "bert-simple-avg-pf0-layer1",
        "deberta-mlp-avg-pf1",
        "modernbert-simple-first-pf1",
    ],
)
def test_other_backbones_and_hidden_state_heads_match_torch(fixture, tmp_path):
    """Layer-wise attention and ``encoder_layer_id`` read every layer's states from the graph."""
    from spacy_gliclass.modeling import GLiClassModel
    from spacy_gliclass.modeling.onnx_export import export_onnx

    folder = shutil.copytree(Path(__file__).parent / "fixtures" / "upstream" / fixture, tmp_path / fixture)
    model, _ = GLiClassModel.from_pretrained(folder)
    export_onnx(model, folder)
    max_length = 128  # the fixtures' encoders have 128 positions, and the pipe checks it
    torch_cats = cats_matrix(make_nlp(folder, max_length=max_length).pipe(TEXTS))
    onnx_cats = cats_matrix(make_nlp(folder, runtime="onnx", max_length=max_length).pipe(TEXTS))
    numpy.testing.assert_allclose(onnx_cats, torch_cats, atol=1e-4)

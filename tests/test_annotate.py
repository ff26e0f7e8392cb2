"""``annotate``: formats, rejects, kill-and-resume, and the Ray engine against the local one."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_gliclass.annotate import AnnotateSettings, annotate_corpus
from spacy_gliclass.annotate.engine import Annotator
from spacy_gliclass.cli import app
from spacy_gliclass.errors import GLiClassError

LABELS = ["sports", "business", "science"]
TEXTS = [
    "The striker scored twice in the final.",
    "Shares tumbled after the profit warning.",
    "A new exoplanet was found by the telescope.",
    "The match was postponed because of rain.",
    "The central bank raised interest rates again.",
    "Researchers sequenced the genome of the plant.",
    "Fans celebrated the title in the streets.",
    "The merger creates the largest retailer in Europe.",
    "Astronomers observed a distant supernova.",
    "She won the marathon in record time.",
    "Oil prices rose on supply worries.",
]


@pytest.fixture(scope="module")
def pipeline_dir(tiny_uni, tmp_path_factory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": LABELS})
    path = tmp_path_factory.mktemp("pipeline")
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def expected_cats(pipeline_dir) -> list[dict[str, float]]:
    """What the pipeline gives each text when called directly."""
    nlp = spacy.load(pipeline_dir)
    return [doc.cats for doc in nlp.pipe(TEXTS)]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf8")
    return path


def run(inp: Path, out: Path, model: Path | str, **kwargs) -> object:
    kwargs.setdefault("progress", False)
    return annotate_corpus(AnnotateSettings(input=inp, output=out, model=str(model), **kwargs))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def assert_cats_close(got: dict, want: dict) -> None:
    assert list(got) == LABELS
    assert got == pytest.approx({k: want[k] for k in LABELS}, abs=1e-5)


def test_jsonl_roundtrip_keeps_fields_order_and_scores(tmp_path, pipeline_dir, expected_cats):
    rows = [{"id": i, "text": t, "meta": {"k": i}} for i, t in enumerate(TEXTS)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    summary = run(inp, tmp_path / "out.jsonl", pipeline_dir, batch_size=4, threshold=0.5)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert (summary.read, summary.written, summary.rejected) == (len(TEXTS), len(TEXTS), 0)
    assert [r["id"] for r in out] == list(range(len(TEXTS)))
    assert [r["meta"] for r in out] == [r["meta"] for r in rows]
    for record, want in zip(out, expected_cats, strict=True):
        assert_cats_close(record["cats"], want)
        assert record["labels"] == [k for k in LABELS if record["cats"][k] >= 0.5]
    assert not (tmp_path / "out.jsonl.part").exists() and not (tmp_path / "out.jsonl.progress.json").exists()
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_text() == ""


@pytest.mark.parametrize("fmt", ["csv", "txt", "spacy"])
def test_other_input_formats(tmp_path, pipeline_dir, expected_cats, fmt):
    if fmt == "csv":
        inp = tmp_path / "in.csv"
        with inp.open("w", newline="", encoding="utf8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "body"])
            writer.writerows([[i, t] for i, t in enumerate(TEXTS)])
        extra = {"text_field": "body"}
    elif fmt == "txt":
        inp = tmp_path / "in.txt"
        inp.write_text("\n".join(TEXTS), encoding="utf8")  # no final newline: the last line still counts
        extra = {}
    else:
        nlp = spacy.blank("en")
        inp = tmp_path / "in.spacy"
        DocBin(docs=list(nlp.pipe(TEXTS))).to_disk(inp)
        extra = {}
    summary = run(inp, tmp_path / "out.jsonl", pipeline_dir, batch_size=3, **extra)
    out = read_jsonl(tmp_path / "out.jsonl")
    field = extra.get("text_field", "text")
    assert [r[field] for r in out] == TEXTS
    assert (summary.read, summary.written, summary.rejected) == (len(TEXTS), len(TEXTS), 0)
    if fmt == "csv":
        assert [r["id"] for r in out] == [str(i) for i in range(len(TEXTS))]
    for record, want in zip(out, expected_cats, strict=True):
        assert_cats_close(record["cats"], want)


def test_docbin_output_matches_jsonl_output(tmp_path, pipeline_dir):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS] + ["{broken"])
    run(inp, tmp_path / "out.jsonl", pipeline_dir, batch_size=4)
    summary = run(inp, tmp_path / "out.spacy", pipeline_dir, batch_size=4)
    assert (summary.written, summary.rejected) == (len(TEXTS), 1)
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab))
    assert [d.text for d in docs] == TEXTS
    for doc, record in zip(docs, read_jsonl(tmp_path / "out.jsonl"), strict=True):
        assert doc.cats == record["cats"]
    assert len(read_jsonl(tmp_path / "out.spacy.rejects.jsonl")) == 1


def test_checkpoint_dir_as_model_gives_same_scores(tmp_path, tiny_uni, pipeline_dir):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    run(inp, tmp_path / "a.jsonl", pipeline_dir)
    run(inp, tmp_path / "b.jsonl", tiny_uni, labels=LABELS)
    a, b = read_jsonl(tmp_path / "a.jsonl"), read_jsonl(tmp_path / "b.jsonl")
    for x, y in zip(a, b, strict=True):
        assert x["cats"] == pytest.approx(y["cats"], abs=1e-6)


def test_malformed_records_go_to_rejects_with_line_numbers(tmp_path, pipeline_dir):
    lines = [
        {"text": TEXTS[0]},
        "{not json",
        {"id": 3},
        {"text": 42},
        "",
        "[1, 2]",
        {"text": "   "},
        {"text": TEXTS[1]},
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", lines)
    (tmp_path / "in.jsonl").write_bytes(inp.read_bytes() + b'{"text": "bad \xff byte"}\n')
    summary = run(inp, tmp_path / "out.jsonl", pipeline_dir, batch_size=3)
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["line"], r["record"]) for r in rejects] == [(2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (9, 8)]
    reasons = [r["reason"] for r in rejects]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "missing field 'text'"
    assert reasons[2] == "field 'text' is int, not a string"
    assert reasons[3] == "blank line"
    assert reasons[4] == "not a JSON object but list"
    assert reasons[5] == "field 'text' is empty"
    assert "UTF-8" in reasons[6]
    assert rejects[0]["raw"] == "{not json"
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == [TEXTS[0], TEXTS[1]]
    assert (summary.read, summary.written, summary.rejected) == (9, 2, 7)
    assert summary.read == summary.written + summary.rejected


def test_csv_rejects_and_multiline_fields(tmp_path, pipeline_dir):
    inp = tmp_path / "in.csv"
    inp.write_text('id,text\n1,"two\nlines, with comma"\n2,too,many\n3,""\n4,"He said ""hi"""\n', encoding="utf8")
    summary = run(inp, tmp_path / "out.jsonl", pipeline_dir)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["text"] for r in out] == ["two\nlines, with comma", 'He said "hi"']
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "expected 2 fields, got 3"),
        (5, "field 'text' is empty"),
    ]
    assert (summary.read, summary.written, summary.rejected) == (4, 2, 2)


def test_kill_and_resume_is_byte_identical(tmp_path, pipeline_dir, monkeypatch):
    rows = [{"id": i, "text": TEXTS[i % len(TEXTS)]} for i in range(23)]
    rows[5] = "{oops"
    rows[17] = {"id": 17}
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    full = tmp_path / "full.jsonl"
    run(inp, full, pipeline_dir, batch_size=4)

    out = tmp_path / "out.jsonl"
    original = Annotator.annotate
    calls = {"n": 0}

    def dying(self, span):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return original(self, span)

    monkeypatch.setattr(Annotator, "annotate", dying)
    with pytest.raises(KeyboardInterrupt):
        run(inp, out, pipeline_dir, batch_size=4)
    monkeypatch.setattr(Annotator, "annotate", original)
    progress = json.loads((tmp_path / "out.jsonl.progress.json").read_text())
    assert progress["records"] == 12 and not out.exists()
    # A crash between writing a span and committing it leaves uncommitted bytes behind.
    with (tmp_path / "out.jsonl.part").open("ab") as f:
        f.write(b'{"half": "a record"')
    with (tmp_path / "out.jsonl.rejects.jsonl").open("ab") as f:
        f.write(b'{"line": 99}\n')
    with pytest.raises(GLiClassError, match="--resume"):
        run(inp, out, pipeline_dir, batch_size=4)
    with pytest.raises(GLiClassError, match="batch_size"):
        run(inp, out, pipeline_dir, batch_size=5, resume=True)
    summary = run(inp, out, pipeline_dir, batch_size=4, resume=True)
    assert out.read_bytes() == full.read_bytes()
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == (tmp_path / "full.jsonl.rejects.jsonl").read_bytes()
    assert (summary.read, summary.written, summary.rejected, summary.resumed_from) == (23, 21, 2, 12)


def test_cli_command_and_errors(tmp_path, pipeline_dir, tiny_uni):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS[:3]])
    runner = CliRunner()
    result = runner.invoke(
        app, ["annotate", str(inp), str(tmp_path / "out.jsonl"), "--model", str(pipeline_dir), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3" in result.output and "rejected 0" in result.output
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 3
    # A checkpoint has no labels of its own: --labels is required.
    result = runner.invoke(app, ["annotate", str(inp), str(tmp_path / "x.jsonl"), "--model", str(tiny_uni)])
    assert result.exit_code == 1 and "--labels" in result.output
    result = runner.invoke(app, ["annotate", str(inp), str(tmp_path / "x.txt"), "--model", str(pipeline_dir)])
    assert result.exit_code == 1 and ".jsonl or .spacy" in result.output


def test_ray_missing_gives_install_hint(tmp_path, pipeline_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": TEXTS[0]}])
    with pytest.raises(GLiClassError, match=r"spacy-gliclass\[ray\]"):
        run(inp, tmp_path / "out.jsonl", pipeline_dir, engine="ray")


@pytest.mark.slow
def test_ray_engine_matches_local(tmp_path, pipeline_dir):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    rows = [{"id": i, "text": TEXTS[i % len(TEXTS)] + f" ({i})"} for i in range(30)]
    rows[7] = "{bad"
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    run(inp, tmp_path / "local.jsonl", pipeline_dir, batch_size=4)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run(inp, tmp_path / "ray.jsonl", pipeline_dir, batch_size=4, engine="ray", workers=2)
    finally:
        ray.shutdown()
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "ray.jsonl.rejects.jsonl").read_bytes() == (tmp_path / "local.jsonl.rejects.jsonl").read_bytes()
    assert (summary.read, summary.written, summary.rejected) == (30, 29, 1)

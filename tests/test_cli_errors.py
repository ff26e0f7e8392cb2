"""The CLI commands check their input before the model loads and print our errors without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_gliclass.cli import app
from spacy_gliclass.training.ppo_config import DEFAULT_CONFIG_PATH


def invoke(*args: str) -> str:
    """Run a command that must fail with one of our errors: exit 1, ``Error: ...``, no traceback."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    assert result.output.startswith("Error: "), result.output
    return " ".join(result.output.split())  # the message, unwrapped


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf8")
    return path


# -- annotate -------------------------------------------------------------------------------------
def test_annotate_takes_labels_with_commas_from_a_labels_file(tmp_path, tiny_uni):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": "The striker scored twice."}])
    for name, content in (
        ("labels.txt", "sports, games\n\nbusiness\n"),
        ("labels.json", '["sports, games", "business"]'),
    ):
        (tmp_path / name).write_text(content, encoding="utf8")
        out = tmp_path / f"{name}.out.jsonl"
        args = ["annotate", inp, out, "--model", tiny_uni, "--labels-file", tmp_path / name, "--no-progress"]
        result = CliRunner().invoke(app, [str(arg) for arg in args])
        assert result.exit_code == 0, result.output
        assert list(json.loads(out.read_text())["cats"]) == ["sports, games", "business"]


def test_annotate_option_errors(tmp_path, tiny_uni):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    out = tmp_path / "out.jsonl"
    (tmp_path / "labels.json").write_text('["a", 1]', encoding="utf8")
    assert "not both" in invoke("annotate", inp, out, "--labels", "a", "--labels-file", tmp_path / "labels.json")
    assert "not a list of strings" in invoke("annotate", inp, out, "--labels-file", tmp_path / "labels.json")
    assert "No such file or directory" in invoke("annotate", inp, out, "--labels-file", tmp_path / "none.txt")
    message = invoke("annotate", inp, out, "--model", tiny_uni, "--labels", "a,b", "--threshold", "nan")
    assert "`threshold` must be a number between 0 and 1; got nan" in message


# -- evaluate -------------------------------------------------------------------------------------
@pytest.fixture
def datasets(tmp_path) -> Path:
    """A datasets folder with one good dataset; the tests add broken ones."""
    root = tmp_path / "datasets"
    add_dataset(root, "good", [{"text": "a fine text", "labels": ["x"]}])
    return root


def add_dataset(root: Path, name: str, rows: list) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "dataset_info.json").write_text(json.dumps({"labels": ["x", "y"]}))
    return write_jsonl(root / name / "test.jsonl", rows)


def evaluate(datasets: Path, names: str, *extra) -> str:
    # A model that does not exist: each error below must come before the model is loaded.
    return invoke("evaluate", "--model", datasets / "no-model", "--datasets-dir", datasets, "--datasets", names, *extra)


def test_evaluate_checks_datasets_and_output_before_the_model_loads(datasets, tmp_path):
    assert "No dataset 'nope'" in evaluate(datasets, "good,nope")
    assert "No datasets to evaluate" in evaluate(datasets, ",")
    path = add_dataset(datasets, "broken", [{"text": "ok", "labels": ["x"]}, "{not json"])
    assert f"'{path}', line 2: invalid JSON" in evaluate(datasets, "good,broken")
    path = add_dataset(datasets, "unlabelled", [{"text": "no labels here"}])
    assert f"'{path}', line 1: `labels` must be a non-empty list of strings; got None" in evaluate(
        datasets, "unlabelled"
    )
    path = add_dataset(datasets, "empty", [])
    assert f"'{path}' has no rows" in evaluate(datasets, "good,empty")
    (tmp_path / "file").write_text("")
    assert "Cannot write" in evaluate(datasets, "good", "--output", tmp_path / "file" / "scores.json")


# -- ppo ------------------------------------------------------------------------------------------
def ppo(tmp_path: Path, rows: list, *overrides: str) -> str:
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    return invoke("ppo", DEFAULT_CONFIG_PATH, tmp_path / "out", "--paths.train", train, *overrides)


GOOD_ROW = {"text": "a text", "labels": ["x"], "all_labels": ["x", "y"]}


@pytest.mark.parametrize(
    "override,match",
    [
        (("--training.batch_size", "0"), "`training.batch_size` must be an integer ≥ 1; got 0"),
        (("--training.max_steps", "ten"), "`training.max_steps` must be an integer ≥ 1; got 'ten'"),
        (("--training.clip", "nan"), "`training.clip` must be a number ≥ 0"),
        (("--training.dev_gain_z", "-1"), "`training.dev_gain_z` must be a number ≥ 0; got -1"),
    ],
)
def test_ppo_refuses_bad_training_settings(tmp_path, override, match):
    assert match in ppo(tmp_path, [GOOD_ROW], *override)


def test_ppo_names_the_file_and_line_of_bad_rows(tmp_path):
    path = tmp_path / "train.jsonl"
    assert f"'{path}', line 2: invalid JSON" in ppo(tmp_path, [GOOD_ROW, "{oops"])
    message = ppo(tmp_path, [GOOD_ROW, {"text": "t", "labels": [1, None]}])
    assert f"'{path}', line 2: `labels` must be a string or a list of strings; got [1, None]" in message


def test_ppo_prints_our_errors_without_a_traceback(tmp_path):
    assert "The PPO config" in invoke("ppo", tmp_path / "missing.cfg", tmp_path / "out")
    assert "No usable rows" in ppo(tmp_path, [{"text": ""}])

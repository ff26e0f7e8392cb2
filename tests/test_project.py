"""The spaCy project: its folds keep evaluation data out of training, its README is generated from
project.yml, and the `ci` workflow runs every command of `all` end to end on tiny settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from weasel.cli.document import project_document
from weasel.util import load_project_config

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "project"
DATASETS = ROOT.parent / "shared" / "datasets"
PAPER_SETS = {
    "sst2", "sst5", "rotten_tomatoes", "cr", "imdb", "ag_news", "20_newsgroups", "emotion",
    "financial_phrasebank", "cap_sotu", "sms_spam", "banking77", "massive_intent", "snips",
}  # fmt: skip


def names(value: str) -> set[str]:
    return {x.strip() for x in value.split(",") if x.strip()}


@pytest.fixture(scope="module")
def project() -> dict:
    return load_project_config(PROJECT)


def test_folds_cover_the_paper_sets_and_never_train_on_what_they_report(project):
    v = project["vars"]
    fold_a, fold_b = names(v["fold_a"]), names(v["fold_b"])
    assert fold_a | fold_b == PAPER_SETS and not fold_a & fold_b
    assert not names(v["support_sets"]) & PAPER_SETS
    assert names(v["fold_a_train"]) <= fold_a and names(v["fold_b_train"]) <= fold_b
    scripts = {c["name"]: c["script"] for c in project["commands"]}
    # Each fold model's training mixture is the support sets plus the *other* fold.
    convert_a, convert_b = scripts["convert"]
    assert f"{v['support_sets']},{v['fold_b_train']} corpus/heldout_a" in convert_a
    assert f"{v['support_sets']},{v['fold_a_train']} corpus/heldout_b" in convert_b
    # ... and is scored only on the fold it never saw.
    evaluations = " ".join(scripts["evaluate"])
    assert f"heldout_a/model-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_a']} " in evaluations
    assert f"heldout_b/model-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_b']} " in evaluations
    assert f"ppo_a/pipeline --datasets-dir {v['datasets_dir']} --datasets {v['fold_a']} " in evaluations
    assert f"ppo_b/pipeline --datasets-dir {v['datasets_dir']} --datasets {v['fold_b']} " in evaluations


def test_project_readme_is_generated_from_project_yml(tmp_path):
    project_document(PROJECT, tmp_path / "README.md")
    assert (PROJECT / "README.md").read_text(encoding="utf8") == (tmp_path / "README.md").read_text(encoding="utf8")


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the repo")
def test_ci_workflow_runs_every_command_of_all():
    subprocess.run([sys.executable, "-m", "spacy", "project", "run", "ci", str(PROJECT)], check=True, cwd=ROOT)
    scratch = PROJECT / "ci"
    report = (scratch / "results" / "REPORT.md").read_text(encoding="utf8")
    for name in PAPER_SETS:
        assert f"| {name} |" in report
    floor = json.loads((scratch / "results" / "eval_floor.json").read_text(encoding="utf8"))
    assert set(floor["datasets"]) == PAPER_SETS
    for fold, sets in (("a", "fold_a"), ("b", "fold_b")):
        scored = json.loads((scratch / "results" / f"eval_supervised_{fold}.json").read_text(encoding="utf8"))
        assert set(scored["datasets"]) == names(load_project_config(PROJECT)["vars"][sets])
    wheels = list((scratch / "packages").glob("*/dist/*.whl"))
    assert len(wheels) == 1

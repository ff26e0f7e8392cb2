"""The spaCy project: its folds keep evaluation data out of training, its README is generated from
project.yml, and the `ci` workflow runs every command of `all` end to end on tiny settings."""

from __future__ import annotations

import importlib.util
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
    scripts = {c["name"]: c["script"] for c in project["commands"]}
    # Each fold model trains on every dataset but its own fold; the release model on everything.
    convert_a, convert_b, convert_release = scripts["convert"]
    assert f"corpus/heldout_a --exclude {v['fold_a']} " in convert_a
    assert f"corpus/heldout_b --exclude {v['fold_b']} " in convert_b
    assert "corpus/release " in convert_release and "--exclude" not in convert_release
    # No evaluation set ever serves as dev data.
    for script in (convert_a, convert_b, convert_release):
        assert f"--no-dev {v['fold_a']},{v['fold_b']} " in script
    # ... each fold model is scored only on the fold it never saw ...
    evaluations = " ".join(scripts["evaluate"])
    assert f"heldout_a/model-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_a']} " in evaluations
    assert f"heldout_b/model-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_b']} " in evaluations
    assert f"ppo_a/pipeline-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_a']} " in evaluations
    assert f"ppo_b/pipeline-wise --datasets-dir {v['datasets_dir']} --datasets {v['fold_b']} " in evaluations
    # ... and every model starts from the untrained floor, never from the shipped release model.
    train_cfg = (PROJECT / "configs" / "train.cfg").read_text(encoding="utf8")
    assert 'model = "floor"' in train_cfg
    # The calibration never fits on an evaluation set, nor on the sets it reports on.
    calibrate = next(x for x in scripts["release"] if "spacy_gliclass calibrate" in x)
    assert f"--exclude {v['fold_a']},{v['fold_b']} --report-sets {v['calibration_report_sets']} " in calibrate


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the repo")
def test_training_sets_are_every_folder_with_a_train_split_but_the_excluded(project):
    spec = importlib.util.spec_from_file_location("convert", PROJECT / "scripts" / "convert.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    fold_a = names(project["vars"]["fold_a"])
    chosen = set(convert.training_sets(DATASETS, "", ",".join(fold_a)))
    with_train = {p.parent.name for p in DATASETS.glob("*/train.jsonl")}
    assert chosen == with_train - fold_a
    assert {"dbpedia_14", "sst5", "20_newsgroups"} <= chosen  # topic data and the other fold's sets


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
    release = json.loads((scratch / "results" / "eval_release.json").read_text(encoding="utf8"))
    assert set(release["datasets"]) == PAPER_SETS and set(release["datasets_prior_corrected"]) == PAPER_SETS
    calibration = json.loads((scratch / "results" / "calibration.json").read_text(encoding="utf8"))
    assert not set(calibration["fit_sets"]) & (PAPER_SETS | set(calibration["report_sets"]))
    assert "## Calibration of the release model" in report
    wheels = list((scratch / "packages").glob("*/dist/*.whl"))
    assert len(wheels) == 1
    assert (
        "## Few-shot: in-context examples, supervised, PPO" in report and "| sst2 |" in report.split("## Few-shot")[1]
    )


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


def test_fewshot_table_is_mean_and_std_over_seeds_and_averages_over_shared_seeds():
    table = load_script("fewshot_table")
    cells = [
        {"set": s, "shots": 8, "seed": seed, "stage": stage, "macro_f1": f1}
        for s, stage, seed, f1 in [
            ("a", "zero-shot", 0, 0.4), ("a", "zero-shot", 1, 0.6), ("b", "zero-shot", 0, 0.2), ("b", "zero-shot", 1, 0.2),
            ("a", "ppo", 0, 0.5), ("a", "ppo", 1, 0.7), ("b", "ppo", 0, 0.3),  # b's seed 1 not run yet
        ]
    ]  # fmt: skip
    summary = table.summary(cells)[8]
    assert summary["a"]["zero-shot"] == pytest.approx((0.5, 0.1414), abs=1e-4)
    assert summary["b"]["ppo"] == (0.3, 0.0)
    # the average is over sets per seed, on the seeds every set has: zero-shot (0.3, 0.4), ppo seed 0 only
    assert summary["average"]["zero-shot"] == pytest.approx((0.35, 0.0707), abs=1e-4)
    assert summary["average"]["ppo"] == pytest.approx((0.4, 0.0))
    text = table.markdown(cells)
    assert "| set | zero-shot | PPO (gold) |" in text and "| a | 0.500 ± 0.141 | 0.600 ± 0.141 |" in text


def test_fewshot_recipe_line_names_the_settings_and_warns_on_mixed_recipes():
    table = load_script("fewshot_table")
    cell = {"set": "a", "shots": 8, "seed": 0, "stage": "ppo", "macro_f1": 0.5}
    same = [{**cell, "settings": {"ppo_steps": 60, "advantages": "per-label"}}] * 2
    assert table.recipe(same) == "Recipe: `advantages` per-label, `ppo_steps` 60."
    mixed = [same[0], {**cell, "settings": {"ppo_steps": 40, "advantages": "per-label"}}]
    assert "several recipes" in table.recipe(mixed)


def write_dataset(root: Path, name: str, splits: dict[str, list[tuple[str, str]]]) -> None:
    (root / name).mkdir(parents=True)
    labels = sorted({label for rows in splits.values() for _, label in rows})
    (root / name / "dataset_info.json").write_text(json.dumps({"name": name, "labels": labels}), encoding="utf8")
    for split, rows in splits.items():
        lines = [json.dumps({"text": text, "labels": [label]}) for text, label in rows]
        (root / name / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")


def test_fewshot_feedback_texts_come_at_the_train_distribution_and_never_from_the_test_rows(tmp_path):
    study = load_script("fewshot_ppo")
    train = [(f"common {i}", "common") for i in range(180)] + [(f"rare {i}", "rare") for i in range(20)]
    write_dataset(tmp_path, "skewed", {"train": train, "test": [(f"test {i}", "common") for i in range(10)]})
    labels, shots, test, dev = study.load(tmp_path, "skewed", 4, 10, seed=0, dev_per_label=4)
    assert sorted(r["labels"][0] for r in shots) == ["common"] * 4 + ["rare"] * 4  # balanced: needs gold labels
    judged, judged_dev = study.natural_draw(tmp_path, "skewed", 0, len(shots), len(dev))
    assert (len(judged), len(judged_dev)) == (8, 8)
    drawn = judged + judged_dev
    assert sum(r["labels"] == ["rare"] for r in drawn) < 6  # ~10% rare as in the train split, not half
    assert len({r["text"] for r in drawn}) == 16 and not {r["text"] for r in drawn} & {r["text"] for r in test}
    assert study.natural_draw(tmp_path, "skewed", 0, 8, 8) == (judged, judged_dev)
    # A set with a test split only: the draw comes from the half that load() does not test on.
    write_dataset(tmp_path, "test_only", {"test": [(f"t {i}", "a" if i % 2 else "b") for i in range(40)]})
    _, _, test, _ = study.load(tmp_path, "test_only", 2, 20, seed=3)
    judged, judged_dev = study.natural_draw(tmp_path, "test_only", 3, 10, 10)
    assert len(judged + judged_dev) == 20 and not {r["text"] for r in judged + judged_dev} & {r["text"] for r in test}


def test_fewshot_resume_reruns_only_the_stages_a_changed_setting_touches(tmp_path):
    study = load_script("fewshot_ppo")
    old = {"test_rows": 500, "dev_per_label": 8, "sft_steps": 60, "ppo_steps": 60, "samples": 4,
           "advantages": "per-label", "encoder_lr": 2e-5, "head_lr": 1e-3, "ppo_head_lr": 1e-4,
           "eval_every": 5, "patience": 3}  # fmt: skip
    stages = ("zero-shot", "in-context", "sft", "ppo", "sft+ppo", "ppo_feedback")
    path = tmp_path / "cells.jsonl"
    path.write_text(
        "".join(json.dumps({"set": "a", "shots": 8, "seed": 0, "stage": s, "settings": old}) + "\n" for s in stages)
    )
    # A setting only the feedback stage reads (absent from the old cells): only its cell is rerun ...
    new = {**old, "feedback_draw": "natural"}
    kept = study.kept_cells(path, new)
    assert {stage for *_, stage in kept} == set(stages) - {"ppo_feedback"}
    assert all(json.loads(line)["settings"] == new for line in path.read_text().splitlines())
    # ... and a PPO setting reruns every stage that runs PPO, keeping the rest.
    kept = study.kept_cells(path, {**new, "ppo_steps": 30})
    assert {stage for *_, stage in kept} == {"zero-shot", "in-context", "sft"}
    assert len(path.read_text().splitlines()) == 3


def test_run_parallel_runs_every_command_and_fails_when_one_fails(tmp_path):
    script = PROJECT / "scripts" / "run_parallel.py"
    write = 'python -c \'import os, sys; open(sys.argv[1], "w").write(os.environ["OMP_NUM_THREADS"])\''
    ok, fails = f"{write} {tmp_path / 'a'}", "python -c 'import sys; print(\"boom\"); sys.exit(3)'"
    done = subprocess.run(
        [sys.executable, script, "--logs", tmp_path / "logs", ok, fails], capture_output=True, text=True
    )
    assert done.returncode == 1 and "boom" in done.stdout  # the failed command's log is shown
    assert (tmp_path / "a").read_text() == "1"  # the other one ran, at one torch thread
    assert (tmp_path / "logs" / "1.log").read_text().startswith(fails)

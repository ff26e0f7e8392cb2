"""Calibration of independent scores and the transductive label-prior correction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import spacy

from spacy_gliclass.architectures import get_shim
from spacy_gliclass.errors import GLiClassError
from spacy_gliclass.evaluation import correct_label_priors
from spacy_gliclass.training.calibrate import (
    PairScores,
    calibrate,
    expected_calibration_error,
    fit_scale_bias,
    report,
)

from .conftest import build_tiny


def test_fit_scale_bias_recovers_the_logistic_model_that_made_the_data():
    rng = np.random.default_rng(0)
    raw = rng.uniform(-1, 1, 20_000)
    gold = (rng.uniform(size=raw.size) < 1 / (1 + np.exp(-(8.0 * raw - 3.0)))).astype(float)
    scale, bias = fit_scale_bias(PairScores(raw, gold))
    assert scale == pytest.approx(8.0, abs=0.4) and bias == pytest.approx(-3.0, abs=0.2)
    assert report(PairScores(raw, gold), scale, bias).ece < 0.02


def test_expected_calibration_error():
    assert expected_calibration_error(np.full(10, 0.9), np.zeros(10)) == pytest.approx(0.9)
    probs = np.array([0.25] * 4 + [0.75] * 4)
    gold = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    assert expected_calibration_error(probs, gold) == pytest.approx(0.0)


def test_report_counts_pairs_at_the_threshold():
    pairs = PairScores(raw=np.array([1.0, 1.0, -1.0, -1.0]), gold=np.array([1.0, 0.0, 1.0, 0.0]))
    result = report(pairs, scale=10.0, bias=0.0)
    # predicted {0, 1}, gold {0, 2}: tp 1, 2 predicted, 2 gold
    assert result.micro_f1 == pytest.approx(0.5) and result.pairs == 4 and result.positives == 2


def _write_dataset(root, name, rows, labels):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "dataset_info.json").write_text(json.dumps({"labels": labels}))
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture()
def calibration_data(tmp_path):
    root = tmp_path / "datasets"
    rows = [
        {
            "text": f"text number {i} about {'sports' if i % 2 else 'politics'}",
            "labels": ["sports" if i % 2 else "politics"],
        }
        for i in range(12)
    ]
    _write_dataset(root, "fit_me", rows, ["sports", "politics", "art"])
    _write_dataset(root, "keep_out", rows[:6], ["sports", "politics"])
    return root


def test_calibrate_refits_the_pipe_and_reports_on_held_out_sets(tmp_path, calibration_data):
    checkpoint = build_tiny(tmp_path / "bi", architecture_type="bi-encoder", scorer_type="simple", use_logit_bias=True)
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(checkpoint), "labels": ["sports", "politics", "art"]})
    nlp.initialize()
    model = get_shim(nlp.get_pipe("gliclass").model).fp32_model()
    before = nlp("text number 3 about sports").cats
    result = calibrate(nlp, calibration_data, ["fit_me"], ["keep_out"], rows=12)
    assert (float(model.logit_scale), float(model.logit_bias)) == pytest.approx(
        (result["after"]["scale"], result["after"]["bias"])
    )
    assert result["fit"]["after"]["pairs"] == 36 and result["held_out"]["after"]["pairs"] == 12
    # At the logistic-regression optimum the mean score equals the share of gold pairs.
    fit = result["fit"]["after"]
    assert fit["mean_score"] == pytest.approx(fit["positives"] / fit["pairs"], abs=1e-3)
    assert nlp("text number 3 about sports").cats != before  # the new scale/bias are used at once
    with pytest.raises(GLiClassError, match="kept out of the fit"):
        calibrate(nlp, calibration_data, ["fit_me"], ["fit_me"], rows=12)


def test_calibrate_refuses_a_model_without_a_logit_bias(tiny_bi, calibration_data):
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_bi), "labels": ["sports"]})
    nlp.initialize()
    with pytest.raises(GLiClassError, match="logit scale and bias"):
        calibrate(nlp, calibration_data, ["fit_me"], [], rows=4)


def test_prior_correction_removes_a_label_preferred_for_every_text():
    # Label 0 is scored higher for every text; by text, label 1 wins on rows 1 and 3.
    scores = np.array([[0.9, 0.2], [0.8, 0.7], [0.9, 0.1], [0.85, 0.8]])
    assert scores.argmax(1).tolist() == [0, 0, 0, 0]
    assert correct_label_priors(scores).argmax(1).tolist() == [0, 1, 0, 1]

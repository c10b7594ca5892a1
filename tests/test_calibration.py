"""Calibration: ECE and the reliability table, the temperature fit, and a Classifier that applies
the temperature of its inference.json. Run: pytest tests/test_calibration.py"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from modeldistill.artifacts import INFERENCE_FILE, Metrics, read_inference
from modeldistill.evaluate.calibration import (
    fit_temperature,
    negative_log_likelihood,
    reliability,
    softmax,
)
from modeldistill.evaluate.evaluate import format_metrics
from modeldistill.evaluate.metrics import calibration_figures, uncalibrated_ece
from modeldistill.inference.classifier import Classifier

TEXTS = ["they are vermin", "see you at the meeting", "whatever", "kick them all out " * 5]


def test_ece_by_hand():
    # Bins of width 0.5: (0, 0.5] holds 0.2 and 0.4 (mean 0.3, one positive of two: rate 0.5);
    # (0.5, 1] holds 0.9 three times (all positive: rate 1). ECE = 2/5 * 0.2 + 3/5 * 0.1 = 0.14.
    ece, table = reliability(
        np.array([True, False, True, True, True]), np.array([0.2, 0.4, 0.9, 0.9, 0.9]), bins=2
    )
    assert ece == pytest.approx(0.14)
    assert [(row.low, row.high, row.count) for row in table] == [(0.0, 0.5, 2), (0.5, 1.0, 3)]
    assert table[0].mean_predicted == pytest.approx(0.3) and table[0].observed_rate == 0.5
    assert table[1].mean_predicted == pytest.approx(0.9) and table[1].observed_rate == 1.0


def test_ece_bins_are_closed_above_and_empty_bins_are_kept():
    ece, table = reliability(np.array([False, True]), np.array([0.0, 0.1]), bins=10)
    assert [row.count for row in table] == [2] + [0] * 9  # 0 and the edge 0.1 both in bin one
    assert table[5].mean_predicted is None and table[5].observed_rate is None
    assert ece == pytest.approx(abs(0.05 - 0.5))


def test_temperature_fit_recovers_a_known_temperature():
    # Labels drawn from softmax(z / 2.5): the NLL of those labels is least at T = 2.5.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(20_000, 4))
    probs = softmax(logits, 2.5)
    labels = np.array([rng.choice(4, p=row) for row in probs])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.05)
    # Toxic-vs-rest targets, the fit for a model scored on other labels, find it too.
    assert fit_temperature(logits, labels == 1, positive=1) == pytest.approx(2.5, rel=0.1)


def test_binary_nll_matches_the_definition():
    logits = np.array([[0.0, 2.0], [1.0, -1.0]])
    p = softmax(logits, 2.0)[:, 1]
    expected = -(np.log(p[0]) + np.log(1 - p[1])) / 2
    got = negative_log_likelihood(logits, np.array([True, False]), 2.0, positive=1)
    assert got == pytest.approx(expected)


def test_uncalibrated_ece_undoes_the_temperature():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(500, 4))
    truth = rng.random(500) < softmax(logits)[:, 1]
    raw = reliability(truth, softmax(logits)[:, 1])[0]
    assert uncalibrated_ece(truth, softmax(logits, 3.0), 1, 3.0) == pytest.approx(raw, abs=1e-9)


@pytest.fixture()
def warm_folder(int8_export, tmp_path):
    folder = tmp_path / "warm"
    shutil.copytree(int8_export, folder)
    return folder


def _set_temperature(folder, temperature):
    path = folder / INFERENCE_FILE
    data = json.loads(path.read_text())
    if temperature is None:
        data.pop("temperature", None)
    else:
        data["temperature"] = temperature
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_classifier_applies_the_temperature(warm_folder, backend):
    plain = Classifier.load(warm_folder, backend=backend).predict(TEXTS)
    _set_temperature(warm_folder, 3.0)
    warm = Classifier.load(warm_folder, backend=backend)
    assert warm.temperature == 3.0
    for before, after in zip(plain, warm.predict(TEXTS), strict=True):
        p = np.array(list(before.scores.values()))
        expected = softmax(np.log(p), 3.0)  # softmax(z / T) from softmax(z): log p = z + const
        np.testing.assert_allclose(list(after.scores.values()), expected, atol=1e-5)
        assert max(after.scores.values()) <= max(before.scores.values())  # softened


def test_inference_json_without_temperature_still_loads(warm_folder):
    _set_temperature(warm_folder, None)
    assert read_inference(warm_folder).temperature == 1.0
    assert Classifier.load(warm_folder).temperature == 1.0


def test_format_metrics_prints_ece_and_the_reliability_table():
    truth, scores = np.array([True, False, True]), np.array([0.95, 0.05, 0.65])
    metrics = Metrics(
        model="m",
        backend="onnx",
        split="test",
        num_examples=3,
        accuracy=1.0,
        macro_f1=1.0,
        weighted_f1=1.0,
        per_class={},
        labels=["noHate", "hate"],
        confusion_matrix=[[1, 0], [0, 2]],
        parameters=1,
        size_bytes=1,
        ece_uncalibrated=0.5,
        **calibration_figures(truth, scores),
    )
    text = format_metrics(metrics)
    assert f"ECE {metrics.ece:.4f} (before temperature scaling 0.5000)" in text
    assert "0.60-0.70          1    0.650     1.000" in text
    assert Metrics.model_validate(metrics.to_dict()).reliability == metrics.reliability

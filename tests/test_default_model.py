"""The models that ship: `models/default` (the general detector the app serves) and
`models/hate_speech18` (the distillation experiment's student). Each loads offline, classifies,
and its model card's figures are exactly what `modeldistill evaluate` and `modeldistill check`
measure."""

from __future__ import annotations

import json

import pytest

from modeldistill.artifacts import read_check
from modeldistill.check.run import run_check
from modeldistill.cli import main
from modeldistill.inference.classifier import Classifier
from modeldistill.paths import REPO_ROOT

MODELS = REPO_ROOT / "models"
SHIPPED = MODELS / "default"
EXPERIMENT = MODELS / "hate_speech18"
GENERAL_DATA = ["--data", str(REPO_ROOT / "recipes" / "general.yaml"), "--emoji-names"]


@pytest.mark.parametrize("folder", [SHIPPED, EXPERIMENT], ids=["default", "hate_speech18"])
def test_shipped_models_are_int8_onnx_and_small(folder):
    assert (folder / "model.int8.onnx").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total <= 25 * 1024 * 1024


def test_default_model_is_binary_and_flags_only_past_its_threshold():
    classifier = Classifier.load(SHIPPED)
    assert classifier.backend == "onnx-int8"
    assert classifier.labels == ["not_hate", "hate"]
    assert classifier.text_prep.clean and classifier.text_prep.emoji_names
    texts = ["Have a nice weekend, everyone.", "They are vermin and should be driven out."]
    predictions = classifier.predict(texts)
    for prediction in predictions:
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert prediction.toxic == (prediction.scores["hate"] >= classifier.threshold)
    assert not predictions[0].toxic


def test_experiment_model_keeps_hate_speech18_labels():
    classifier = Classifier.load(EXPERIMENT)
    assert classifier.labels == ["noHate", "hate", "idk/skip", "relation"]
    assert classifier.predict(["Have a nice weekend, everyone."])[0].label == "noHate"


def test_default_model_check_is_reproduced():
    card = read_check(SHIPPED / "check.json")
    measured = run_check(Classifier.load(SHIPPED))
    assert measured.accuracy == card.accuracy and measured.cases == card.cases
    assert f"{card.accuracy:.1%}" in (SHIPPED / "README.md").read_text()


def _reproduced(folder, argv, capsys):
    card = json.loads((folder / "metrics.json").read_text())
    assert main(["evaluate", str(folder), *argv, "--split", "test", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "weighted_f1", "hate", "per_class", "confusion_matrix"):
        assert measured[key] == card[key], key
    return card, measured


@pytest.mark.slow
def test_default_card_metrics_are_reproduced_by_evaluate(capsys):
    card, measured = _reproduced(SHIPPED, GENERAL_DATA, capsys)
    # Figures added after the card was written (calibration: ece, reliability) are left out.
    shared = {
        name: {key: scores[key] for key in card["by_source"][name]}
        for name, scores in measured["by_source"].items()
    }
    assert shared == card["by_source"] and measured["roc_auc"] == card["roc_auc"]
    assert f"{card['macro_f1']:.4f}" in (SHIPPED / "README.md").read_text()


@pytest.mark.slow
def test_experiment_card_metrics_are_reproduced_by_evaluate(real_data_dir, capsys):
    card, _ = _reproduced(EXPERIMENT, ["--data", str(real_data_dir)], capsys)
    assert str(card["macro_f1"]) in (EXPERIMENT / "README.md").read_text()

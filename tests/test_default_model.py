"""The model that ships in models/default: it loads offline, classifies, and its model card's test
metrics are exactly what `modeldistill evaluate` measures on the real data."""

from __future__ import annotations

import json

import pytest

from modeldistill.cli import main
from modeldistill.inference import Classifier
from modeldistill.paths import REPO_ROOT

SHIPPED = REPO_ROOT / "models" / "default"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(SHIPPED)


def test_shipped_model_is_int8_onnx_and_small():
    assert (SHIPPED / "model.int8.onnx").is_file()
    assert not list(SHIPPED.glob("*.bin")) and not list(SHIPPED.glob("*.pt"))
    total = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert total <= 25 * 1024 * 1024


def test_shipped_model_classifies(classifier):
    assert classifier.backend == "onnx-int8"
    assert classifier.labels == ["noHate", "hate", "idk/skip", "relation"]
    assert 0 < classifier.threshold < 1
    texts = ["Have a nice weekend, everyone.", "They are vermin and should be driven out."]
    for prediction in classifier.predict(texts):
        assert prediction.label in classifier.labels
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert prediction.toxic == (prediction.scores["hate"] >= classifier.threshold)
    assert classifier.predict(texts[:1])[0].label == "noHate"


@pytest.mark.slow
def test_card_metrics_are_reproduced_by_evaluate(real_data_dir, capsys):
    card = json.loads((SHIPPED / "metrics.json").read_text())
    assert (
        main(["evaluate", str(SHIPPED), "--data", str(real_data_dir), "--split", "test", "--json"])
        == 0
    )
    measured = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "weighted_f1", "hate", "per_class", "confusion_matrix"):
        assert measured[key] == card[key], key
    card_text = (SHIPPED / "README.md").read_text()
    assert str(card["macro_f1"]) in card_text

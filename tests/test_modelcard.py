"""The model card's Jinja2 templates: the shipped cards re-render byte for byte from their folders'
artifacts, and a card of a task other than hate speech says nothing of hate speech.
Run: pytest tests/test_modelcard.py"""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT
from modeldistill.artifacts import (
    CHECK_FILE,
    METRICS_FILE,
    InferenceSettings,
    Metrics,
    RunConfig,
    read_check,
    read_inference,
    read_metrics,
    read_run_config,
)
from modeldistill.export.modelcard import render_model_card, write_model_card
from modeldistill.train.config import TrainConfig


@pytest.mark.parametrize("name", ["default", "hate_speech18"])
def test_shipped_cards_rerender_byte_identical(name, tmp_path, monkeypatch):
    # The general recipe's sources are read from the path training recorded (relative to the root).
    monkeypatch.chdir(REPO_ROOT)
    folder = REPO_ROOT / "models" / name
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    card = render_model_card(
        folder,
        config,
        read_inference(folder),
        read_metrics(folder / METRICS_FILE),
        read_run_config(folder),
        read_check(folder / CHECK_FILE),
    )
    write_model_card(tmp_path, card)
    assert (tmp_path / "README.md").read_bytes() == (folder / "README.md").read_bytes()


def _binary_metrics() -> Metrics:
    scores = {"precision": 0.75, "recall": 0.6, "f1": 0.6667, "support": 5}
    return Metrics(
        model="runs/mine/odd",
        backend="onnx-int8",
        split="test",
        num_examples=10,
        accuracy=0.8,
        macro_f1=0.79,
        weighted_f1=0.8,
        per_class={"praise": {**scores, "f1": 0.9}, "complaint": scores},
        labels=["praise", "complaint"],
        confusion_matrix=[[5, 0], [2, 3]],
        parameters=1000,
        size_bytes=4000,
    )


def test_card_of_another_task_shows_its_own_label_and_task(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "model.int8.onnx").write_bytes(b"")
    info = InferenceSettings(
        threshold=0.42,
        toxic_label="complaint",
        max_length=64,
        labels=["praise", "complaint"],
        name="reviews",
        version="abc",
        threshold_source="default",
        source_model="runs/mine/odd",
        data="reviews.csv",
        exported_at="2026-01-01T00:00:00+00:00",
        modeldistill_version="0.1.0",
        task_title="customer reviews: complaints or praise",
        positive_meaning="the customer reports a problem",
    )
    train = TrainConfig(method="odd", teacher="runs/mine/teacher", epochs=1)
    run = RunConfig(train=train, data={"data": ["reviews.csv"]})
    card = render_model_card(tmp_path, {"num_hidden_layers": 2}, info, _binary_metrics(), run)
    assert "classifier for customer reviews: complaints or praise," in card
    assert "`complaint` (the customer reports a problem)" in card
    assert "The model says `complaint` when\nP(`complaint`) is at least 0.4200." in card
    assert "complaint-vs-rest F1 0.6667" in card and "nan" not in card
    assert "name: complaint F1" in card  # the Hub metadata's metric
    for hate_word in ("hate", "toxic", "moderator"):
        assert hate_word not in card.lower()
    assert ": 1 epoch, learning rate" in card
    assert "## Files\n`model.safetensors`, `model.int8.onnx`;" in card
    assert card.count("`model.safetensors`") == 1


def test_card_limits_name_the_weakest_cases_and_the_most_flagged_groups():
    from modeldistill.artifacts import CaseScore, CheckSummary
    from modeldistill.export.modelcard import check_weak_points

    shares = {"threat": 0.98, "slur": 0.5, "negated hate": 0.7, "polite hate": 0.6, "news": 0.9}
    check = CheckSummary(
        model="m",
        threshold=0.5,
        num_cases=10,
        accuracy=0.8,
        cases={name: CaseScore(accuracy=share, n=2) for name, share in shares.items()},
        groups={},
        group_mean=0.8,
        targets={},
        failures=[],
        passed=True,
        friendly_fpr={"deaf": 0.1, "jews": 0.3, "white": 0.0, "women": 0.2, "sikhs": 0.05},
    )
    assert check_weak_points(check) == {
        "cases": ["slur (50% right)", "polite hate (60% right)", "negated hate (70% right)"],
        "groups": ["jews (30%)", "women (20%)", "deaf (10%)"],
    }
    # A model that flags no friendly sentence names no group.
    clean = check.model_copy(update={"friendly_fpr": {"deaf": 0.0}})
    assert check_weak_points(clean)["groups"] == []

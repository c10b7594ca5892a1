"""The models that ship: `models/default` (the general detector the app serves) and
`models/hate_speech18` (the distillation experiment's student). Each loads offline, classifies,
and its model card's figures are what `modeldistill evaluate` and `modeldistill check` measure:
exactly on a CPU of the kind the card was measured on, and up to a few texts at the threshold on
another (`FLIP_SHARE`)."""

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
# onnxruntime's int8 kernels differ with the CPU's instruction set (AVX-512 VNNI or AVX2), and so
# do its fp32 sums: the same static int8 file gave up to 0.003 apart in P(hate), on 3 of 190 test
# texts, natively on a VNNI CPU and under `qemu-x86_64 -cpu Haswell`, 7-bit weights or not. A text
# that close to the threshold can change its verdict with the machine: at most this share of the
# card's texts may (at least one); every other figure is then the card's own.
FLIP_SHARE = 0.0005


# Figures of the probabilities themselves, not of the verdicts: ONNX Runtime's int8 kernels are
# not the same on every CPU (on an AVX2-only AMD machine hate_speech18's ROC-AUC moved by 1e-5
# against the card's, and one davidson2017 text crossed a reliability bin edge), so these agree to
# a tolerance where the verdict counts agree exactly.
SCORE_FIGURES = {"roc_auc", "ece", "reliability"}


def _close(key: str, measured, card) -> bool:
    if key != "reliability":
        return measured == pytest.approx(card, abs=1e-3)
    if [(b["low"], b["high"]) for b in measured] != [(b["low"], b["high"]) for b in card]:
        return False
    for got, shown in zip(measured, card, strict=True):
        if got["count"] == shown["count"]:
            if got.get("observed_rate") != shown.get("observed_rate"):
                return False
        elif abs(got["count"] - shown["count"]) > 2:  # a text or two across a bin edge
            return False
        if "mean_predicted" in shown and got.get("mean_predicted") != pytest.approx(
            shown["mean_predicted"], abs=0.01
        ):
            return False
    return True


def _flips(measured: list[list[int]], card: list[list[int]]) -> int:
    """Texts whose verdict moved between two confusion matrices of the same texts."""
    pairs = zip(measured, card, strict=True)
    return sum(abs(a - b) for row, other in pairs for a, b in zip(row, other, strict=True)) // 2


def _allowed(rows: int) -> int:
    return max(1, int(FLIP_SHARE * rows))


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
    assert f"{card.accuracy:.1%}" in (SHIPPED / "README.md").read_text()
    assert measured.num_cases == card.num_cases
    right, card_right = (round(c.accuracy * c.num_cases) for c in (measured, card))
    assert abs(right - card_right) <= _allowed(card.num_cases)
    if right == card_right:
        assert measured.cases == card.cases


def _reproduced(folder, argv, capsys):
    card = json.loads((folder / "metrics.json").read_text())
    assert main(["evaluate", str(folder), *argv, "--split", "test", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["num_examples"] == card["num_examples"]
    flips = _flips(measured["confusion_matrix"], card["confusion_matrix"])
    assert flips <= _allowed(card["num_examples"]), f"{flips} verdicts differ from the card's"
    if flips == 0:
        for key in ("accuracy", "macro_f1", "weighted_f1", "hate", "per_class"):
            assert measured[key] == card[key], key
    return card, measured


@pytest.mark.slow
def test_default_card_metrics_are_reproduced_by_evaluate(capsys):
    card, measured = _reproduced(SHIPPED, GENERAL_DATA, capsys)
    assert measured["by_source"].keys() == card["by_source"].keys()
    for name, scores in measured["by_source"].items():
        shown = card["by_source"][name]
        assert scores["num_examples"] == shown["num_examples"], name
        if measured["confusion_matrix"] == card["confusion_matrix"]:
            # Figures added after the card was written (calibration: ece, reliability) left out.
            exact = {key: value for key, value in shown.items() if key not in SCORE_FIGURES}
            assert {key: scores[key] for key in exact} == exact, name
            for key in SCORE_FIGURES & shown.keys():
                assert _close(key, scores[key], shown[key]), (name, key)
    assert measured["roc_auc"] == pytest.approx(card["roc_auc"], abs=1e-3)
    assert f"{card['macro_f1']:.4f}" in (SHIPPED / "README.md").read_text()


@pytest.mark.slow
def test_experiment_card_metrics_are_reproduced_by_evaluate(real_data_dir, capsys):
    card, _ = _reproduced(EXPERIMENT, ["--data", str(real_data_dir)], capsys)
    assert str(card["macro_f1"]) in (EXPERIMENT / "README.md").read_text()

"""Bias per identity group: the figures on an example worked by hand, the identity lexicon's
whole-word matching, and metrics.json / check.json files from before bias was measured."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modeldistill.artifacts import (
    BiasReport,
    Metrics,
    read_check,
    read_metrics,
    write_check,
    write_metrics,
)
from modeldistill.evaluate.bias import bias_report, format_bias, group_bias, text_membership
from modeldistill.paths import REPO_ROOT
from modeldistill.synthetic.identity import IDENTITIES, identity_groups, mentioned_groups
from modeldistill.synthetic.lexicon import GROUPS

# Nine texts: four mention group G (two hateful), five do not (two hateful). Flagged: P >= 0.5.
IN_G = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
IS_HATE = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0], dtype=bool)
P_HATE = np.array([0.9, 0.35, 0.75, 0.2, 0.8, 0.7, 0.45, 0.1, 0.05])
FLAGGED = P_HATE >= 0.5


def test_group_figures_match_the_hand_computed_ones():
    g = group_bias(IS_HATE, P_HATE, FLAGGED, IN_G)
    assert (g.mentions, g.non_hateful) == (4, 2)
    assert g.fpr == 0.5  # of G's non-hateful texts (0.75, 0.2), 0.75 is flagged
    # G's hateful (0.9, 0.35) above G's non-hateful (0.75, 0.2): 3 of 4 pairs
    assert g.subgroup_auc == pytest.approx(3 / 4)
    # BPSN: other texts' hateful (0.8, 0.7) above G's non-hateful (0.75, 0.2): 3 of 4 pairs
    assert g.bpsn_auc == pytest.approx(3 / 4)
    # BNSP: G's hateful (0.9, 0.35) above the others' non-hateful (0.45, 0.1, 0.05): 5 of 6
    assert g.bnsp_auc == pytest.approx(5 / 6)
    rest = group_bias(IS_HATE, P_HATE, FLAGGED, ~IN_G)
    assert rest.fpr == 0.0 and rest.subgroup_auc == 1.0
    assert rest.bpsn_auc == pytest.approx(5 / 6) and rest.bnsp_auc == pytest.approx(3 / 4)


def test_a_group_without_one_class_has_no_auc_that_needs_it():
    only_negative = np.zeros(9, dtype=bool)
    only_negative[2] = True  # the one non-hateful text at 0.75
    g = group_bias(IS_HATE, P_HATE, FLAGGED, only_negative)
    assert g.fpr == 1.0 and g.subgroup_auc is None and g.bnsp_auc is None
    # background hateful (0.9, 0.35, 0.8, 0.7) above 0.75: two of four
    assert g.bpsn_auc == pytest.approx(0.5)
    nobody = group_bias(IS_HATE, P_HATE, FLAGGED, np.zeros(9, dtype=bool))
    assert nobody.mentions == 0
    assert nobody.fpr is None and nobody.subgroup_auc is nobody.bpsn_auc is nobody.bnsp_auc is None


def test_report_gap_is_taken_over_groups_with_enough_non_hateful_mentions():
    membership = {"g": IN_G, "rest": ~IN_G}
    report = bias_report(IS_HATE, P_HATE, FLAGGED, membership, min_non_hateful=2)
    assert report.overall_fpr == pytest.approx(1 / 5)
    assert report.fpr_gap == 0.5 and report.fpr_gap_groups == ["rest", "g"]
    # G has only two non-hateful texts: at three, only "rest" is compared, with itself
    assert bias_report(IS_HATE, P_HATE, FLAGGED, membership, min_non_hateful=3).fpr_gap == 0.0
    none = bias_report(IS_HATE, P_HATE, FLAGGED, membership, min_non_hateful=10)
    assert none.fpr_gap is None and none.fpr_gap_groups == []
    table = format_bias(report)
    assert "g                     4        2   50.0%     0.750   0.750   0.833" in table
    assert "largest FPR gap 50.0% (rest to g" in table


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("Public transport is late again.", set()),
        ("Trans people exist.", {"trans"}),
        ("TRANS rights now", {"trans"}),
        ("a transgender teacher and a transwoman", {"trans"}),
        ("The anti-Muslim rally was cancelled.", {"muslims"}),
        ("Islamic art and Jewish food", {"muslims", "jews"}),
        ("Gaylord and Jewelry are names, not groups.", set()),
        ("an African American author", {"black"}),
        ("African students and Asian ones", {"africans", "asians"}),
        ("white wine at the White House", set()),
        ("white people and whites", {"white"}),
        ("mexican food, chinese food, indian food", {"mexicans", "chinese", "indians"}),
        ("immigrants, refugees and asylum seekers", {"immigrants", "refugees"}),
        ("Womenswear sale", set()),
        ("a disabled, autistic, deaf woman", {"disabled", "autistic", "deaf", "women"}),
        (
            "non-binary and nonbinary and bisexual and lesbian",
            {"nonbinary", "bisexual", "lesbians"},
        ),
        ("the blackboard", set()),
    ],
)
def test_lexicon_matches_whole_words_only(text, groups):
    assert mentioned_groups(text) == groups


def test_lexicon_has_twenty_groups_of_every_kind_and_keeps_the_check_groups():
    assert len(IDENTITIES) >= 20
    categories = {identity.category for identity in IDENTITIES}
    assert categories >= {
        "religion",
        "nationality",
        "ethnicity",
        "race",
        "gender",
        "sexual orientation",
        "disability",
    }
    keys = [identity.key for identity in IDENTITIES]
    assert len(keys) == len(set(keys)) and {g.key for g in GROUPS} <= set(keys)
    # the eight check groups fill frames exactly as before (same wording, same slurs)
    by_key = {group.key: group for group in identity_groups()}
    assert all(by_key[group.key] == group for group in GROUPS)


def test_every_identity_is_found_by_its_own_wording():
    # the lexicon sees the group in the words the check fills frames with
    for group in identity_groups():
        for words in (group.plural, group.singular):
            assert group.key in mentioned_groups(f"I read about {words} today."), words


def test_text_membership_marks_each_text_for_every_group():
    membership = text_membership(["Muslims and Jews", "a transport strike", "gay rights"])
    assert list(membership) == [identity.key for identity in IDENTITIES]
    assert membership["muslims"].tolist() == [True, False, False]
    assert membership["jews"].tolist() == [True, False, False]
    assert membership["gay"].tolist() == [False, False, True]
    assert not membership["trans"].any()


def test_files_without_bias_still_read_and_bias_round_trips(tmp_path):
    # models/default's files as a release before bias wrote them
    shipped = REPO_ROOT / "models" / "default"
    for name in ("metrics.json", "check.json"):
        old = json.loads((shipped / name).read_text())
        old.pop("bias", None)
        (tmp_path / f"old_{name}").write_text(json.dumps(old))
    assert read_metrics(tmp_path / "old_metrics.json").bias is None
    assert read_check(tmp_path / "old_check.json").bias is None

    report = bias_report(IS_HATE, P_HATE, FLAGGED, {"g": IN_G, "nobody": np.zeros(9, bool)}, 2)
    metrics: Metrics = read_metrics(tmp_path / "old_metrics.json")
    metrics = metrics.model_copy(update={"bias": report})
    write_metrics(tmp_path / "metrics.json", metrics)
    again = read_metrics(tmp_path / "metrics.json").bias
    assert isinstance(again, BiasReport) and again == report
    assert again.groups["nobody"].fpr is None  # None is left out of the file and reads back
    check = read_check(tmp_path / "old_check.json").model_copy(update={"bias": report})
    write_check(tmp_path / "check.json", check)
    assert read_check(tmp_path / "check.json").bias == report


def _csv(path, rows):
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


def test_evaluate_reports_bias_on_the_test_rows_that_mention_each_group(tiny_bert_dir, tmp_path):
    from modeldistill.data.config import DataConfig
    from modeldistill.data.splits import load_splits, model_inputs
    from modeldistill.evaluate.evaluate import evaluate_folder, format_metrics
    from modeldistill.inference.classifier import Classifier

    rows = [(f"Muslims are vermin, number {i}", "hate") for i in range(20)]
    rows += [(f"Muslims and gay people at the fair, day {i}", "not_hate") for i in range(20)]
    rows += [(f"Public transport was late on day {i}", "not_hate") for i in range(20)]
    first, second = _csv(tmp_path / "a.csv", rows[::2]), _csv(tmp_path / "b.csv", rows[1::2])
    splits = load_splits(DataConfig(data=[first, second]))
    metrics = evaluate_folder(tiny_bert_dir, splits, "test", backend="torch")
    # the same figures from the test split's own predictions and the lexicon
    test = splits["test"]
    texts = model_inputs(test)
    classifier = Classifier.load(tiny_bert_dir, backend="torch")
    predictions = classifier.predict(texts)
    expected = bias_report(
        np.array(test["label"]) == splits.labels.index("hate"),
        np.array([p.scores[classifier.toxic_label] for p in predictions]),
        np.array([p.toxic for p in predictions]),
        text_membership(texts),
    )
    assert metrics.bias == expected
    muslims = sum("Muslims" in text for text in texts)
    assert muslims > 0 and metrics.bias.groups["muslims"].mentions == muslims
    assert metrics.bias.groups["trans"].mentions == 0  # "transport" is not "trans"
    assert "bias per identity group" in format_metrics(metrics)


def test_the_numpy_auc_equals_scikit_learns_with_ties():
    from sklearn.metrics import roc_auc_score

    from modeldistill.evaluate.bias import roc_auc

    rng = np.random.default_rng(0)
    for _ in range(20):
        positives = rng.integers(0, 6, rng.integers(1, 30)) / 5  # few values: many ties
        negatives = rng.integers(0, 6, rng.integers(1, 30)) / 5
        labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        expected = roc_auc_score(labels, np.r_[positives, negatives])
        assert roc_auc(positives, negatives) == pytest.approx(expected, abs=1e-12)

"""The generated reports are what their committed figures render to: nobody edited a number by
hand, and a change to a template or a renderer shows up as a diff of docs/generalisation.md or
docs/results.md."""

from __future__ import annotations

import shutil
import sys

import pytest

from helpers import load_script
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.paths import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_generalisation_report_renders_from_its_committed_figures(tmp_path, monkeypatch):
    report = load_script("generalisation_report")
    (tmp_path / "generalisation").mkdir()
    shutil.copy(DOCS / "generalisation" / "results.json", tmp_path / "generalisation")
    out = tmp_path / "generalisation.md"
    monkeypatch.setattr(sys, "argv", ["generalisation_report.py", "--from-json", "--out", str(out)])
    assert report.main() == 0
    assert out.read_text(encoding="utf-8") == (DOCS / "generalisation.md").read_text(
        encoding="utf-8"
    )


def test_results_report_renders_from_its_committed_figures(tmp_path, monkeypatch):
    summarize = load_script("summarize")
    (tmp_path / "results").mkdir()
    shutil.copy(DOCS / "results" / "results.json", tmp_path / "results")
    # The hand-written reading of the tables is read from beside the report, as in docs/.
    shutil.copy(DOCS / "results-notes.md", tmp_path)
    out = tmp_path / "results.md"
    monkeypatch.setattr(sys, "argv", ["summarize.py", "--from-json", "--out", str(out)])
    assert summarize.main() == 0
    assert out.read_bytes() == (DOCS / "results.md").read_bytes()


def _figures(**overrides) -> dict:
    base = {
        "check": 0.92,
        "lowest case": (0.85, "polite hate"),
        "worst group FPR": (0.04, "deaf"),
        "group FPR gap": 0.04,
        "pooled hate F1": 0.70,
        "pooled ROC-AUC": 0.92,
        "hate_speech18 hate F1": 0.58,
    }
    return base | overrides


def test_ship_decision_needs_every_target_of_the_rule():
    ship = load_script("ship_decision")
    shipped = _figures(check=0.83, **{"pooled hate F1": 0.704, "pooled ROC-AUC": 0.9207})
    assert all(row["met"] for row in ship.decide(_figures(), shipped))
    # F1 0.693 is 0.011 below today's 0.704: one target missed, the others still met
    rows = ship.decide(_figures(**{"pooled hate F1": 0.693}), shipped)
    assert [row["target"] for row in rows if not row["met"]] == [
        "pooled hate F1 not lower by more than 0.01"
    ]
    rows = ship.decide(
        _figures(**{"worst group FPR": (0.06, "deaf"), "group FPR gap": 0.06}), shipped
    )
    assert sum(not row["met"] for row in rows) == 2


def test_merge_replaces_the_recipe_seeds_and_adds_the_next_recipes_seeds():
    report = load_script("generalisation_report")
    stored = {
        "seeds": {"seed1234": "general, machine A"},
        "next": {"seeds": {"seed1234": "next, machine A"}, "decision": "rule for seed1234"},
    }
    gathered = {
        "seeds": {"seed7": "general, machine B"},
        "next": {
            "seeds": {"seed42": "next, machine B"},
            "decision": None,
            "seed_decisions": {"seed42": "rule for seed42"},
        },
    }
    merged = report._merge(stored, gathered)
    # A new set of the general recipe's seeds is one recipe's: it replaces the old set.
    assert merged["seeds"] == {"seed7": "general, machine B"}
    # The next recipe's seeds accumulate over machines; what was not found now is kept.
    assert merged["next"] == {
        "seeds": {"seed1234": "next, machine A", "seed42": "next, machine B"},
        "decision": "rule for seed1234",
        "seed_decisions": {"seed42": "rule for seed42"},
    }


def _seed_run(validation_f1: float) -> dict:
    return {
        "eval_validation": {"by_source": {"hate_speech18": {"hate": {"f1": validation_f1}}}},
        "eval_general": {"hate": {"f1": 0.7}, "macro_f1": 0.8, "roc_auc": 0.9},
        "eval_hs18": None,
        "check": None,
    }


def _decision(missed: list[str], case: float, fpr: float, shipped_case: float) -> dict:
    targets = ["check >= 90%", "every case type >= 80%", "hate_speech18 hate-vs-rest F1 >= 0.56"]
    return {
        "ship": not missed,
        "targets": [{"target": name, "met": name not in missed} for name in targets],
        "candidate": {"cases": {"polite hate": case}, "group FPR": {"deaf": fpr}},
        "shipped": {"cases": {"polite hate": shipped_case}, "group FPR": {"deaf": 0.3}},
    }


def test_next_recipe_names_what_every_seed_missed_and_the_seed_validation_picks():
    report = load_script("generalisation_report")
    results = {
        "next": {
            "seeds": {"seed1234": _seed_run(0.60), "seed42": _seed_run(0.66)},
            "decision": _decision(
                ["check >= 90%", "hate_speech18 hate-vs-rest F1 >= 0.56"], 0.5, 0.2, 0.4
            ),
            "seed_decisions": {"seed42": _decision(["check >= 90%"], 0.6, 0.1, 0.45)},
        }
    }
    found = report.next_recipe(results)
    # hate_speech18's target was missed by one seed only: the recipe misses only the check.
    assert found["missed_by_every_seed"] == ["check >= 90%"]
    assert found["best_on_validation"] == "seed42"
    assert found["check_columns"] == ["seed1234", "seed42", "shipped then", "shipped now"]
    assert found["cases"] == {"polite hate": [0.5, 0.6, 0.4, 0.45]}
    assert found["group_fpr"] == {"deaf": [0.2, 0.1, 0.3, 0.3]}


def _remedy_run(validation_f1: float, mention_fpr: float, bpsn: float, identity_fpr: float) -> dict:
    run = _seed_run(validation_f1)
    run["eval_validation"]["bias"] = {
        "gap_min_non_hateful": 1,
        "groups": {"deaf": {"non_hateful": 10, "fpr": mention_fpr, "bpsn_auc": bpsn}},
    }
    run["eval_general"]["bias"] = {"fpr_gap": 0.2}
    run["eval_identity_validation"] = {
        "per_class": {"not_hate": {"recall": 1 - identity_fpr}, "hate": {"recall": 0.9}}
    }
    return run


def test_further_remedy_is_judged_seed_by_seed_against_the_next_recipe():
    report = load_script("generalisation_report")
    base = {"seed1234": _remedy_run(0.650, 0.2, 0.80, 0.05), "seed42": _remedy_run(0.660, 0, 1, 0)}
    results = {
        "next": {"seeds": base},
        "next_more": {
            "seeds": {"seed1234": _remedy_run(0.645, 0.1, 0.85, 0.02)},
            "decision": _decision(["check >= 90%"], 0.7, 0.1, 0.5),
        },
    }
    found = report.further_remedy(results)
    # base spread: the std of 0.650 and 0.660 (0.00707); 0.645 is within twice that of 0.650
    assert [(r["seed"], r["recipe"]) for r in found["rows"]] == [
        ("seed1234", "next recipe"),
        ("seed1234", "next + more shapes"),
    ]
    assert found["rows"][1]["verdict"] == "adopted" and found["adopted"]
    assert found["rows"][1]["mention_fpr"] == 0.1
    assert found["failed"] == ["check >= 90%"] and not found["ship"]
    # lower hate F1 than twice the spread allows: rejected whatever the bias figures
    results["next_more"]["seeds"]["seed1234"] = _remedy_run(0.63, 0.1, 0.85, 0.02)
    assert report.further_remedy(results)["rows"][1]["verdict"] == "rejected: hate F1 lower"
    results["next_more"]["seeds"]["seed1234"] = _remedy_run(0.65, 0.1, 0.79, 0.02)
    assert report.further_remedy(results)["rows"][1]["verdict"] == "rejected: bias not lower"


def test_further_remedy_takes_later_seeds_and_the_held_out_frames():
    report = load_script("generalisation_report")
    base = {"seed1234": _remedy_run(0.650, 0.2, 0.80, 0.05), "seed42": _remedy_run(0.660, 0, 1, 0)}
    first, later = _remedy_run(0.645, 0.1, 0.85, 0.02), _remedy_run(0.670, 0.1, 0.85, 0.02)
    later["int8_per_channel"] = True
    later["eval_identity_heldout"] = {
        "per_class": {"not_hate": {"recall": 0.75}, "hate": {"recall": 0.5}}
    }
    results = {
        "next": {"seeds": base},
        "next_more": {
            "seeds": {"seed1234": first, "seed42": later},
            "decision": _decision(["check >= 90%", "every case type >= 80%"], 0.7, 0.1, 0.5),
            "seed_decisions": {"seed42": _decision(["every case type >= 80%"], 0.75, 0.0, 0.5)},
        },
        "shipped": {"eval_identity_heldout": {"per_class": {"not_hate": {"recall": 0.9}}}},
    }
    found = report.further_remedy(results)
    assert found["later"] == {"seed42": ["every case type >= 80%"]}
    assert found["missed_by_every_seed"] == ["every case type >= 80%"]
    assert found["best_on_validation"] == "seed42" and found["decided_seeds"] == 2
    assert found["check_columns"] == ["seed1234", "seed42", "shipped then", "shipped now"]
    assert found["cases"] == {"polite hate": [0.7, 0.75, 0.5, 0.5]}
    held_out = {(r["seed"], r["recipe"]): r["heldout"] for r in found["rows"]}
    assert held_out[("seed42", "next + more shapes")] == {"fpr": 0.25, "hate_recall": 0.5}
    assert held_out[("seed1234", "next + more shapes")] == {"fpr": None, "hate_recall": None}
    # a run that did not record its int8 weights was exported before per channel was the default
    assert [r["int8"] for r in found["rows"]][-2:] == ["per matrix (default then)", "per channel"]
    assert found["heldout_shipped"]["fpr"] == pytest.approx(0.1)
    assert found["table"]["mean"]["validation"]["mean"] == pytest.approx(0.6575)


def _held_out(run: dict, fpr: float, recall: float) -> dict:
    run["eval_identity_heldout"] = {
        "per_class": {"not_hate": {"recall": 1 - fpr}, "hate": {"recall": recall}}
    }
    return run


def test_contrast_remedy_is_judged_on_the_held_out_frames():
    report = load_script("generalisation_report")
    # the base seed1234's model is gone (no held-out figures): it is compared with the mean of
    # the base seeds that have them, FPR (0.10 + 0.06) / 2 = 0.08, recall (0.80 + 0.90) / 2 = 0.85
    base = {
        "seed1234": _remedy_run(0.650, 0.2, 0.80, 0.0),
        "seed42": _held_out(_remedy_run(0.660, 0.2, 0.80, 0.0), 0.10, 0.80),
        "seed7": _held_out(_remedy_run(0.655, 0.2, 0.80, 0.0), 0.06, 0.90),
    }
    candidate = _held_out(_remedy_run(0.648, 0.1, 0.85, 0.0), 0.07, 0.845)
    results = {
        "next_more": {"seeds": base},
        "next_contrast": {
            "seeds": {"seed1234": candidate},
            "decision": _decision(["check >= 90%"], 0.7, 0.1, 0.5),
        },
    }
    found = report.contrast_remedy(results)
    assert found["heldout_base_seeds"] == ["seed42", "seed7"]
    assert found["heldout_base_mean"]["fpr"] == pytest.approx(0.08)
    assert [r["verdict"] for r in found["rows"]] == ["base", "adopted"]
    assert found["failed"] == ["check >= 90%"]
    # recall more than a point under the base's: rejected, however low the FPR
    _held_out(candidate, 0.01, 0.835)
    assert (
        report.contrast_remedy(results)["rows"][1]["verdict"] == "rejected: held-out recall lower"
    )
    _held_out(candidate, 0.09, 0.95)
    assert (
        report.contrast_remedy(results)["rows"][1]["verdict"] == "rejected: held-out FPR not lower"
    )
    # the base spread is the std of 0.650, 0.660, 0.655 (0.005): 0.63 is further than twice that
    results["next_contrast"]["seeds"]["seed1234"] = _held_out(_remedy_run(0.63, 0, 1, 0), 0, 1)
    assert report.contrast_remedy(results)["rows"][1]["verdict"] == "rejected: hate F1 lower"


def test_ensemble_on_the_more_recipe_is_judged_like_the_contrast_remedy():
    report = load_script("generalisation_report")
    base = {
        "seed1234": _held_out(_remedy_run(0.650, 0.2, 0.80, 0.0), 0.08, 0.85),
        "seed42": _remedy_run(0.660, 0.2, 0.80, 0.0),
    }
    results = {
        "next_more": {"seeds": base},
        "next_more_ensemble": {
            "seeds": {"seed1234": _held_out(_remedy_run(0.655, 0.1, 0.85, 0.0), 0.05, 0.86)},
            "decision": _decision(["check >= 90%"], 0.7, 0.1, 0.5),
            "teachers": {"seed1234": 1300.0, "seed42": 1400.0},
        },
    }
    found = report.ensemble_on_more(results)
    # seed1234 of the base has held-out figures of its own: it is compared with them alone
    assert [(r["recipe"], r["verdict"]) for r in found["rows"]] == [
        ("next + more shapes", "base"),
        ("more, mean of teachers", "adopted"),
    ]
    assert found["teachers"] == {"seed1234": 1300.0, "seed42": 1400.0}
    _held_out(results["next_more_ensemble"]["seeds"]["seed1234"], 0.09, 0.86)
    found = report.ensemble_on_more(results)
    assert found["rows"][1]["verdict"] == "rejected: held-out FPR not lower"
    assert report.ensemble_on_more({"next_more": {"seeds": base}}) is None


def test_word_labels_counts_whole_words_by_label(tmp_path, monkeypatch, capsys):
    import csv

    path = tmp_path / "words.csv"
    shapes = [
        ("they are vermin {}", "hate"),
        ("Vermin, all {} of them", "hate"),
        ("vermin control in garden {}", "noHate"),
        ("verminous is not the word {}", "noHate"),
        ("nice weather {}", "noHate"),
        ("lovely day {}", "hate"),
    ]
    # numbered, because identical rows are dropped as duplicates
    rows = [(text.format(n), label) for n in range(5) for text, label in shapes]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    script = load_script("word_labels")
    data = DataConfig(data=[str(path)], held_out=0.25, stratify=True)
    train = load_splits(data)["train"]
    # "verminous" holds the word but not as a whole word
    with_word = ("they are vermin", "Vermin, all", "vermin control")
    expected: dict[str, int] = {}
    for text, label in zip(train["text"], train["label"], strict=True):
        if text.startswith(with_word):
            name = train.features["label"].names[label]
            expected[name] = expected.get(name, 0) + 1
    assert set(expected) == {"hate", "noHate"}
    assert script.word_labels(data, ["vermin", "absent"]) == {
        "vermin": {"data": dict(sorted(expected.items()))},
        "absent": {},
    }
    monkeypatch.setattr("sys.argv", ["word_labels.py", *["w"] * 21, "--data", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        script.main()
    assert exit_info.value.code == 2 and "at most 20 words" in capsys.readouterr().err

"""Write docs/generalisation.md from the general recipe's run files.

    python scripts/generalisation_report.py --runs runs --out docs/generalisation.md

First every figure the report uses is gathered from the runs' own files (evaluate's and check's
JSON, train logs, bench) into docs/generalisation/results.json, which is committed, so
the report can be re-rendered and checked without the runs (`--from-json`). Nothing is typed in.
The text is in scripts/reports/generalisation.md.j2, the list of public sources in
scripts/reports/generalisation.yaml.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from modeldistill.artifacts import read_train_log

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports.render import load_data, render  # noqa: E402 - beside the script, not installed
from ship_decision import MIN_CASE  # noqa: E402 - the ship rule's own floor per case type

# The public sources, in the report's column order, and each one's short column name.
SHORT = load_data("generalisation.yaml")["sources"]
SOURCES = list(SHORT)
TEMPLATE = "generalisation.md.j2"
# The short-run remedies issue #19 asks for (scripts/ablations.py's variant names).
REMEDY_NAMES = (
    "counterfactual",
    "identity-templates",
    "hard-negatives",
    "hs18-weight-2",
    "davidson-cap-3000",
    "no-davidson",
)
# The check's case types the further remedy is about, shown beside its validation figures.
FURTHER_CASES = ("negated hate", "polite hate", "counter-speech", "support and equal rights")


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _strip_check(check: dict | None) -> dict | None:
    """check.json without its sentences, except those of the case types below the ship rule's
    floor that the model got wrong (as [text, P(hate)]): what a later report shows of why."""
    if check is None:
        return None
    kept = {k: v for k, v in check.items() if k != "sentences"}
    low = {name for name, case in check["cases"].items() if case["accuracy"] < MIN_CASE}
    misses: dict[str, list] = {}
    for row in check.get("sentences") or []:
        if row["case"] in low and not row["right"]:
            misses.setdefault(row["case"], []).append([row["text"], row["p_hate"]])
    return kept | ({"misses": misses} if misses else {})


def _train_facts(folder: Path) -> dict | None:
    metrics, config = _read(folder / "metrics.json"), _read(folder / "run_config.json")
    if metrics is None:
        return None
    epochs = [record.to_dict() for record in read_train_log(folder)]
    return {
        "train_seconds": metrics.get("train_seconds"),
        "best_epoch": metrics.get("best_epoch"),
        "best_val_macro_f1": metrics.get("best_val_macro_f1"),
        "epochs": epochs,
        "train": (config or {}).get("train"),
    }


def _model_runs(folder: Path) -> dict:
    """One trained recipe: its scores and how it was trained."""
    return {
        "eval_general": _read(folder / "eval-general.json"),
        "eval_hs18": _read(folder / "eval-hs18.json"),
        "teacher_eval_general": _read(folder / "teacher-eval-general.json"),
        "eval_validation": _read(folder / "eval-validation.json"),
        "eval_identity_validation": _read(folder / "eval-identity-validation.json"),
        "eval_identity_heldout": _read(folder / "eval-identity-heldout.json"),
        "check": _strip_check(_read(folder / "check.json")),
        "int8_per_channel": (
            (_read(folder / "export" / "inference.json") or {}).get("quantization") or {}
        ).get("per_channel"),
        "teacher": _train_facts(folder / "teacher"),
        "student": _train_facts(folder / "odd"),
        "size_bytes": (folder / "export" / "model.int8.onnx").stat().st_size
        if (folder / "export" / "model.int8.onnx").is_file()
        else None,
    }


def _recipe_runs(folder: Path) -> dict:
    """A recipe trained at full budget: its seeds, and issue #19's ship rule applied to them."""
    return {
        "seeds": {
            path.name: _model_runs(path)
            for path in sorted(folder.glob("seed*"))
            if (path / "eval-general.json").is_file()
        },
        # The rule applied to the first seed, against the model shipped then.
        "decision": _read(folder / "ship-decision.json"),
        # Later seeds' own, each against the model shipped when it was trained.
        "seed_decisions": {
            path.name: _read(path / "ship-decision.json")
            for path in sorted(folder.glob("seed*"))
            if (path / "ship-decision.json").is_file()
        },
    }


def gather(runs: Path) -> dict:
    general = runs / "general"
    baseline = runs / "hs18-default"
    return {
        "data": _read(general / "data.json"),
        "baseline": {
            "eval_general": _read(baseline / "eval-general.json"),
            "eval_hs18": _read(baseline / "eval-hs18.json"),
            "check": _strip_check(_read(baseline / "check.json")),
        },
        "seeds": {
            path.name: _model_runs(path)
            for path in sorted(general.glob("seed*"))
            if (path / "eval-general.json").is_file()
        },
        "ensemble": _model_runs(general / "ensemble")
        if (general / "ensemble" / "eval-validation.json").is_file()
        else None,
        "previous": {
            path.name: _model_runs(path)
            for path in sorted((general / "previous").glob("seed*"))
            if (path / "eval-general.json").is_file()
        },
        "ablations": {
            path.name: {
                "summary": _read(path / "ablation.json"),
                "eval_validation": _read(path / "eval-validation.json"),
                "check": _strip_check(_read(path / "check.json")),
            }
            for path in sorted((runs / "ablations").glob("*"))
            if (path / "ablation.json").is_file()
        },
        "remedies": {
            path.name: {
                "summary": _read(path / "ablation.json"),
                "eval_validation": _read(path / "eval-validation.json"),
                "eval_identity_validation": _read(path / "eval-identity-validation.json"),
                "check": _strip_check(_read(path / "check.json")),
            }
            for path in sorted((runs / "remedies").glob("*"))
            if (path / "ablation.json").is_file()
        },
        # Today's models/default scored as the seeds are (evaluate and check into runs/shipped).
        "shipped": _model_runs(runs / "shipped")
        if (runs / "shipped" / "eval-general.json").is_file()
        else None,
        "next": _recipe_runs(runs / "general-next"),
        # One more change on top of the next recipe (recipes/general-next-more.yaml).
        "next_more": _recipe_runs(runs / "general-next-more"),
        # And one on top of that (recipes/general-next-contrast.yaml).
        "next_contrast": _recipe_runs(runs / "general-next-contrast"),
        # The more recipe's student taught by several seeds' teachers (scripts/ensemble_student.sh).
        "next_more_ensemble": _recipe_runs(runs / "general-next-more-ensemble")
        | {
            "teachers": {
                path.name: (_read(path / "teacher" / "metrics.json") or {}).get("train_seconds")
                for path in sorted((runs / "general-next-more-teachers").glob("seed*"))
                if (path / "teacher" / "metrics.json").is_file()
            }
        },
        "loso": {
            source: {
                "left_out": _read(runs / "loso" / source / "eval-left-out.json"),
                "baseline": _read(runs / "loso" / source / "eval-baseline.json"),
                "teacher": (
                    _read(runs / "loso" / source / "teacher" / "run_config.json") or {}
                ).get("train"),
            }
            for source in SOURCES
            if (runs / "loso" / source / "eval-left-out.json").is_file()
        },
        "bench": _read(general / "bench.json"),
    }


def _mean_std(values: list[float | None]) -> dict | None:
    """Mean and sample std of the values present; a single value has no std."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else None,
    }


def _public_mean_f1(metrics: dict | None) -> float | None:
    """Mean hate F1 over the public sources: the choice metric. Pooled figures would reward
    learning the repository's own templates, whose validation rows are easy by construction."""
    if not metrics:
        return None
    scores = [metrics["by_source"][s]["hate"]["f1"] for s in SOURCES if s in metrics["by_source"]]
    return statistics.mean(scores) if scores else None


def _per_source_f1(metrics: dict | None) -> list[float | None]:
    by_source = (metrics or {}).get("by_source", {})
    return [by_source[s]["hate"]["f1"] if s in by_source else None for s in SOURCES]


def _check_accuracy(run: dict) -> float | None:
    return run["check"]["accuracy"] if run["check"] else None


def _train_time(run: dict) -> float | None:
    parts = [(run.get(stage) or {}).get("train_seconds") for stage in ("teacher", "student")]
    return None if None in parts else sum(parts)


def per_source(results: dict, seed: dict) -> list[dict]:
    """Each model's scores pooled, then on each source the student was scored on."""
    models = {
        "hate_speech18-only (models/hate_speech18, int8)": results["baseline"]["eval_general"],
        "general teacher (fp32, 6 layers)": seed.get("teacher_eval_general"),
        "general student (int8, 3 layers)": seed["eval_general"],
    }
    sources = ["pooled"] + list((seed["eval_general"] or {}).get("by_source", {}))
    return [
        {
            "source": source,
            "rows": [
                {
                    "name": name,
                    "metrics": metrics
                    if source == "pooled" or metrics is None
                    else metrics["by_source"].get(source),
                }
                for name, metrics in models.items()
            ],
        }
        for source in sources
    ]


def loso(results: dict) -> dict | None:
    if not results["loso"]:
        return None
    settings = next(iter(results["loso"].values())).get("teacher") or {}
    return {
        "rows": [
            {
                "source": source,
                "left_out": pair["left_out"],
                "baseline": pair["baseline"],
                "beats": pair["left_out"]["hate"]["f1"] > pair["baseline"]["hate"]["f1"],
            }
            for source, pair in results["loso"].items()
        ],
        "train_rows": settings.get("max_train_samples") or "all",
        "epochs": settings.get("epochs"),
    }


def _run_facts(runs: dict) -> dict:
    """How a set of short runs was made (all alike): training rows, epochs and commit."""
    first = next(iter(runs.values()))["summary"]
    return {
        "train_rows": first["rows"],
        "epochs": first["epochs"],
        "commit": first.get("commit", "unknown"),
    }


def ablations(results: dict) -> dict | None:
    """Each variant against the base recipe's mean over its seeds: better or worse only beyond
    twice the base's std."""
    runs = results["ablations"]
    if not runs:
        return None
    base_scores = [
        _public_mean_f1(run["eval_validation"])
        for name, run in runs.items()
        if name.startswith("base")
    ]
    base_mean = statistics.mean(base_scores)
    spread = statistics.stdev(base_scores) if len(base_scores) > 1 else 0.0
    rows = []
    for name, run in runs.items():
        summary, metrics = run["summary"], run["eval_validation"]
        score = _public_mean_f1(metrics)
        delta = score - base_mean
        if name.startswith("base"):
            verdict = "base"
        elif delta > 2 * spread:
            verdict = "better"
        elif delta < -2 * spread:
            verdict = "worse"
        else:
            verdict = "within seed spread"
        rows.append(
            {
                "change": summary["change"],
                "score": score,
                "delta": delta,
                "verdict": verdict,
                "metrics": metrics,
                "per_source": _per_source_f1(metrics),
                "check": _check_accuracy(run),
                "seconds": summary["seconds"],
            }
        )
    return {
        "rows": rows,
        **_run_facts(runs),
        "base_seeds": len(base_scores),
        "base_mean": base_mean,
        "spread": spread,
        "better": [row["change"] for row in rows if row["verdict"] == "better"],
    }


def _mention_bias(metrics: dict | None) -> tuple[float | None, float | None]:
    """(FPR on non-hateful texts that name a group, pooled over the groups; mean BPSN AUC over
    the groups with enough non-hateful mentions to rate): the validation bias figures a remedy is
    chosen on. BPSN (Borkan et al. 2019) falls when group mentions score higher than hate that
    names no group: the shortcut the remedies are meant to break, and free of the threshold."""
    bias = (metrics or {}).get("bias")
    if not bias:
        return None, None
    groups = bias["groups"].values()
    counted = sum(g["non_hateful"] for g in groups)
    flagged = sum(g["fpr"] * g["non_hateful"] for g in groups if g.get("fpr") is not None)
    rated = [
        g["bpsn_auc"]
        for g in groups
        if g.get("bpsn_auc") is not None and g["non_hateful"] >= bias["gap_min_non_hateful"]
    ]
    return (flagged / counted if counted else None), (statistics.mean(rated) if rated else None)


def remedies(results: dict) -> dict | None:
    """The identity remedies of issue #19, one at a time against the base recipe, on validation
    only: adopted when the mean BPSN AUC rises and the identity-template validation FPR falls,
    while the mean public hate F1 stays within twice the seed spread of the base."""
    runs = results.get("remedies") or {}
    if not runs:
        return None
    base_runs = [run for name, run in runs.items() if name.startswith("base")]
    base_scores = [_public_mean_f1(run["eval_validation"]) for run in base_runs]
    base_mean = statistics.mean(base_scores)
    if len(base_scores) > 1:
        spread, spread_from = statistics.stdev(base_scores), f"{len(base_scores)} base seeds"
    else:
        earlier = ablations(results)
        spread, spread_from = earlier["spread"], f"the {earlier['base_seeds']} seeds above"
    base_fpr, base_bpsn = _mention_bias(base_runs[0]["eval_validation"])
    base_identity = _identity_errors(base_runs[0])
    rows = []
    for name, run in runs.items():
        score = _public_mean_f1(run["eval_validation"])
        fpr, bpsn = _mention_bias(run["eval_validation"])
        identity = _identity_errors(run)
        verdict = (
            "base"
            if name.startswith("base")
            else _remedy_verdict(
                (score, bpsn, identity["fpr"]),
                (base_mean, base_bpsn, base_identity["fpr"]),
                spread,
            )
        )
        cases = (run["check"] or {}).get("cases", {})
        rows.append(
            {
                "name": name,
                "change": run["summary"]["change"],
                "score": score,
                "delta": score - base_mean,
                "mention_fpr": fpr,
                "bpsn": bpsn,
                "identity": identity,
                "verdict": verdict,
                "check": _check_accuracy(run),
                "support": (cases.get("support and equal rights") or {}).get("accuracy"),
                "counter": (cases.get("counter-speech") or {}).get("accuracy"),
                "seconds": run["summary"]["seconds"],
                "commit": run["summary"].get("commit", "unknown"),
            }
        )
    commits = sorted({row["commit"] for row in rows})
    return {
        "rows": rows,
        **_run_facts(runs),
        "commits": {
            commit: [row["name"] for row in rows if row["commit"] == commit] for commit in commits
        },
        "not_run": [name for name in REMEDY_NAMES if name not in runs],
        "base_mean": base_mean,
        "spread": spread,
        "spread_from": spread_from,
        "adopted": [row["name"] for row in rows if row["verdict"] == "adopted"],
    }


def _remedy_verdict(remedy: tuple, base: tuple, spread: float) -> str:
    """The remedies' rule on (mean public hate F1, mean BPSN AUC, identity-template FPR): adopted
    when BPSN rises and the FPR falls while the F1 stays within twice the seed spread."""
    (score, bpsn, fpr), (base_score, base_bpsn, base_fpr) = remedy, base
    if score < base_score - 2 * spread:
        return "rejected: hate F1 lower"
    if bpsn > base_bpsn and fpr < base_fpr:
        return "adopted"
    return "rejected: bias not lower"


def _identity_errors(run: dict, key: str = "eval_identity_validation") -> dict:
    """FPR on the identity templates' non-hateful validation sentences, and recall of their
    politely hateful ones; with key="eval_identity_heldout" the same on the held-out frames'
    sentences (recipes/identity-heldout.yaml)."""
    metrics = run.get(key) or {}
    per_class = metrics.get("per_class") or {}
    keep = (per_class.get("not_hate") or {}).get("recall")
    return {
        "fpr": None if keep is None else 1 - keep,
        "hate_recall": (per_class.get("hate") or {}).get("recall"),
    }


def templates(results: dict, seed: dict) -> list[dict] | None:
    previous = results.get("previous", {}).get("seed1234")
    if not previous:
        return None
    runs = {"earlier training templates": previous, "more training templates (shipped)": seed}
    rows = []
    for name, run in runs.items():
        check = run["check"] or {}
        rows.append(
            {
                "name": name,
                "validation": _public_mean_f1(run["eval_validation"]),
                "per_source": _per_source_f1(run["eval_validation"]),
                "test": _public_mean_f1(run["eval_general"]),
                "check": check.get("accuracy"),
                "negated_hate": check["cases"]["negated hate"]["accuracy"] if check else None,
                "positive_mention": check["cases"]["positive mention"]["accuracy"]
                if check
                else None,
            }
        )
    return rows


def ensemble(results: dict, seed: dict) -> dict | None:
    """The student distilled from the seeds' teachers' mean logits against seed 1234's, judged
    on validation against twice the seed-to-seed std."""
    run = results.get("ensemble")
    if not run:
        return None
    seed_scores = [
        _public_mean_f1(r["eval_validation"])
        for r in results["seeds"].values()
        if r.get("eval_validation")
    ]
    spread = statistics.stdev(seed_scores) if len(seed_scores) > 1 else 0.0
    delta = _public_mean_f1(run["eval_validation"]) - _public_mean_f1(seed["eval_validation"])
    verdict = "better" if delta > 2 * spread else "worse" if delta < -2 * spread else "no better"
    runs = {"seed 1234's teacher alone": seed, "mean logits of the seeds' teachers": run}
    return {
        "teachers": len(seed_scores),
        "delta": delta,
        "spread": spread,
        "verdict": verdict,
        "rows": [
            {
                "name": name,
                "validation": _public_mean_f1(r["eval_validation"]),
                "per_source": _per_source_f1(r["eval_validation"]),
                "pooled_hate_f1": r["eval_general"]["hate"]["f1"],
                "hs18_hate_f1": r["eval_hs18"]["hate"]["f1"] if r["eval_hs18"] else None,
                "check": _check_accuracy(r),
                "student_seconds": (r.get("student") or {}).get("train_seconds"),
            }
            for name, r in runs.items()
        ],
    }


def seeds(results: dict) -> dict:
    return _seed_table(results["seeds"])


def _seed_table(runs: dict) -> dict:
    """One row per seed of a recipe, and the mean and std over them."""
    rows = [
        {
            "name": name,
            "validation": _public_mean_f1(run.get("eval_validation")),
            "hate_f1": run["eval_general"]["hate"]["f1"],
            "macro_f1": run["eval_general"]["macro_f1"],
            "roc_auc": run["eval_general"]["roc_auc"],
            "hs18_hate_f1": run["eval_hs18"]["hate"]["f1"] if run["eval_hs18"] else None,
            "check": _check_accuracy(run),
            "train_seconds": _train_time(run),
        }
        for name, run in runs.items()
    ]
    checks = [100 * row["check"] for row in rows if row["check"] is not None]
    return {
        "rows": rows,
        "mean": {
            **{
                key: _mean_std([row[key] for row in rows])
                for key in ("validation", "hate_f1", "macro_f1", "roc_auc", "hs18_hate_f1")
            },
            "check_percent": _mean_std(checks),
        },
    }


def _ship_rule_by_seed(runs: dict, decision: dict, later: dict) -> dict:
    """A recipe's seeds under issue #19's ship rule: `decision` judged the one seed with no
    decision of its own (ship-decision.json), `later` each later seed's."""
    table = _seed_table(runs)
    missed = [_missed(each) for each in (decision, *later.values())]
    by_validation = [row for row in table["rows"] if row["validation"] is not None]
    return {
        "seeds": list(runs),
        "table": table,
        "later": {name: _missed(later_decision) for name, later_decision in later.items()},
        # What no seed meets, whatever the seed: the targets the recipe itself misses.
        "missed_by_every_seed": [
            target for target in missed[0] if all(target in m for m in missed)
        ],
        "decided_seeds": 1 + len(later),
        # The seed that would ship if the rule were met: the best on validation, never on test.
        "best_on_validation": max(by_validation, key=lambda row: row["validation"])["name"]
        if by_validation
        else None,
        "ship": decision["ship"],
        "targets": decision["targets"],
        "failed": missed[0],
        **_per_seed_checks(next(name for name in runs if name not in later), decision, later),
    }


def next_recipe(results: dict) -> dict | None:
    """recipes/general-next.yaml trained at full budget, and issue #19's ship rule against the
    shipped model (scripts/ship_decision.py --out runs/general-next/ship-decision.json)."""
    found = results.get("next") or {}
    runs, decision = found.get("seeds") or {}, found.get("decision")
    if not runs or decision is None:
        return None
    return _ship_rule_by_seed(runs, decision, found.get("seed_decisions") or {})


def _further_row(seed: str, recipe: str, figures: dict) -> dict:
    """One recipe's figures at one seed, for the further remedy's tables."""
    fpr, bpsn = _mention_bias(figures["eval_validation"])
    cases = (figures["check"] or {}).get("cases", {})
    return {
        "seed": seed,
        "recipe": recipe,
        "validation": _public_mean_f1(figures["eval_validation"]),
        "mention_fpr": fpr,
        "bpsn": bpsn,
        "identity": _identity_errors(figures),
        "heldout": _identity_errors(figures, "eval_identity_heldout"),
        "hate_f1": figures["eval_general"]["hate"]["f1"],
        "roc_auc": figures["eval_general"]["roc_auc"],
        "hs18_hate_f1": (figures["eval_hs18"] or {}).get("hate", {}).get("f1"),
        "check": _check_accuracy(figures),
        "cases": {case: (cases.get(case) or {}).get("accuracy") for case in FURTHER_CASES},
        "test_gap": figures["eval_general"]["bias"]["fpr_gap"],
        # Runs exported before per-channel weights became export's default did not record it.
        "int8": {True: "per channel", False: "per matrix"}.get(
            figures.get("int8_per_channel"), "per matrix (default then)"
        ),
        "train_seconds": _train_time(figures),
    }


def further_remedy(results: dict) -> dict | None:
    """recipes/general-next-more.yaml against the next recipe, seed by seed, judged as the
    short-run remedies are: adopted when the mean BPSN AUC rises and the identity-template FPR
    falls while the mean public hate F1 stays within twice the next recipe's seed spread. Both
    are scored on the next recipe's validation split (the new source's own rows are left out, as
    the next recipe never saw them); test, check and the ship rule are shown beside it, and the
    held-out identity frames where a run was scored on them (with today's model beside)."""
    found, base = results.get("next_more") or {}, (results.get("next") or {}).get("seeds") or {}
    runs, decision = found.get("seeds") or {}, found.get("decision")
    if not runs or decision is None:
        return None
    base_scores = [_public_mean_f1(run["eval_validation"]) for run in base.values()]
    spread = statistics.stdev(base_scores) if len(base_scores) > 1 else 0.0
    rows, judged = [], []
    for name, run in runs.items():
        new = _further_row(name, "next + more shapes", run)
        if name in base:
            old = _further_row(name, "next recipe", base[name])
            old["verdict"] = "base"
            new["verdict"] = _remedy_verdict(
                (new["validation"], new["bpsn"], new["identity"]["fpr"]),
                (old["validation"], old["bpsn"], old["identity"]["fpr"]),
                spread,
            )
            judged.append(new["verdict"])
            rows.append(old)
        else:
            new["verdict"] = "no base seed"
        rows.append(new)
    shipped = results.get("shipped") or {}
    return {
        "rows": rows,
        "spread": spread,
        "adopted": bool(judged) and all(v == "adopted" for v in judged),
        # Every model clears the identity templates' validation sentences alike: they cannot tell
        # the recipes apart, and the verdict rests on the BPSN AUC.
        "identity_saturated": len({tuple(row["identity"].values()) for row in rows}) == 1,
        "heldout_shipped": _identity_errors(shipped, "eval_identity_heldout")
        if shipped.get("eval_identity_heldout")
        else None,
        **_ship_rule_by_seed(runs, decision, found.get("seed_decisions") or {}),
    }


def _heldout_verdict(remedy: dict, base: dict, spread: float) -> str:
    """The contrast remedy's rule, fixed before its first run: the held-out identity frames
    replace the identity templates' saturated validation rows. Adopted when the mean public hate
    F1 stays within twice the base recipe's seed spread, the held-out frames' FPR falls and their
    hate recall falls by at most one point."""
    if remedy["validation"] < base["validation"] - 2 * spread:
        return "rejected: hate F1 lower"
    if remedy["heldout"]["fpr"] is None or base["heldout"]["fpr"] is None:
        return "not judged: no held-out figures"
    if remedy["heldout"]["hate_recall"] < base["heldout"]["hate_recall"] - 0.01:
        return "rejected: held-out recall lower"
    if remedy["heldout"]["fpr"] < base["heldout"]["fpr"]:
        return "adopted"
    return "rejected: held-out FPR not lower"


def _judged_on_more(results: dict, key: str, recipe: str) -> dict | None:
    """A change on top of the more recipe (its base), seed by seed, on the next recipe's
    validation split, judged by `_heldout_verdict`. A base seed whose model is gone has no
    held-out figures; it is then compared with the mean of the base seeds that have them."""
    found, base = results.get(key) or {}, (results.get("next_more") or {}).get("seeds")
    runs, decision = found.get("seeds") or {}, found.get("decision")
    if not runs or decision is None or not base:
        return None
    base_rows = {name: _further_row(name, "next + more shapes", run) for name, run in base.items()}
    spread = statistics.stdev([row["validation"] for row in base_rows.values()])
    scored = [row["heldout"] for row in base_rows.values() if row["heldout"]["fpr"] is not None]
    pooled = {
        "fpr": statistics.mean(h["fpr"] for h in scored) if scored else None,
        "hate_recall": statistics.mean(h["hate_recall"] for h in scored) if scored else None,
    }
    rows = []
    for name, run in runs.items():
        new = _further_row(name, recipe, run)
        old = base_rows.get(name)
        if old is None:
            new["verdict"] = "no base seed"
        else:
            reference = dict(old)
            if reference["heldout"]["fpr"] is None:
                reference["heldout"] = pooled
            new["verdict"] = _heldout_verdict(new, reference, spread)
            rows.append(old | {"verdict": "base"})
        rows.append(new)
    return {
        "rows": rows,
        "spread": spread,
        "heldout_base_seeds": [n for n, r in base_rows.items() if r["heldout"]["fpr"] is not None],
        "heldout_base_mean": pooled,
        **_ship_rule_by_seed(runs, decision, found.get("seed_decisions") or {}),
    }


def contrast_remedy(results: dict) -> dict | None:
    """recipes/general-next-contrast.yaml against the more recipe."""
    return _judged_on_more(results, "next_contrast", "more + contrast pairs")


def ensemble_on_more(results: dict) -> dict | None:
    """The more recipe's student distilled from the mean logits of several seeds' teachers
    (scripts/ensemble_student.sh) against the same student seed taught by its own seed's teacher
    alone, by the contrast remedy's rule (fixed before this run too)."""
    judged = _judged_on_more(results, "next_more_ensemble", "more, mean of teachers")
    if judged is None:
        return None
    teachers = (results.get("next_more_ensemble") or {}).get("teachers") or {}
    return judged | {"teachers": teachers}


def _missed(decision: dict) -> list[str]:
    return [row["target"] for row in decision["targets"] if not row["met"]]


def _per_seed_checks(first: str, decision: dict, later: dict) -> dict:
    """The check per case type and each group's friendly-sentence FPR, one column per seed, then
    the model shipped when the first seed was judged and, once later seeds were, today's."""
    columns = {first: decision["candidate"], **{n: d["candidate"] for n, d in later.items()}}
    columns["shipped then"] = decision["shipped"]
    if later:
        columns["shipped now"] = list(later.values())[-1]["shipped"]
    return {
        "check_columns": list(columns),
        "cases": {
            case: [column.get("cases", {}).get(case) for column in columns.values()]
            for case in decision["candidate"].get("cases", {})
        },
        "group_fpr": {
            group: [column.get("group FPR", {}).get(group) for column in columns.values()]
            for group in decision["candidate"].get("group FPR", {})
        },
    }


def bias_side_by_side(results: dict, found: dict | None) -> dict | None:
    """Borkan et al.'s per-group figures on the test rows that mention a group: today's shipped
    model beside the next recipe's seed that validation picks (`found`: next_recipe's answer)."""
    shipped = results.get("shipped")
    if found is None or not shipped or not found["best_on_validation"]:
        return None
    picked = results["next"]["seeds"][found["best_on_validation"]]
    old, new = shipped["eval_general"]["bias"], picked["eval_general"]["bias"]
    keys = ("fpr", "subgroup_auc", "bpsn_auc", "bnsp_auc")
    return {
        "seed": found["best_on_validation"],
        "rows": [
            {
                "group": group,
                "non_hateful": figures["non_hateful"],
                "shipped": [figures.get(key) for key in keys],
                "next": [new["groups"].get(group, {}).get(key) for key in keys],
            }
            for group, figures in old["groups"].items()
        ],
        "gap": {"shipped": old["fpr_gap"], "next": new["fpr_gap"]},
        "overall_fpr": {"shipped": old["overall_fpr"], "next": new["overall_fpr"]},
    }


def speed(results: dict, seed: dict) -> dict:
    bench = results.get("bench")
    return {
        "teacher_seconds": (seed.get("teacher") or {}).get("train_seconds"),
        "student_seconds": (seed.get("student") or {}).get("train_seconds"),
        "train_seconds": _train_time(seed),
        "size_mb": seed["size_bytes"] / 1e6 if seed.get("size_bytes") else None,
        "bench": bench["results"] if bench else None,
        "cpus": bench.get("machine", {}).get("cpus", "?") if bench else None,
    }


# The full-budget recipes judged by the ship rule, by results.json key and the report's name.
CANDIDATE_RECIPES = {
    "next": "next recipe",
    "next_more": "next + more shapes",
    "next_contrast": "more + contrast pairs",
    "next_more_ensemble": "more, mean of teachers",
}
# How many of a model's wrong sentences the report shows per case type.
MISSES_SHOWN = 8


def stuck_cases(results: dict) -> dict | None:
    """The case types below the ship rule's floor in most full-budget seeds, whatever the remedy:
    per case type, how many seeds are below it and the range over seeds; then today's model's
    and each seed's wrong sentences in them, where the run kept them."""
    seeds = {
        f"{recipe}, {name}": run
        for key, recipe in CANDIDATE_RECIPES.items()
        for name, run in ((results.get(key) or {}).get("seeds") or {}).items()
        if run.get("check")
    }
    if not seeds:
        return None
    shares: dict[str, list[float]] = {}
    for run in seeds.values():
        for case, score in run["check"]["cases"].items():
            shares.setdefault(case, []).append(score["accuracy"])
    shipped_cases = ((results.get("shipped") or {}).get("check") or {}).get("cases") or {}
    every_case = [
        {
            "case": case,
            "below": sum(value < MIN_CASE for value in values),
            "scored": len(values),
            "low": min(values),
            "high": max(values),
            "shipped": shipped_cases[case]["accuracy"] if case in shipped_cases else None,
        }
        for case, values in shares.items()
    ]
    rows = [row for row in every_case if 2 * row["below"] >= row["scored"]]
    rows.sort(key=lambda row: (-row["below"], row["low"]))
    models = {"today's models/default": results.get("shipped") or {}, **seeds}
    misses = {
        model: {
            row["case"]: wrong[row["case"]][:MISSES_SHOWN]
            for row in rows
            if row["case"] in (wrong := (run.get("check") or {}).get("misses") or {})
        }
        for model, run in models.items()
    }
    return {
        "seeds": len(seeds),
        "floor": MIN_CASE,
        "rows": rows,
        "misses": {model: cases for model, cases in misses.items() if cases},
        "shown": MISSES_SHOWN,
    }


def context(results: dict) -> dict:
    """What the template prints: the gathered figures, and the choices made from them."""
    reference = results["seeds"].get("seed1234") or next(iter(results["seeds"].values()))
    found = next_recipe(results)
    return {
        "short": SHORT,
        "data": results["data"],
        "per_source": per_source(results, reference),
        "hs18": {
            "hate_speech18-only (models/hate_speech18, int8)": results["baseline"]["eval_hs18"],
            "general student (int8)": reference["eval_hs18"],
        },
        "check": {"old": results["baseline"]["check"], "new": reference["check"]},
        "loso": loso(results),
        "ablations": ablations(results),
        "remedies": remedies(results),
        "next_recipe": found,
        "bias": bias_side_by_side(results, found),
        "further": further_remedy(results),
        "contrast": contrast_remedy(results),
        "ensemble_more": ensemble_on_more(results),
        "templates": templates(results, reference),
        "ensemble": ensemble(results, reference),
        "seeds": seeds(results),
        "stuck": stuck_cases(results),
        "speed": speed(results, reference),
    }


def _merge(stored: dict, gathered: dict, top: bool = True) -> dict:
    """`stored` with every figure `gathered` found: what no run file under --runs holds (None,
    or an empty section) is kept as it was."""
    merged = dict(stored)
    for key, value in gathered.items():
        # a new set of seeds or variants replaces the old set: their mean is of one recipe
        if top and key in ("seeds", "ablations") and value:
            merged[key] = value
        # Added to what is stored, the latest run of a name replacing the earlier: each remedy
        # (judged against the base of its own set, which is run again with every set), and the
        # next recipe's seeds and their decisions (from several machines and sessions).
        elif value and (
            (top and key == "remedies") or (not top and key in ("seeds", "seed_decisions"))
        ):
            merged[key] = {**(stored.get(key) or {}), **value}
        elif isinstance(value, dict) and isinstance(stored.get(key), dict) and value:
            merged[key] = _merge(stored[key], value, top=False)
        elif value:
            merged[key] = value
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("docs/generalisation.md"))
    parser.add_argument(
        "--from-json", action="store_true", help="render the committed results.json"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep results.json's sections whose run files are not under --runs (runs of an "
        "earlier machine) and replace the others",
    )
    args = parser.parse_args()
    store = args.out.parent / "generalisation" / "results.json"
    if args.from_json:
        results = json.loads(store.read_text(encoding="utf-8"))
    else:
        results = gather(args.runs)
        if args.merge and store.is_file():
            results = _merge(json.loads(store.read_text(encoding="utf-8")), results)
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    args.out.write_text(render(TEMPLATE, **context(results)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

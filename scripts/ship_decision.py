"""Does a candidate general model replace the shipped one? Issue #19's ship rule, from run files.

    python scripts/ship_decision.py --candidate runs/general/seed1234 --shipped runs/shipped

Each folder holds `eval-general.json` (`modeldistill evaluate MODEL --data recipes/general.yaml
--json --output ...`: the same test split for both), `eval-hs18.json` (hate_speech18's original
split, `--hate-vs-rest`) and `check.json` (`modeldistill check MODEL --out ...`, with its
sentences). Prints each target, the two models' figures and whether it is met; writes
--out (JSON) when given; exit 0 when the candidate meets every target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from modeldistill.check.run import friendly_group_fpr

MIN_CHECK, MIN_CASE = 0.90, 0.80
MAX_GROUP_FPR, MAX_GROUP_GAP = 0.05, 0.05
MAX_F1_DROP, MAX_AUC_DROP, MIN_HS18_F1 = 0.01, 0.005, 0.56


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read {path}: {error}") from None


def _friendly_fpr(check: dict) -> dict[str, float]:
    if not check.get("sentences"):
        raise SystemExit("check.json holds no sentences: write it with `modeldistill check --out`")
    return friendly_group_fpr(check["sentences"])


def figures(folder: Path) -> dict:
    general, hs18, check = (
        _read(folder, name) for name in ("eval-general.json", "eval-hs18.json", "check.json")
    )
    fpr = _friendly_fpr(check)
    worst = max(fpr, key=fpr.get)
    best = min(fpr, key=fpr.get)
    return {
        "check": check["accuracy"],
        "lowest case": min((case["accuracy"], name) for name, case in check["cases"].items()),
        "worst group FPR": (fpr[worst], worst),
        "group FPR gap": fpr[worst] - fpr[best],
        "pooled hate F1": general["hate"]["f1"],
        "pooled ROC-AUC": general["roc_auc"],
        "hate_speech18 hate F1": hs18["hate"]["f1"],
        "group FPR": fpr,
        "cases": {name: case["accuracy"] for name, case in check["cases"].items()},
    }


def decide(candidate: dict, shipped: dict) -> list[dict]:
    def row(target: str, value, met: bool, today) -> dict:
        return {"target": target, "candidate": value, "shipped": today, "met": met}

    return [
        row(f"check >= {MIN_CHECK:.0%}", candidate["check"], candidate["check"] >= MIN_CHECK,
            shipped["check"]),
        row(f"every case type >= {MIN_CASE:.0%}", candidate["lowest case"],
            candidate["lowest case"][0] >= MIN_CASE, shipped["lowest case"]),
        row(f"every group's friendly-sentence FPR <= {MAX_GROUP_FPR:.0%}",
            candidate["worst group FPR"], candidate["worst group FPR"][0] <= MAX_GROUP_FPR,
            shipped["worst group FPR"]),
        row(f"largest gap between groups <= {MAX_GROUP_GAP * 100:.0f} points",
            candidate["group FPR gap"], candidate["group FPR gap"] <= MAX_GROUP_GAP,
            shipped["group FPR gap"]),
        row(f"pooled hate F1 not lower by more than {MAX_F1_DROP}", candidate["pooled hate F1"],
            candidate["pooled hate F1"] >= shipped["pooled hate F1"] - MAX_F1_DROP,
            shipped["pooled hate F1"]),
        row(f"pooled ROC-AUC not lower by more than {MAX_AUC_DROP}", candidate["pooled ROC-AUC"],
            candidate["pooled ROC-AUC"] >= shipped["pooled ROC-AUC"] - MAX_AUC_DROP,
            shipped["pooled ROC-AUC"]),
        row(f"hate_speech18 hate-vs-rest F1 >= {MIN_HS18_F1}", candidate["hate_speech18 hate F1"],
            candidate["hate_speech18 hate F1"] >= MIN_HS18_F1, shipped["hate_speech18 hate F1"]),
    ]  # fmt: skip


def _show(value) -> str:
    if isinstance(value, tuple):
        return f"{value[0]:.3f} ({value[1]})"
    return f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", type=Path, required=True)
    parser.add_argument("--shipped", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None, help="write the decision as JSON")
    args = parser.parse_args()
    candidate, shipped = figures(args.candidate), figures(args.shipped)
    rows = decide(candidate, shipped)
    print("| target | candidate | shipped today | met |\n|---|---|---|---|")
    for row in rows:
        met = "yes" if row["met"] else "**no**"
        print(f"| {row['target']} | {_show(row['candidate'])} | {_show(row['shipped'])} | {met} |")
    ship = all(row["met"] for row in rows)
    print(f"\nship the candidate: {'yes' if ship else 'no'}")
    if args.out is not None:
        args.out.write_text(
            json.dumps(
                {"ship": ship, "targets": rows, "candidate": candidate, "shipped": shipped},
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0 if ship else 1


if __name__ == "__main__":
    sys.exit(main())

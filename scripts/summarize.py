"""Summarise the real-data runs into docs/results.md: test metrics as mean ± std over seeds,
baselines, the original project's reported figures, one-change-at-a-time ablations, the paper's
protocol, and the targets. Every figure is read from files the runs wrote (results.json,
train_log.jsonl, the bench JSON); only the two baselines are computed here, on the same split.

    python scripts/summarize.py --runs runs --data ../shared/data/hate_speech18 --out docs/results.md

First every figure the report prints is gathered into docs/results/results.json, which is
committed, so the report can be re-rendered and checked without the runs (`--from-json`). The
figures reported elsewhere and the list of experiments are in scripts/reports/results.yaml; the
text is scripts/reports/results.md.j2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np

from modeldistill.artifacts import METRICS_FILE, read_inference, read_metrics, read_train_log
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.evaluate.metrics import compute_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports.render import load_data, render  # noqa: E402 - beside the script, not installed

SETTINGS = load_data("results.yaml")
TEMPLATE = "results.md.j2"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def stat(values: list[float]) -> dict:
    """Mean and sample std as the report prints them; a single value has no std."""
    mean, std = mean_std(values)
    return {"mean": mean, "std": std if len(values) > 1 else None}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def best_validation_accuracy(folder: Path, best_epoch: int) -> float:
    lines = [record.to_dict() for record in read_train_log(folder)]
    return next(line["val_accuracy"] for line in lines if line["epoch"] == best_epoch)


def baselines(data: str) -> dict[str, dict]:
    """Majority class and TF-IDF + logistic regression, trained on train, scored on val and test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    splits = load_splits(DataConfig(data=data))
    train_y = np.asarray(splits.train["label"])
    majority = int(np.bincount(train_y).argmax())
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(splits.train["text"])
    model = LogisticRegression(max_iter=2000, C=10.0).fit(features, train_y)
    result = {}
    for split in ("validation", "test"):
        y = np.asarray(splits[split]["label"])
        majority_scores = compute_metrics(y, np.full_like(y, majority), splits.labels)
        result[f"majority/{split}"] = majority_scores.model_dump(exclude_none=True)
        predicted = model.predict(vectorizer.transform(splits[split]["text"]))
        result[f"tfidf/{split}"] = compute_metrics(y, predicted, splits.labels).model_dump(
            exclude_none=True
        )
    return result


def latency_table(bench: dict | None) -> dict[tuple[str, str, int], dict]:
    """Bench rows keyed by (exported folder name, backend, batch size)."""
    if not bench:
        return {}
    return {(Path(r["path"]).name, r["backend"], r["batch_size"]): r for r in bench["results"]}


def p50(latency: dict, shape: str, backend: str = "torch") -> float | None:
    row = latency.get((shape, backend, 1))
    return row["p50_ms"] if row else None


def method_metrics(runs: Path, folder: str) -> tuple[str, dict] | None:
    """The single method trained in runs/folder and its test metrics, if that run finished."""
    path = runs / folder / "results.json"
    if not path.is_file():
        return None
    return next(iter(read_json(path)["methods"].items()))


def load_groups(runs: Path) -> dict[str, list[dict]]:
    """Each improved recipe's finished runs, seed 1234 first."""
    groups = {}
    for name, group in SETTINGS["groups"].items():
        found = [m for m in (method_metrics(runs, f) for f in group["folders"]) if m]
        if found:
            groups[name] = [{**metrics, "method": method} for method, metrics in found]
    return groups


def group_title(name: str) -> str:
    return SETTINGS["groups"][name]["title"]


def scores(runs: list[dict], labels: list[str]) -> dict:
    """The metric columns every results table shares, over a method's seeds."""
    return {
        "accuracy": stat([r["accuracy"] for r in runs]),
        "macro_f1": stat([r["macro_f1"] for r in runs]),
        "hate_f1": stat([r["hate"]["f1"] for r in runs]),
        "per_class_f1": {
            label: stat([r["per_class"][label]["f1"] for r in runs]) for label in labels
        },
    }


def verdict(candidate: list[float], reference: list[float]) -> dict:
    """A difference of means within the larger standard deviation over seeds is no difference."""
    gap = mean_std(candidate)[0] - mean_std(reference)[0]
    spread = max(mean_std(candidate)[1], mean_std(reference)[1])
    judged = min(len(candidate), len(reference)) >= 2
    return {"gap": gap, "spread": spread, "judged": judged, "real": judged and abs(gap) > spread}


def recommended(per_method: dict[str, list[dict]], groups: dict[str, list[dict]]):
    """The odd-student recipe with the highest mean validation macro-F1 over its seeds; the
    test split plays no part in the choice."""
    options = [("odd, original recipe", per_method.get("odd", []))]
    options += [(group_title(n), runs) for n, runs in groups.items() if runs[0]["method"] == "odd"]
    options = [(title, runs) for title, runs in options if len(runs) >= 2]
    if not options:
        return None
    return max(options, key=lambda o: mean_std([r["best_val_macro_f1"] for r in o[1]])[0])


def target(name: str, value: float, goal: float) -> dict:
    return {
        "name": name,
        "value": value,
        "goal": goal,
        "missed_by": None if value >= goal else goal - value,
    }


def gather_targets(
    per_method: dict[str, list[dict]],
    best: tuple[str, list[dict]] | None,
    groups: dict[str, list[dict]],
    runs: Path,
) -> dict:
    """The issue's targets, each met or missed by how much (means over seeds, test split)."""
    goals = SETTINGS["targets"]
    student = None
    if best and "teacher" in per_method:
        title, best_runs = best
        teacher_f1 = per_method["teacher"][0]["macro_f1"]
        mean = {key: mean_std([r[key] for r in best_runs])[0] for key in ("macro_f1", "accuracy")}
        hate = mean_std([r["hate"]["f1"] for r in best_runs])[0]
        student = {
            "title": title,
            "seeds": len(best_runs),
            "checks": [
                target(
                    "macro-F1 / teacher's macro-F1",
                    mean["macro_f1"] / teacher_f1,
                    goals["macro_f1_ratio"],
                ),
                target("hate F1", hate, goals["hate_f1"]),
                target("accuracy", mean["accuracy"], goals["accuracy"]),
            ],
        }
    lora_lr = None
    if "lora-lr" in groups:
        hate = [r["hate"]["f1"] for r in groups["lora-lr"]]
        lora_lr = {"seeds": len(hate), "hate_f1": stat(hate), "lowest": min(hate)}
    paper_check = None
    paper = runs / "paper" / "results.json"
    if paper.is_file():
        results = read_json(paper)["methods"]
        best_paper = max(
            (m for m in results if m != "teacher"), key=lambda m: results[m]["best_val_macro_f1"]
        )
        paper_check = target(
            f"paper protocol, {best_paper} student accuracy",
            results[best_paper]["accuracy"],
            goals["paper_accuracy"],
        )
    return {
        "student": student,
        "lora_hate_f1": stat([r["hate"]["f1"] for r in per_method["lora"]])
        if "lora" in per_method
        else None,
        "lora_lr": lora_lr,
        "paper": paper_check,
    }


def machine(bench: dict | None) -> dict | None:
    """The machine the runs were timed on, as bench recorded it."""
    info = (bench or {}).get("machine") or {}
    if not info.get("cpus"):
        return None
    return {"cpus": info["cpus"], "cpu_only": str(info.get("torch", "")).endswith("+cpu")}


def split_counts(results: dict, split: str) -> dict:
    """A split's rows and rows per class, from the data summary a run wrote."""
    summary = results["data"]["splits"][split]
    return {"rows": summary["rows"], "per_class": summary["per_class"]}


def original_recipe(per_method, labels, latency, base) -> dict:
    rows = [
        {
            "method": method,
            "seeds": len(runs),
            "scores": scores(runs, labels),
            "parameters": runs[0]["parameters"],
            "size_mb": runs[0]["size_bytes"] / 1e6,
            "latency_ms": p50(latency, SETTINGS["bench_shape"].get(method, method)),
            "train_seconds": stat([r.get("train_seconds", 0) for r in runs]),
        }
        for method, runs in per_method.items()
    ]
    baseline_rows = []
    for name, title in (("majority", "majority class"), ("tfidf", "TF-IDF + logistic regression")):
        m = base[f"{name}/test"]
        baseline_rows.append(
            {
                "title": title,
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "hate_f1": m["hate"]["f1"],
                "per_class_f1": {label: m["per_class"][label]["f1"] for label in labels},
            }
        )
    odd_vs_even = None
    if "odd" in per_method and "even" in per_method:
        odd, even = ([r["macro_f1"] for r in per_method[m]] for m in ("odd", "even"))
        odd_vs_even = verdict(odd, even)
    return {"rows": rows, "baselines": baseline_rows, "odd_minus_even": odd_vs_even}


def improved_recipes(per_method, groups, labels) -> dict | None:
    if not groups:
        return None
    rows = []
    for name, runs in groups.items():
        reference = [r["macro_f1"] for r in per_method.get(runs[0]["method"], [])]
        rows.append(
            {
                "title": group_title(name),
                "seeds": len(runs),
                "scores": scores(runs, labels),
                "val_macro_f1": stat([r["best_val_macro_f1"] for r in runs]),
                "train_seconds": stat([r.get("train_seconds", 0) for r in runs]),
                "against_original": verdict([r["macro_f1"] for r in runs], reference)
                if reference
                else None,
            }
        )
    return {"seeds": max(len(runs) for runs in groups.values()), "rows": rows}


def original_project(per_method, base) -> dict:
    rows = [
        {
            "method": method,
            "original": SETTINGS["original_validation_accuracy"][method],
            "ours": stat(
                [
                    best_validation_accuracy(Path(r["model"]), r["best_epoch"])
                    for r in per_method[method]
                ]
            ),
        }
        for method in ("odd", "even", "lora")
        if method in per_method
    ]
    return {
        "rows": rows,
        "majority": base["majority/validation"]["accuracy"],
        "tfidf": base["tfidf/validation"]["accuracy"],
    }


def ablations(runs: Path, per_method, groups) -> list[dict]:
    rows = []
    for folder, ablation in SETTINGS["ablations"].items():
        found = method_metrics(runs, folder)
        if not found:
            continue
        method, metrics = found
        reference_name = ablation["against"]
        reference = groups.get(reference_name) if reference_name else per_method.get(method)
        if not reference:
            continue
        spread = mean_std([r["macro_f1"] for r in reference])[1]
        delta = metrics["macro_f1"] - reference[0]["macro_f1"]
        rows.append(
            {
                "title": ablation["title"],
                "against": group_title(reference_name)
                if reference_name
                else f"{method}, original recipe",
                "val_macro_f1": metrics["best_val_macro_f1"],
                "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"],
                "hate_f1": metrics["hate"]["f1"],
                "delta": delta,
                "real": abs(delta) > spread,
            }
        )
    return rows


def recommendation(best: tuple[str, list[dict]] | None) -> dict | None:
    if not best:
        return None
    title, runs = best
    return {
        "title": title,
        "val_macro_f1": stat([r["best_val_macro_f1"] for r in runs]),
        "accuracy": stat([r["accuracy"] for r in runs]),
        "macro_f1": stat([r["macro_f1"] for r in runs]),
        "hate_f1": stat([r["hate"]["f1"] for r in runs]),
    }


def shipped_model(folder: Path) -> dict | None:
    """The shipped folder's test metrics and where it came from, if it has metrics."""
    path = folder / METRICS_FILE
    if not path.is_file():
        return None
    m, info = read_metrics(path), read_inference(folder)
    return {
        "folder": str(folder),
        "source_model": info.source_model if info else None,
        "backend": m.backend,
        "size_mb": (folder / "model.int8.onnx").stat().st_size / 1e6,
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "hate_f1": m.hate.f1 if m.hate else None,
        "threshold": info.threshold,
    }


def paper(runs: Path) -> dict | None:
    path = runs / "paper" / "results.json"
    if not path.is_file():
        return None
    results = read_json(path)
    return {
        "test_rows": split_counts(results, "test")["rows"],
        "rows": [
            {
                "method": method,
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "hate_f1": m["hate"]["f1"],
            }
            for method, m in results["methods"].items()
        ],
        "reported": [
            {"model": name, "accuracy": accuracy}
            for name, accuracy in SETTINGS["paper_accuracy"].items()
        ],
    }


def latency_rows(bench: dict | None, latency: dict) -> dict | None:
    if not latency:
        return None
    keys = ("p50_ms", "p95_ms", "texts_per_s", "size_mb", "agreement", "macro_f1")
    return {
        "cpus": (bench.get("machine") or {}).get("cpus"),
        "rows": [
            {
                "model": model,
                "backend": backend,
                "batch": batch,
                **{key: r[key] for key in keys},
                "tokenize_p50_ms": r.get("tokenize_p50_ms"),
            }
            for (model, backend, batch), r in latency.items()
        ],
    }


def copy_plots(seeds: list[Path], shipped: dict | None, plots: Path) -> dict:
    """Copies the first seed's plots and the shipped student's run plots next to the report."""
    plots.mkdir(parents=True, exist_ok=True)
    first = seeds[0].parent
    pictures = sorted(first.glob("*.png"))
    for picture in pictures:
        shutil.copyfile(picture, plots / picture.name)
    result = {"original": {"run": first.name, "files": [p.name for p in pictures]}, "shipped": None}
    if shipped is not None:  # the shipped student's own run: its curves and confusion matrix
        source = Path(shipped["source_model"] or "").parent
        shipped_pictures = sorted(source.glob("*.png")) if source != first else []
        for picture in shipped_pictures:
            shutil.copyfile(picture, plots / f"shipped_{picture.name}")
        result["shipped"] = {"run": str(source), "files": [p.name for p in shipped_pictures]}
    return result


def gather(args: argparse.Namespace) -> dict:
    """Every figure the report prints, read from the runs once."""
    seeds = sorted(args.runs.glob("seed*/results.json"))
    if not seeds:
        raise SystemExit(
            f"summarize.py: no {args.runs}/seed*/results.json: run scripts/reproduce.sh"
        )
    per_method: dict[str, list[dict]] = {}
    for path in seeds:
        for method, metrics in read_json(path)["methods"].items():
            if method == "teacher" and method in per_method:
                continue  # the teacher is shared between seeds: count it once
            per_method.setdefault(method, []).append(metrics)
    labels = next(iter(per_method.values()))[0]["labels"]
    groups = load_groups(args.runs)
    base = baselines(args.data)
    bench = read_json(args.bench) if args.bench.is_file() else None
    latency = latency_table(bench)
    first_run = read_json(seeds[0])
    best = recommended(per_method, groups)
    shipped = shipped_model(args.shipped)
    if shipped is not None:
        shipped["latency_ms"] = p50(latency, "student", "onnx-int8")
    return {
        "machine": machine(bench),
        "seeds": [p.parent.name for p in seeds],
        "epochs": first_run["config"]["train"]["epochs"],
        "test_split": split_counts(first_run, "test"),
        "labels": labels,
        "original_recipe": original_recipe(per_method, labels, latency, base),
        "improved_recipes": improved_recipes(per_method, groups, labels),
        "original_project": original_project(per_method, base),
        "ablations": ablations(args.runs, per_method, groups),
        "recommendation": recommendation(best),
        "shipped": shipped,
        "paper": paper(args.runs),
        "latency": latency_rows(bench, latency),
        "targets": gather_targets(per_method, best, groups, args.runs),
        "plots": copy_plots(seeds, shipped, args.out.parent / "results"),
    }


def notes(out_path: Path) -> str | None:
    path = out_path.with_name("results-notes.md")  # the hand-written reading of these tables
    return path.read_text(encoding="utf-8").rstrip() if path.is_file() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--data", default="../shared/data/hate_speech18")
    parser.add_argument("--bench", type=Path, default=Path("docs/results/bench.json"))
    parser.add_argument("--shipped", type=Path, default=Path("models/hate_speech18"))
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument(
        "--from-json", action="store_true", help="render the committed results.json"
    )
    args = parser.parse_args()
    store = args.out.parent / "results" / "results.json"
    if args.from_json:
        results = read_json(store)
    else:
        results = gather(args)
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    args.out.write_text(render(TEMPLATE, **results, notes=notes(args.out)), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

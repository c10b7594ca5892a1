"""Summarise the real-data runs into docs/results.md: test metrics as mean ± std over seeds,
baselines, the original project's reported figures, one-change-at-a-time ablations, the paper's
protocol, and the targets. Every figure is read from files the runs wrote (results.json,
train_log.jsonl, the bench JSON); only the two baselines are computed here, on the same split.

    python scripts/summarize.py --runs runs --data ../shared/data/hate_speech18 --out docs/results.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modeldistill.artifacts import (
    METRICS_FILE,
    InferenceSettings,
    Metrics,
    read_inference,
    read_metrics,
)
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.evaluate.metrics import compute_metrics

# The original project's reported accuracies, on its validation split.
ORIGINAL_VALIDATION_ACCURACY = {"odd": 0.9059, "even": 0.8949, "lora": 0.8702}
PAPER_ACCURACY = {"LSTM": 0.78, "SVM": 0.74, "CNN": 0.70}
# One change at a time, seed 1234: folder -> (what changed, the run it is compared with). The
# reference is a group below (its seed-1234 run and its spread over seeds) or None for the
# method's default-recipe row.
ABLATIONS = {
    "ablation-t2": ("odd, temperature 2", None),
    "ablation-balanced": ("odd, balanced class weights", None),
    "ablation-hidden": ("odd, + hidden-state MSE (weight 1)", None),
    "ablation-divergence5": ("odd, KL weight 5 instead of 1 (DistilBERT's emphasis)", None),
    "ablation-no-cosine": ("odd, cosine weight 0 instead of 1", None),
    "ablation-epochs10": ("odd, 10 epochs instead of 5", None),
    "recipe-t2-balanced": ("odd, temperature 2 and balanced class weights together", None),
    "recipe-hidden": ("T2 + balanced, + hidden-state MSE (weight 1)", "recipe"),
    "recipe-t2-balanced-epochs10": ("T2 + balanced, 10 epochs instead of 5", "recipe"),
    "ablation-lora-lr": ("LoRA, learning rate 5e-4 instead of 5e-5", None),
    "ablation-lora-targets": ("LoRA lr 5e-4, adapters on query, key, value, dense", "lora-lr"),
}
# Improved recipes repeated over the three seeds: name -> (title, folders, seed 1234 first).
GROUPS = {
    "recipe": (
        "odd, temperature 2 + balanced class weights",
        ["recipe-t2-balanced", "recipe-t2-balanced-seed42", "recipe-t2-balanced-seed7"],
    ),
    "recipe10": (
        "odd, temperature 2 + balanced class weights, 10 epochs",
        [
            "recipe-t2-balanced-epochs10",
            "recipe-t2-balanced-epochs10-seed42",
            "recipe-t2-balanced-epochs10-seed7",
        ],
    ),
    "lora-lr": (
        "LoRA, learning rate 5e-4",
        ["ablation-lora-lr", "ablation-lora-lr-seed42", "ablation-lora-lr-seed7"],
    ),
    "lora-targets": (
        "LoRA, learning rate 5e-4, adapters on query, key, value, dense",
        ["ablation-lora-targets", "ablation-lora-targets-seed42", "ablation-lora-targets-seed7"],
    ),
}
# Which benchmarked model has each method's shape: even is odd's shape, merged LoRA the teacher's.
BENCH_SHAPE = {"teacher": "teacher", "lora": "teacher", "odd": "student", "even": "student"}


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt(values: list[float], digits: int = 4) -> str:
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def best_validation_accuracy(folder: Path, best_epoch: int) -> float:
    lines = [json.loads(x) for x in (folder / "train_log.jsonl").read_text().splitlines() if x]
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


def method_metrics(runs: Path, folder: str) -> tuple[str, dict] | None:
    """The single method trained in runs/folder and its test metrics, if that run finished."""
    path = runs / folder / "results.json"
    if not path.is_file():
        return None
    return next(iter(read_json(path)["methods"].items()))


def load_groups(runs: Path) -> dict[str, list[dict]]:
    """Each improved recipe's finished runs, seed 1234 first."""
    groups = {}
    for name, (_, folders) in GROUPS.items():
        found = [m for m in (method_metrics(runs, f) for f in folders) if m]
        if found:
            groups[name] = [{**metrics, "method": method} for method, metrics in found]
    return groups


def header(*columns: str) -> list[str]:
    """A markdown table's first two lines."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def metric_cells(runs: list[dict], labels: list[str]) -> str:
    return (
        f"{fmt([r['accuracy'] for r in runs])} | {fmt([r['macro_f1'] for r in runs])} | "
        f"{fmt([r['hate']['f1'] for r in runs])} | "
        + " | ".join(fmt([r["per_class"][label]["f1"] for r in runs], 3) for label in labels)
    )


def verdict(candidate: list[float], reference: list[float]) -> str:
    """A difference of means within the larger standard deviation over seeds is no difference."""
    gap = mean_std(candidate)[0] - mean_std(reference)[0]
    spread = max(mean_std(candidate)[1], mean_std(reference)[1])
    if min(len(candidate), len(reference)) < 2:
        return f"{gap:+.4f} (one seed: no spread to judge it against)"
    if abs(gap) <= spread:
        return f"{gap:+.4f}, within the spread ({spread:.4f}): **no difference**"
    return f"{gap:+.4f}, larger than the spread ({spread:.4f}): **real**"


def recommended(per_method: dict[str, list[dict]], groups: dict[str, list[dict]]):
    """The odd-student recipe with the highest mean validation macro-F1 over its seeds; the
    test split plays no part in the choice."""
    options = [("odd, original recipe", per_method.get("odd", []))]
    options += [(GROUPS[n][0], runs) for n, runs in groups.items() if runs[0]["method"] == "odd"]
    options = [(title, runs) for title, runs in options if len(runs) >= 2]
    if not options:
        return None
    return max(options, key=lambda o: mean_std([r["best_val_macro_f1"] for r in o[1]])[0])


def targets(
    per_method: dict[str, list[dict]],
    best: tuple[str, list[dict]] | None,
    groups: dict[str, list[dict]],
    runs: Path,
) -> list[str]:
    """The issue's targets, each met or missed by how much (means over seeds, test split)."""
    lines = ["", "## Targets (test split, means over seeds)", ""]

    def check(name: str, value: float, goal: float) -> None:
        result = "met" if value >= goal else f"**missed by {goal - value:.4f}**"
        lines.append(f"- {name}: {value:.4f} (target ≥ {goal:.4f}): {result}")

    if best and "teacher" in per_method:
        title, best_runs = best
        teacher_f1 = per_method["teacher"][0]["macro_f1"]
        lines.append(
            f"Best half-depth student (highest mean validation macro-F1 over its "
            f"{len(best_runs)} seeds): **{title}**."
        )
        mean = {key: mean_std([r[key] for r in best_runs])[0] for key in ("macro_f1", "accuracy")}
        check("macro-F1 / teacher's macro-F1", mean["macro_f1"] / teacher_f1, 0.97)
        check("hate F1", mean_std([r["hate"]["f1"] for r in best_runs])[0], 0.60)
        check("accuracy", mean["accuracy"], 0.90)
    if "lora" in per_method:
        lora = fmt([r["hate"]["f1"] for r in per_method["lora"]])
        lines.append(
            f"- LoRA with the original's lr 5e-5: hate F1 {lora} (must be clearly above 0)"
        )
    if "lora-lr" in groups:
        hate = [r["hate"]["f1"] for r in groups["lora-lr"]]
        lines.append(
            f"- LoRA with lr 5e-4 ({len(hate)} seeds): hate F1 {fmt(hate)}, lowest seed "
            f"{min(hate):.4f}: " + ("met (every seed predicts hate)" if min(hate) > 0 else "missed")
        )
    paper = runs / "paper" / "results.json"
    if paper.is_file():
        results = read_json(paper)["methods"]
        student = max(
            (m for m in results if m != "teacher"), key=lambda m: results[m]["best_val_macro_f1"]
        )
        check(f"paper protocol, {student} student accuracy", results[student]["accuracy"], 0.80)
    return lines


@dataclass
class Report:
    """What the sections read: the runs' files, loaded once."""

    args: argparse.Namespace
    seeds: list[Path]
    per_method: dict[str, list[dict]]
    labels: list[str]
    groups: dict[str, list[dict]]
    base: dict[str, dict]
    bench: dict | None
    latency: dict[tuple[str, str, int], dict]
    first_run: dict = field(default_factory=dict)

    def p50(self, shape: str, backend: str = "torch") -> str:
        row = self.latency.get((shape, backend, 1))
        return f"{row['p50_ms']:.2f}" if row else "–"

    @property
    def metric_columns(self) -> list[str]:
        return ["accuracy", "macro-F1", "hate F1", *(f"F1 {label}" for label in self.labels)]


def load(args: argparse.Namespace) -> Report:
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
    bench = read_json(args.bench) if args.bench.is_file() else None
    return Report(
        args=args,
        seeds=seeds,
        per_method=per_method,
        labels=next(iter(per_method.values()))[0]["labels"],
        groups=load_groups(args.runs),
        base=baselines(args.data),
        bench=bench,
        latency=latency_table(bench),
        first_run=read_json(seeds[0]),
    )


def paragraph(text: str) -> list[str]:
    """A paragraph wrapped as the report's hand-written ones are."""
    return textwrap.wrap(text, width=90)


def machine(bench: dict | None) -> str:
    """The machine the runs were timed on, as bench recorded it."""
    info = (bench or {}).get("machine") or {}
    if not info.get("cpus"):
        return "machine not recorded"
    gpu = ", no GPU" if str(info.get("torch", "")).endswith("+cpu") else ""
    return f"{info['cpus']}-core CPU{gpu}"


def split_counts(results: dict, split: str) -> tuple[int, str]:
    """(rows, "n label, n label ...") of a split, from the data summary a run wrote."""
    summary = results["data"]["splits"][split]
    counts = ", ".join(f"{n} {label}" for label, n in summary["per_class"].items())
    return summary["rows"], counts


def intro_section(report: Report) -> list[str]:
    rows, counts = split_counts(report.first_run, "test")
    seeds = ", ".join(p.parent.name for p in report.seeds)
    epochs = report.first_run["config"]["train"]["epochs"]
    return [
        "# Results: distilling a fine-tuned MiniLM on hate_speech18",
        "",
        *paragraph(
            "All figures below were written by the runs of `scripts/reproduce.sh` "
            f"({machine(report.bench)}) and collected by `python scripts/summarize.py`; test "
            f"split = {rows:,} rows ({counts}). Mean ± sample standard deviation over the seeds "
            f"listed ({seeds}); the fine-tuned teacher is shared by all seeds."
        ),
        "",
        "## Test split, the original's recipe",
        "",
        *paragraph(
            "Latency: `modeldistill bench` p50 at batch 1 in PyTorch fp32, tokenisation included, "
            "on the exported teacher and recommended odd student (even has the odd student's "
            "shape, merged LoRA the teacher's). Train time: wall seconds for "
            f"{epochs} epochs on this machine."
        ),
        "",
    ]


def original_recipe_section(report: Report) -> list[str]:
    labels = report.labels
    out = [
        *header("model", "seeds", *report.metric_columns, "parameters", "size (MB)",
                "latency (ms)", "train time (s)"),
    ]  # fmt: skip
    for method, runs in report.per_method.items():
        out.append(
            f"| {method} | {len(runs)} | {metric_cells(runs, labels)} "
            f"| {runs[0]['parameters']:,} | {runs[0]['size_bytes'] / 1e6:.1f} "
            f"| {report.p50(BENCH_SHAPE.get(method, method))} "
            f"| {fmt([r.get('train_seconds', 0) for r in runs], 0)} |"
        )
    for name in ("majority", "tfidf"):
        m = report.base[f"{name}/test"]
        title = "majority class" if name == "majority" else "TF-IDF + logistic regression"
        out.append(
            f"| {title} | – | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['hate']['f1']:.4f} | "
            + " | ".join(f"{m['per_class'][label]['f1']:.3f}" for label in labels)
            + " | – | – | – | – |"
        )
    if "odd" in report.per_method and "even" in report.per_method:
        odd, even = ([r["macro_f1"] for r in report.per_method[m]] for m in ("odd", "even"))
        out += ["", f"Odd minus even, test macro-F1: {verdict(odd, even)}."]
    return out


def count_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def improved_recipes_section(report: Report) -> list[str]:
    if not report.groups:
        return []
    seeds = max(len(runs) for runs in report.groups.values())
    out = [
        "",
        f"## Improved recipes over {count_word(seeds)} seeds (test split)",
        "",
        "Each row is compared with the same method's original-recipe row above (macro-F1).",
        "",
        *header("recipe", "seeds", *report.metric_columns, "val macro-F1", "train time (s)",
                "against the original recipe"),
    ]  # fmt: skip
    for name, runs in report.groups.items():
        reference = [r["macro_f1"] for r in report.per_method.get(runs[0]["method"], [])]
        out.append(
            f"| {GROUPS[name][0]} | {len(runs)} | {metric_cells(runs, report.labels)} "
            f"| {fmt([r['best_val_macro_f1'] for r in runs])} "
            f"| {fmt([r.get('train_seconds', 0) for r in runs], 0)} "
            f"| {verdict([r['macro_f1'] for r in runs], reference) if reference else '–'} |"
        )
    return out


def original_project_section(report: Report) -> list[str]:
    out = [
        "",
        "## Against the original project (validation split, accuracy)",
        "",
        "The original reported validation accuracy only; 0.8702 is exactly the share of noHate in",
        "that split, so its LoRA predicted one class. Ours: validation accuracy of the kept epoch.",
        "",
        *header("model", "original", "this project"),
    ]
    for method in ("odd", "even", "lora"):
        if method in report.per_method:
            ours = [
                best_validation_accuracy(Path(r["model"]), r["best_epoch"])
                for r in report.per_method[method]
            ]
            out.append(f"| {method} | {ORIGINAL_VALIDATION_ACCURACY[method]:.4f} | {fmt(ours)} |")
    base = report.base
    out.append(f"| majority class | – | {base['majority/validation']['accuracy']:.4f} |")
    out.append(f"| TF-IDF + logistic regression | – | {base['tfidf/validation']['accuracy']:.4f} |")
    return out


def ablations_section(report: Report) -> list[str]:
    rows = []
    for folder, (title, reference_name) in ABLATIONS.items():
        found = method_metrics(report.args.runs, folder)
        if not found:
            continue
        method, metrics = found
        reference = (
            report.groups.get(reference_name) if reference_name else report.per_method.get(method)
        )
        if not reference:
            continue
        spread = mean_std([r["macro_f1"] for r in reference])[1]
        delta = metrics["macro_f1"] - reference[0]["macro_f1"]
        effect = "no difference (within the seed spread)" if abs(delta) <= spread else "real"
        against = GROUPS[reference_name][0] if reference_name else f"{method}, original recipe"
        rows.append(
            f"| {title} | {against} | {metrics['best_val_macro_f1']:.4f} "
            f"| {metrics['accuracy']:.4f} | {metrics['macro_f1']:.4f} | {metrics['hate']['f1']:.4f} "
            f"| {delta:+.4f} | {effect} |"
        )
    if not rows:
        return []
    return [
        "",
        "## One change at a time (seed 1234, test split)",
        "",
        "Δ is against the seed-1234 run of the row named in *against*; a change whose |Δ| is",
        "within that recipe's standard deviation over seeds counts as no difference.",
        "",
        *header("change", "against", "val macro-F1", "accuracy", "macro-F1", "hate F1",
                "Δ macro-F1", "effect"),
        *rows,
    ]  # fmt: skip


def recommendation_section(best: tuple[str, list[dict]] | None) -> list[str]:
    if not best:
        return []
    title, runs = best
    return [
        "",
        f"Recommended student recipe (highest mean **validation** macro-F1 over its seeds, "
        f"{fmt([r['best_val_macro_f1'] for r in runs])}): **{title}**; on test: accuracy "
        f"{fmt([r['accuracy'] for r in runs])}, macro-F1 {fmt([r['macro_f1'] for r in runs])}, "
        f"hate F1 {fmt([r['hate']['f1'] for r in runs])}.",
    ]


def shipped_model(folder: Path) -> tuple[Metrics, InferenceSettings | None] | None:
    """The shipped folder's test metrics and inference settings, if it has metrics."""
    path = folder / METRICS_FILE
    return (read_metrics(path), read_inference(folder)) if path.is_file() else None


def shipped_section(report: Report) -> list[str]:
    shipped = shipped_model(report.args.shipped)
    if shipped is None:
        return []
    m, info = shipped
    size = (report.args.shipped / "model.int8.onnx").stat().st_size / 1e6
    hate_f1 = m.hate.f1 if m.hate else float("nan")
    return [
        "",
        f"## The shipped model ({report.args.shipped})",
        "",
        f"`{info.source_model if info else '?'}` exported as {m.backend} "
        f"({size:.1f} MB), scored on the "
        f"test split by that backend: accuracy {m.accuracy:.4f}, macro-F1 "
        f"{m.macro_f1:.4f}, hate F1 {hate_f1:.4f}; P(hate) threshold "
        f"{info.threshold:.4f} (tuned on validation); latency p50 at batch 1 "
        f"{report.p50('student', 'onnx-int8')} ms.",
    ]


def paper_section(report: Report) -> list[str]:
    paper = report.args.runs / "paper" / "results.json"
    if not paper.is_file():
        return []
    results = read_json(paper)
    rows, _ = split_counts(results, "test")
    out = [
        "",
        f"## The paper's protocol (binary, sampled_train → sampled_test, {rows} sentences)",
        "",
        *header("model", "accuracy", "macro-F1", "hate F1"),
    ]
    for method, m in results["methods"].items():
        out.append(
            f"| {method} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['hate']['f1']:.4f} |"
        )
    for name, accuracy in PAPER_ACCURACY.items():
        out.append(f"| paper's {name} (reported) | {accuracy:.2f} | – | – |")
    return out


def latency_section(report: Report) -> list[str]:
    if not report.latency:
        return []
    cpus = (report.bench.get("machine") or {}).get("cpus")
    out = [
        "",
        f"## CPU latency (`modeldistill bench`, {cpus} cores)",
        "",
        "p50 and p95 of whole `Classifier.predict` calls; *tokenise* is the p50 of tokenising",
        "the same texts alone; agreement is with the same model's PyTorch fp32 labels on the",
        "validation split.",
        "",
        *header("model", "backend", "batch", "p50 (ms)", "p95 (ms)", "tokenise (ms)", "texts/s",
                "size (MB)", "label agreement", "val macro-F1"),
    ]  # fmt: skip
    for (model, backend, batch), r in report.latency.items():
        out.append(
            f"| {model} | {backend} | {batch} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
            f"{r.get('tokenize_p50_ms', float('nan')):.2f} | {r['texts_per_s']:.0f} | "
            f"{r['size_mb']:.1f} | {r['agreement']:.4f} | {r['macro_f1']:.4f} |"
        )
    return out


def plots_section(report: Report) -> list[str]:
    """Copies the first seed's plots and the shipped student's run plots next to the report."""
    plots = report.args.out.parent / "results"
    plots.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    first = report.seeds[0].parent
    pictures = sorted(first.glob("*.png"))
    for picture in pictures:
        shutil.copyfile(picture, plots / picture.name)
    if pictures:
        out += ["", f"## Plots ({first.name}, the original recipe)", ""]
        out += [f"![{p.stem}](results/{p.name})" for p in pictures]
    shipped = shipped_model(report.args.shipped)
    if shipped is not None:  # the shipped student's own run: its curves and confusion matrix
        info = shipped[1]
        source = Path(info.source_model if info else "").parent
        shipped_pictures = sorted(source.glob("*.png")) if source != first else []
        for picture in shipped_pictures:
            shutil.copyfile(picture, plots / f"shipped_{picture.name}")
        if shipped_pictures:
            out += ["", f"## Plots of the shipped student's run ({source})", ""]
            out += [f"![shipped {p.stem}](results/shipped_{p.name})" for p in shipped_pictures]
    return out


def notes_section(out_path: Path) -> list[str]:
    notes = out_path.with_name("results-notes.md")  # the hand-written reading of these tables
    return ["", notes.read_text(encoding="utf-8").rstrip()] if notes.is_file() else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--data", default="../shared/data/hate_speech18")
    parser.add_argument("--bench", type=Path, default=Path("docs/results/bench.json"))
    parser.add_argument("--shipped", type=Path, default=Path("models/hate_speech18"))
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    args = parser.parse_args()

    report = load(args)
    best = recommended(report.per_method, report.groups)
    out = [
        *intro_section(report),
        *original_recipe_section(report),
        *improved_recipes_section(report),
        *original_project_section(report),
        *ablations_section(report),
        *recommendation_section(best),
        *shipped_section(report),
        *paper_section(report),
        *latency_section(report),
        *targets(report.per_method, best, report.groups, args.runs),
        *plots_section(report),
        *notes_section(args.out),
    ]
    args.out.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

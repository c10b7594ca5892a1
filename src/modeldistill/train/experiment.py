"""Run the whole experiment: fine-tune the teacher, distil odd and even students, train LoRA,
evaluate each on the held-out test split, and write a comparison report with plots.

    modeldistill run --out runs/exp                                  # hate_speech18, all methods
    modeldistill run --data my.csv --out runs/mine --base-model bert-base-uncased
    modeldistill run --out runs/exp --methods odd,even --resume      # reuse runs/exp/teacher
    modeldistill run --out runs/quick --max-train-samples 500 --epochs 1

DIR/<method>/ is a model folder (see `train`), DIR/results.json holds every method's test metrics,
DIR/report.md the comparison table, DIR/*.png the loss curves and confusion matrices.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from modeldistill.artifacts import METRICS_FILE, read_json_object, read_metrics
from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args, option, require, to_jsonable
from modeldistill.data import DataConfig, load_splits
from modeldistill.errors import UserError
from modeldistill.paths import EMBEDDED_TEACHER
from modeldistill.train import train
from modeldistill.train_config import METHODS, STUDENT_METHODS, TrainConfig


@dataclass
class ExperimentConfig:
    out: Path = option(
        Path("runs/experiment"), "folder for every method's model, results and report"
    )
    base_model: str = option(
        EMBEDDED_TEACHER,
        "pre-trained model that the teacher and LoRA start from: Hub id, folder, or the embedded MiniLM",
    )
    teacher: str = option(
        "", "reuse this fine-tuned teacher folder (e.g. another seed's) instead of DIR/teacher"
    )
    methods: list[str] = option(["teacher", "odd", "even", "lora"], "what to train, in order")
    layers: list[int] = option([], "0-based teacher layers for the `layers` method")
    resume: bool = option(False, "skip methods whose folder already has metrics.json")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        unknown = [m for m in self.methods if m not in METHODS]
        require(not unknown, f"unknown method(s) {unknown}: choose from {', '.join(METHODS)}")
        require(bool(self.methods), "--methods is empty")
        require(
            "layers" not in self.methods or bool(self.layers), "the `layers` method needs --layers"
        )


def _finished(folder: Path) -> bool:
    return (folder / METRICS_FILE).is_file() and (folder / "model.safetensors").is_file()


def run_experiment(
    experiment: ExperimentConfig,
    base: TrainConfig,
    data: DataConfig,
    ensemble: list[str] | None = None,
) -> dict:
    """Train every method of `experiment`; `ensemble` (more teacher folders) goes to the students."""
    teacher_dir = Path(experiment.teacher or experiment.out / "teacher")
    if experiment.teacher and not _finished(teacher_dir):
        raise UserError(
            f"--teacher {teacher_dir} has no model.safetensors and metrics.json: it names a "
            "fine-tuned teacher folder (the pre-trained model to start from is --base-model)"
        )
    needs_teacher = any(m in STUDENT_METHODS for m in experiment.methods)
    if needs_teacher and "teacher" not in experiment.methods and not _finished(teacher_dir):
        raise UserError(
            f"students need a fine-tuned teacher: add `teacher` to --methods or train {teacher_dir}"
        )
    splits = load_splits(data)
    timings = {}
    folders = {m: teacher_dir if m == "teacher" else experiment.out / m for m in experiment.methods}
    for method, folder in folders.items():
        if method == "teacher" and experiment.teacher:
            print(f"[teacher] reusing {folder}")
            continue
        if experiment.resume and _finished(folder):
            print(f"[{method}] already trained in {folder}, skipping (--resume)")
            continue
        print(f"[{method}] training -> {folder}")
        config = dataclasses.replace(
            base,
            method=method,
            out=folder,
            base_model=experiment.base_model,
            teacher=str(teacher_dir),
            layers=experiment.layers,
            ensemble=list(ensemble or []) if method in STUDENT_METHODS else [],
        )
        started = time.perf_counter()
        train(config, data, splits)
        timings[method] = round(time.perf_counter() - started, 1)
    results = {
        "methods": {
            m: read_metrics(folder / METRICS_FILE).to_dict() for m, folder in folders.items()
        },
        "data": splits.summary(),
        "config": {
            "run": to_jsonable(experiment),
            "train": to_jsonable(base),
            "data": to_jsonable(data),
        },
        "wall_seconds": timings,
    }
    (experiment.out / "results.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    write_report(experiment.out, folders)
    return results


def _read_log(folder: Path) -> list[dict]:
    path = folder / "train_log.jsonl"
    if not path.is_file():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _best_epoch_line(folder: Path, best_epoch: int) -> dict:
    lines = _read_log(folder)
    return next((line for line in lines if line["epoch"] == best_epoch), lines[-1] if lines else {})


def write_report(out: Path, folders: dict[str, Path]) -> Path:
    """report.md and its PNG plots, from the files the runs wrote (nothing is recomputed)."""
    plots = plot_runs(out, folders)
    rows = [
        "| model | layers | train loss (total / CE / KL / cos) | test accuracy | macro-F1 | hate F1 "
        "| parameters | size (MB) | train time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    all_metrics = {
        method: read_metrics(folder / METRICS_FILE) for method, folder in folders.items()
    }
    for method, folder in folders.items():
        metrics = all_metrics[method]
        model_config = read_json_object(folder / "config.json")
        line = _best_epoch_line(folder, metrics.best_epoch or 0)
        parts = [
            line.get(k)
            for k in (
                "train_loss",
                "train_loss_classification",
                "train_loss_divergence",
                "train_loss_cosine",
            )
        ]
        loss = " / ".join("–" if value is None else f"{value:.4f}" for value in parts)
        hate_f1 = metrics.hate.f1 if metrics.hate else float("nan")
        rows.append(
            f"| {method} | {model_config.get('num_hidden_layers', '?')} | {loss} | {metrics.accuracy:.4f} "
            f"| {metrics.macro_f1:.4f} | {hate_f1:.4f} "
            f"| {metrics.parameters:,} | {metrics.size_bytes / 1e6:.1f} | {metrics.train_seconds or 0:.0f} |"
        )
    per_class = [
        "",
        "Per-class test F1:",
        "",
        "| model | " + " | ".join(metrics.labels) + " |",
        "|---|" + "---|" * len(metrics.labels),
    ]
    for method, m in all_metrics.items():
        per_class.append(
            f"| {method} | " + " | ".join(f"{m.per_class[k].f1:.4f}" for k in m.labels) + " |"
        )
    text = "\n".join(
        [
            "# Distillation experiment",
            "",
            f"Test split: {metrics.num_examples:,} rows. Training loss is the mean over the best "
            "epoch (by validation macro-F1), whose weights were kept.",
            "",
            *rows,
            *per_class,
            "",
            *[f"![{title}]({name})" for title, name in plots],
            "",
        ]
    )
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def plot_runs(out: Path, folders: dict[str, Path]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    written = []
    components = (
        "train_loss_classification",
        "train_loss_divergence",
        "train_loss_cosine",
        "train_loss_hidden",
    )
    fig, axes = plt.subplots(1, len(folders), figsize=(4 * len(folders), 3.2), squeeze=False)
    for axis, (method, folder) in zip(axes[0], folders.items(), strict=True):
        lines = _read_log(folder)
        epochs = [line["epoch"] for line in lines]
        for key in ("train_loss", *components, "val_loss"):
            if lines and key in lines[0]:
                axis.plot(
                    epochs,
                    [line[key] for line in lines],
                    marker="o",
                    label=key.replace("train_loss_", ""),
                )
        axis.set_title(method)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=110)
    plt.close(fig)
    written.append(("loss components per epoch", "loss_curves.png"))

    fig, axis = plt.subplots(figsize=(5, 3.5))
    for method, folder in folders.items():
        lines = _read_log(folder)
        axis.plot(
            [line["epoch"] for line in lines],
            [line["val_macro_f1"] for line in lines],
            marker="o",
            label=method,
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation macro-F1")
    axis.legend()
    fig.tight_layout()
    fig.savefig(out / "val_macro_f1.png", dpi=110)
    plt.close(fig)
    written.append(("validation macro-F1 per epoch", "val_macro_f1.png"))

    for method, folder in folders.items():
        metrics = read_metrics(folder / METRICS_FILE)
        fig, axis = plt.subplots(figsize=(4.2, 3.8))
        matrix = metrics.confusion_matrix
        axis.imshow(matrix, cmap="Blues")
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                axis.text(j, i, str(count), ha="center", va="center", fontsize=8)
        ticks = range(len(metrics.labels))
        axis.set_xticks(ticks, metrics.labels, rotation=30, fontsize=8)
        axis.set_yticks(ticks, metrics.labels, fontsize=8)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(f"{method} (test)")
        fig.tight_layout()
        name = f"confusion_{method}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append((f"confusion matrix: {method}", name))
    return written


class _Renamed(argparse.Action):
    """An old flag name that still works, with a note of its new name."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        new = "--" + self.dest.replace("_", "-")
        print(f"modeldistill run: {option_string} is now called {new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


# TrainConfig fields that ExperimentConfig replaces: `run` takes every other `train` flag.
REPLACED_TRAIN_FLAGS = ("method", "out", "teacher", "base_model", "layers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, ExperimentConfig)
    parser.add_argument(
        "--finetuned-teacher", dest="teacher", action=_Renamed, help=argparse.SUPPRESS
    )
    add_config_arguments(parser, TrainConfig, skip=REPLACED_TRAIN_FLAGS)
    add_config_arguments(parser, DataConfig)


def main(args: argparse.Namespace) -> int:
    experiment = from_args(ExperimentConfig, args)
    # the teacher is trained too, and --ensemble is a students' flag: it is handed on to them
    base = from_args(
        TrainConfig, args, method="teacher", out=experiment.out / "teacher", ensemble=[]
    )
    results = run_experiment(experiment, base, from_args(DataConfig, args), args.ensemble)
    for method, metrics in results["methods"].items():
        print(
            f"{method:>8}: accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
            f"hate F1 {metrics.get('hate', {}).get('f1', float('nan')):.4f}"
        )
    print(f"report: {experiment.out / 'report.md'}")
    return 0

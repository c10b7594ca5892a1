"""`modeldistill train` (one model) and `modeldistill run` (the whole experiment): flags and entry
points only; the work is in `train.run` and `train.experiment`, imported once the flags are read
(they load torch and transformers, seconds that `--help` and a mistyped flag should not wait)."""

from __future__ import annotations

import argparse
import logging
import sys

from modeldistill.artifacts import METRICS_FILE, Metrics, read_metrics
from modeldistill.data.config import DataConfig
from modeldistill.labels import HATE
from modeldistill.paths import require_pretrained
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args
from modeldistill.train.config import TrainConfig
from modeldistill.train.experiment import ExperimentConfig

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, TrainConfig)
    add_config_arguments(parser, DataConfig)
    add_positive_label(
        parser, "the label whose precision, recall and F1 are printed (default: `hate` if any)"
    )


def positive_summary(metrics: Metrics, requested: str | None) -> str:
    """The positive class's precision, recall and F1, under its own name ("" when the labels
    name no positive class: `train` scores every class, and a report of `nan` helps no one)."""
    label = requested or (HATE if HATE in metrics.labels else None)
    scores = metrics.positive_scores(label) if label else None
    if scores is None:
        return ""
    return f"  {label} P/R/F1 {scores.precision:.4f}/{scores.recall:.4f}/{scores.f1:.4f}"


def add_positive_label(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--positive-label", default=None, help=help_text)
    # The flag's first name, from when every model was a hate-speech one: still works.
    parser.add_argument("--toxic-label", dest="positive_label", help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    config = from_args(TrainConfig, args)
    data = from_args(DataConfig, args)
    if config.method in ("teacher", "lora"):
        require_pretrained(config.base_model)
    from modeldistill.train.run import train

    out = train(config, data)
    metrics_path = out / METRICS_FILE
    if metrics_path.is_file():
        metrics = read_metrics(metrics_path)
        print(
            f"{config.method}: test accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}"
            f"{positive_summary(metrics, args.positive_label)}  -> {out}"
        )
    return 0


class _Renamed(argparse.Action):
    """An old flag name that still works, with a note of its new name."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        new = "--" + self.dest.replace("_", "-")
        print(f"modeldistill run: {option_string} is now called {new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


# TrainConfig fields that ExperimentConfig replaces: `run` takes every other `train` flag.
REPLACED_TRAIN_FLAGS = ("method", "out", "teacher", "base_model", "layers")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, ExperimentConfig)
    parser.add_argument("--toxic-label", dest="positive_label", help=argparse.SUPPRESS)
    parser.add_argument(
        "--finetuned-teacher", dest="teacher", action=_Renamed, help=argparse.SUPPRESS
    )
    add_config_arguments(parser, TrainConfig, skip=REPLACED_TRAIN_FLAGS)
    add_config_arguments(parser, DataConfig)


def run_main(args: argparse.Namespace) -> int:
    experiment = from_args(ExperimentConfig, args)
    # the teacher is trained too, and --ensemble is a students' flag: it is handed on to them
    base = from_args(
        TrainConfig, args, method="teacher", out=experiment.out / "teacher", ensemble=[]
    )
    data = from_args(DataConfig, args)
    if not experiment.teacher or "lora" in experiment.methods:
        require_pretrained(experiment.base_model)
    from modeldistill.train.experiment import run_experiment

    results = run_experiment(experiment, base, data, args.ensemble)
    for method, values in results["methods"].items():
        metrics = Metrics.model_validate(values)
        print(
            f"{method:>8}: accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}"
            + positive_summary(metrics, results["positive_label"])
        )
    print(f"report: {experiment.out / 'report.md'}")
    return 0

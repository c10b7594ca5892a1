"""Evaluate: score a model folder on a held-out split with the metrics that matter on a dataset
that is 87% one class (macro-F1, per-class F1, hate-vs-rest F1, confusion matrix) plus accuracy.

    modeldistill evaluate runs/exp/odd --split test
    modeldistill evaluate models/default --data ../shared/data/hate_speech18 --split test --json

Any folder the inference API loads works (safetensors, ONNX, int8 ONNX): the scores are those a
user of that folder gets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from modeldistill.artifacts import write_metrics
from modeldistill.data.config import DataConfig
from modeldistill.errors import UserError
from modeldistill.inference.backends import BACKEND_HELP, require_backend
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="model folder (trained or exported)")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--backend", default="auto", help=BACKEND_HELP)
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--hate-vs-rest",
        action="store_true",
        help="score hate vs every other label as the API decides it (P(hate) at the threshold); "
        "always so on several sources or when the model's labels differ from the data's",
    )
    parser.add_argument("--output", type=Path, help="also write the metrics to this JSON file")
    add_config_arguments(parser, DataConfig)


def main(args: argparse.Namespace) -> int:
    require_backend(args.backend)
    if not args.model.is_dir():
        raise UserError(f"model folder not found: {args.model}")
    data = from_args(DataConfig, args).as_model_was_trained(args.model)
    # Imported here: scoring loads datasets, scikit-learn and a backend, which --help need not wait for.
    from modeldistill.data.splits import load_splits
    from modeldistill.evaluate.evaluate import evaluate_folder, format_metrics

    splits = load_splits(data, required=(args.split,))
    metrics = evaluate_folder(args.model, splits, args.split, args.backend, args.hate_vs_rest)
    if args.output:
        write_metrics(args.output, metrics)
    print(json.dumps(metrics.to_dict(), indent=2) if args.json else format_metrics(metrics))
    return 0

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

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from modeldistill.artifacts import Metrics, SplitMetrics, read_inference, write_metrics
from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args
from modeldistill.data import DataConfig, load_splits, model_inputs
from modeldistill.errors import UserError

TOXIC_LABEL = "hate"
BINARY_LABELS = ["not_hate", TOXIC_LABEL]
WEIGHT_FILES = ("model.safetensors", "model.onnx", "model.int8.onnx")


def compute_metrics(
    labels: np.ndarray, predictions: np.ndarray, label_names: list[str]
) -> SplitMetrics:
    """Accuracy, macro/weighted F1, per-class P/R/F1, hate-vs-rest P/R/F1, confusion matrix."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    ids = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=ids, zero_division=0
    )
    result = {
        "num_examples": int(len(labels)),
        "accuracy": float((labels == predictions).mean()) if len(labels) else 0.0,
        "macro_f1": float(
            f1_score(labels, predictions, labels=ids, average="macro", zero_division=0)
        ),
        "weighted_f1": float(
            f1_score(labels, predictions, labels=ids, average="weighted", zero_division=0)
        ),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(label_names)
        },
        "labels": list(label_names),
        "confusion_matrix": confusion_matrix(labels, predictions, labels=ids).tolist(),
    }
    if TOXIC_LABEL in label_names:
        toxic = label_names.index(TOXIC_LABEL)
        p, r, f, _ = precision_recall_fscore_support(
            labels == toxic, predictions == toxic, average="binary", zero_division=0
        )
        result["hate"] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return SplitMetrics.model_validate(result)


def count_parameters(model_dir: Path) -> int:
    """Parameters in the folder's safetensors weights, read from the header without loading them."""
    from safetensors import safe_open

    weights = model_dir / "model.safetensors"
    if not weights.is_file():  # an int8-only export records the count it was made from
        settings = read_inference(model_dir)
        return (settings.parameters or 0) if settings else 0
    total = 0
    with safe_open(str(weights), framework="np") as handle:
        for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
            total += int(np.prod(handle.get_slice(name).get_shape()))
    return total


def size_on_disk(model_dir: Path, backend: str | None = None) -> int:
    """Bytes of the weights file a backend reads (all weight files when backend is None)."""
    chosen = {
        "torch": ("model.safetensors",),
        "onnx": ("model.onnx",),
        "onnx-int8": ("model.int8.onnx",),
    }
    names = chosen.get(backend or "", WEIGHT_FILES)
    return sum((model_dir / name).stat().st_size for name in names if (model_dir / name).is_file())


def binary_metrics(is_hate: np.ndarray, p_hate: np.ndarray, flagged: np.ndarray) -> SplitMetrics:
    """Hate vs not-hate as the API decides it (P(hate) at the tuned threshold), and ROC-AUC of
    P(hate), which does not depend on the threshold."""
    from sklearn.metrics import roc_auc_score

    is_hate = np.asarray(is_hate, dtype=bool)
    scores = compute_metrics(
        is_hate.astype(int), np.asarray(flagged, dtype=int), [BINARY_LABELS[0], TOXIC_LABEL]
    )
    both_classes = 0 < is_hate.sum() < len(is_hate)
    auc = float(roc_auc_score(is_hate, p_hate)) if both_classes else None
    return scores.model_copy(update={"roc_auc": auc})


def _binary_evaluation(classifier, dataset, data_labels: list[str]) -> tuple[SplitMetrics, dict]:
    """Pooled and per-source hate-vs-rest scores; any model with a `hate` label can be scored on
    any data with one, whatever its other labels (a four-class hate_speech18 model on the
    several-source test split, or a binary model on hate_speech18's four-class split)."""
    if classifier.toxic_label is None or TOXIC_LABEL not in data_labels:
        raise UserError(
            f"{classifier.path} predicts labels {classifier.labels} but the data has "
            f"{data_labels}; scoring across label sets needs a {TOXIC_LABEL!r} label in both"
        )
    predictions = classifier.predict(model_inputs(dataset))
    p_hate = np.array([p.scores[classifier.toxic_label] for p in predictions])
    flagged = np.array([p.toxic for p in predictions])
    is_hate = np.array(dataset["label"]) == data_labels.index(TOXIC_LABEL)
    by_source = {}
    if "source" in dataset.column_names:
        sources = np.array(dataset["source"])
        by_source = {
            name: binary_metrics(
                is_hate[sources == name], p_hate[sources == name], flagged[sources == name]
            )
            for name in dict.fromkeys(sources.tolist())
        }
    return binary_metrics(is_hate, p_hate, flagged), by_source


def evaluate_folder(
    model_dir: Path, splits, split: str = "test", backend: str = "auto", hate_vs_rest: bool = False
) -> Metrics:
    from modeldistill.inference import Classifier

    classifier = Classifier.load(model_dir, backend=backend)
    dataset = splits[split]
    extra: dict = {}
    if hate_vs_rest or classifier.labels != splits.labels or splits.sources is not None:
        scores, by_source = _binary_evaluation(classifier, dataset, splits.labels)
        extra = {"threshold": classifier.threshold, "by_source": by_source}
    else:
        predictions = classifier.predict(list(dataset["text"]))
        predicted_ids = np.array([classifier.labels.index(p.label) for p in predictions])
        scores = compute_metrics(np.array(dataset["label"]), predicted_ids, splits.labels)
    return Metrics(
        model=str(model_dir),
        backend=classifier.backend,
        split=split,
        **dict(scores),
        parameters=count_parameters(model_dir),
        size_bytes=size_on_disk(model_dir, classifier.backend),
        **extra,
    )


def format_metrics(metrics: Metrics) -> str:
    lines = [
        f"{metrics.model} on {metrics.split} ({metrics.num_examples:,} rows)",
        f"accuracy {metrics.accuracy:.4f}   macro-F1 {metrics.macro_f1:.4f}   "
        f"weighted-F1 {metrics.weighted_f1:.4f}",
    ]
    if metrics.hate is not None:
        hate = metrics.hate
        lines.append(
            f"hate vs rest: precision {hate.precision:.4f}  recall {hate.recall:.4f}  F1 {hate.f1:.4f}"
        )
    width = max(10, *(len(name) for name in metrics.labels))
    lines.append(f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for name, row in metrics.per_class.items():
        lines.append(
            f"{name:<{width}} {row.precision:>9.4f} {row.recall:>9.4f} {row.f1:>9.4f} {row.support:>8}"
        )
    lines.append(
        "confusion matrix (rows = true, columns = predicted): " + ", ".join(metrics.labels)
    )
    lines += ["  " + " ".join(f"{count:>6}" for count in row) for row in metrics.confusion_matrix]
    if metrics.roc_auc is not None:
        lines.append(f"ROC-AUC of P(hate) {metrics.roc_auc:.4f}")
    if metrics.by_source:
        lines.append(
            f"{'source':<20}{'rows':>8}{'accuracy':>10}{'macro-F1':>10}{'hate F1':>9}{'ROC-AUC':>9}"
        )
        for name, part in metrics.by_source.items():
            auc = "" if part.roc_auc is None else f"{part.roc_auc:.4f}"
            hate_f1 = part.hate.f1 if part.hate is not None else float("nan")
            lines.append(
                f"{name:<20}{part.num_examples:>8,}{part.accuracy:>10.4f}"
                f"{part.macro_f1:>10.4f}{hate_f1:>9.4f}{auc:>9}"
            )
    lines.append(f"parameters {metrics.parameters:,}   size {metrics.size_bytes / 1e6:.1f} MB")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="model folder (trained or exported)")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "onnx-int8"])
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
    if not args.model.is_dir():
        raise UserError(f"model folder not found: {args.model}")
    splits = load_splits(from_args(DataConfig, args))
    metrics = evaluate_folder(args.model, splits, args.split, args.backend, args.hate_vs_rest)
    if args.output:
        write_metrics(args.output, metrics)
    print(json.dumps(metrics.to_dict(), indent=2) if args.json else format_metrics(metrics))
    return 0

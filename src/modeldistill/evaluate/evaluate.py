"""Score a model folder on a held-out split, pooled and per source, as a user of the folder gets it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modeldistill.artifacts import BiasReport, Metrics, SplitMetrics
from modeldistill.data.splits import model_inputs
from modeldistill.errors import UserError
from modeldistill.evaluate.bias import bias_report, format_bias, text_membership
from modeldistill.evaluate.metrics import (
    binary_metrics,
    calibration_figures,
    compute_metrics,
    count_parameters,
    size_on_disk,
    uncalibrated_ece,
)
from modeldistill.labels import HATE as TOXIC_LABEL


def _binary_evaluation(
    classifier, dataset, data_labels: list[str]
) -> tuple[SplitMetrics, dict, BiasReport, np.ndarray]:
    """Pooled and per-source hate-vs-rest scores; any model with a `hate` label can be scored on
    any data with one, whatever its other labels (a four-class hate_speech18 model on the
    several-source test split, or a binary model on hate_speech18's four-class split)."""
    if classifier.toxic_label is None or TOXIC_LABEL not in data_labels:
        raise UserError(
            f"{classifier.path} predicts labels {classifier.labels} but the data has "
            f"{data_labels}; scoring across label sets needs a {TOXIC_LABEL!r} label in both"
        )
    texts = model_inputs(dataset)
    predictions = classifier.predict(texts)
    probs = np.array([[p.scores[label] for label in classifier.labels] for p in predictions])
    p_hate = probs[:, classifier.labels.index(classifier.toxic_label)]
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
    # Mentions are found in the published text: cleaning may rewrite the words the lexicon needs.
    bias = bias_report(is_hate, p_hate, flagged, text_membership(texts))
    return binary_metrics(is_hate, p_hate, flagged), by_source, bias, probs


def evaluate_folder(
    model_dir: Path, splits, split: str = "test", backend: str = "auto", hate_vs_rest: bool = False
) -> Metrics:
    from modeldistill.inference.classifier import Classifier

    classifier = Classifier.load(model_dir, backend=backend)
    dataset = splits[split]
    extra: dict = {}
    if hate_vs_rest or classifier.labels != splits.labels or splits.sources is not None:
        scores, by_source, bias, probs = _binary_evaluation(classifier, dataset, splits.labels)
        extra = {"threshold": classifier.threshold, "by_source": by_source, "bias": bias}
    else:
        predictions = classifier.predict(list(dataset["text"]))
        probs = np.array([[p.scores[label] for label in classifier.labels] for p in predictions])
        predicted_ids = probs.argmax(axis=-1)
        scores = compute_metrics(np.array(dataset["label"]), predicted_ids, splits.labels)
        if classifier.toxic_label in splits.labels:
            is_toxic = np.array(dataset["label"]) == splits.labels.index(classifier.toxic_label)
            p_toxic = probs[:, classifier.labels.index(classifier.toxic_label)]
            scores = scores.model_copy(update=calibration_figures(is_toxic, p_toxic))
    if scores.ece is not None and classifier.temperature != 1.0:
        is_toxic = np.array(dataset["label"]) == splits.labels.index(classifier.toxic_label)
        positive = classifier.labels.index(classifier.toxic_label)
        before = uncalibrated_ece(is_toxic, probs, positive, classifier.temperature)
        scores = scores.model_copy(update={"ece_uncalibrated": before})
    return Metrics(
        model=str(model_dir),
        backend=classifier.backend,
        split=split,
        **dict(scores),
        parameters=count_parameters(model_dir),
        size_bytes=size_on_disk(model_dir, classifier.backend),
        **extra,
    )


def _calibration_lines(metrics: SplitMetrics) -> list[str]:
    before = (
        ""
        if metrics.ece_uncalibrated is None
        else f" (before temperature scaling {metrics.ece_uncalibrated:.4f})"
    )
    lines = [
        f"calibration of P(hate): ECE {metrics.ece:.4f}{before}",
        f"  {'P(hate) bin':<12}{'texts':>8}{'mean P':>9}{'observed':>10}",
    ]
    for row in metrics.reliability or []:
        if row.count:
            lines.append(
                f"  {row.low:.2f}-{row.high:.2f}   {row.count:>8,}"
                f"{row.mean_predicted:>9.3f}{row.observed_rate:>10.3f}"
            )
    return lines


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
    if metrics.ece is not None:
        lines += _calibration_lines(metrics)
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
    if metrics.bias is not None:
        lines.append(format_bias(metrics.bias))
    lines.append(f"parameters {metrics.parameters:,}   size {metrics.size_bytes / 1e6:.1f} MB")
    return "\n".join(lines)

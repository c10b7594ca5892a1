"""The figures of a split: accuracy, macro/weighted F1, per-class and hate-vs-rest scores,
confusion matrix, ROC-AUC; and a model folder's parameter count and size on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from modeldistill.artifacts import SplitMetrics, read_inference
from modeldistill.labels import BINARY_LABELS
from modeldistill.labels import HATE as TOXIC_LABEL

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
    return scores.model_copy(update={"roc_auc": auc, **calibration_figures(is_hate, p_hate)})


def calibration_figures(is_positive: np.ndarray, p_positive: np.ndarray) -> dict:
    """`ece` and `reliability` of P(positive) against the truth, as SplitMetrics fields."""
    from modeldistill.evaluate.calibration import reliability

    if len(is_positive) == 0:
        return {}
    ece, table = reliability(is_positive, p_positive)
    return {"ece": ece, "reliability": table}


def uncalibrated_ece(is_positive: np.ndarray, probs: np.ndarray, positive: int, t: float) -> float:
    """The ECE of P(positive) before temperature `t` was applied, from the calibrated class
    probabilities: t * log p differs from the raw logits by a constant per text, which the
    softmax removes, so softmax(t * log p) gives back the unscaled probabilities."""
    from modeldistill.evaluate.calibration import reliability, softmax

    log_p = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-300, None))
    return reliability(is_positive, softmax(t * log_p)[:, positive])[0]

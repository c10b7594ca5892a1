"""The P(toxic) threshold that maximises toxic-vs-rest F1 on a validation split."""

from __future__ import annotations

import logging
from pathlib import Path

from modeldistill.data.config import Splits
from modeldistill.data.splits import model_inputs
from modeldistill.errors import UserError
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.folder import DEFAULT_THRESHOLD

log = logging.getLogger(__name__)


def tune_threshold(
    model_dir: Path, splits: Splits, name: str, toxic_label: str
) -> tuple[float, str, dict[str, int | float]]:
    """The P(toxic_label) threshold with the best toxic-vs-rest F1 on the validation split of
    `splits` (the data named `name`), where it came from, and the validation counts and scores."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    classifier = Classifier.load(model_dir)  # the backend that will be deployed: its probabilities
    validation = splits.validation
    if len(validation) == 0:
        raise UserError(f"{name} has an empty validation split; cannot tune the threshold")
    if toxic_label not in splits.labels:
        raise UserError(f"{name} has no {toxic_label!r} label (labels: {splits.labels})")
    truth = np.array(validation["label"]) == splits.labels.index(toxic_label)
    if not truth.any():
        raise UserError(f"the validation split of {name} has no {toxic_label!r} rows")
    texts = model_inputs(validation)
    scores = np.array([p.scores[toxic_label] for p in classifier.predict(texts)])
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    # The curve's last point (recall 0) has no threshold; F1 is 0 where precision+recall is 0.
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )[:-1]
    best = int(np.argmax(f1))
    at_default = ((scores >= DEFAULT_THRESHOLD) & truth).sum()
    default_f1 = 2 * at_default / max(1, (scores >= DEFAULT_THRESHOLD).sum() + truth.sum())
    source = (
        f"max {toxic_label}-vs-rest F1 on the validation split of {name} "
        f"({len(texts)} texts, {classifier.backend} backend)"
    )
    validation = {
        "texts": len(texts),
        "positives": int(truth.sum()),
        f"{toxic_label}_f1_at_threshold": round(float(f1[best]), 4),
        f"{toxic_label}_precision_at_threshold": round(float(precision[best]), 4),
        f"{toxic_label}_recall_at_threshold": round(float(recall[best]), 4),
        f"{toxic_label}_f1_at_0.5": round(float(default_f1), 4),
    }
    # The threshold unrounded: rounding could move it past a score.
    return float(thresholds[best]), source, validation

"""How far each exported ONNX file is from PyTorch, and whether its scores depend on the batch,
recorded in inference.json."""

from __future__ import annotations

import logging
from pathlib import Path

from modeldistill.artifacts import (
    BackendCheck,
)
from modeldistill.inference.backends import BACKEND_FILES
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.samples import CHECK_TEXTS

log = logging.getLogger(__name__)


def self_check(out_dir: Path, onnx: bool, int8: bool) -> dict[str, BackendCheck]:
    """How far each ONNX file is from PyTorch (fp32) on CHECK_TEXTS, in probability and labels,
    and how far its scores of each text alone are from those inside one padded batch of them all
    (recorded, and logged if large)."""
    import numpy as np

    if not onnx:
        return {}
    reference = Classifier.load(out_dir, backend="torch").predict(CHECK_TEXTS)
    checks = {}
    for backend in ("onnx", "onnx-int8") if int8 else ("onnx",):
        got = Classifier.load(out_dir, backend=backend).predict(CHECK_TEXTS)
        alone = Classifier.load(out_dir, backend=backend, batch_size=1).predict(CHECK_TEXTS)
        batch_difference = max(
            abs(a.scores[label] - b.scores[label])
            for a, b in zip(alone, got, strict=True)
            for label in a.scores
        )
        diff = max(
            float(np.max(np.abs(np.array(list(a.scores.values())) - list(b.scores.values()))))
            for a, b in zip(reference, got, strict=True)
        )
        agree = sum(a.label == b.label for a, b in zip(reference, got, strict=True))
        checks[backend] = BackendCheck(
            max_probability_difference=round(diff, 6),
            label_agreement=round(agree / len(CHECK_TEXTS), 4),
            texts=len(CHECK_TEXTS),
            batch_difference=round(batch_difference, 6),
        )
        if backend == "onnx" and diff > 1e-3:
            log.warning("model.onnx differs from PyTorch by %.2g in probability", diff)
        if batch_difference > 1e-4:
            log.warning(
                "%s scores move by up to %.2g with the batch a text is in (dynamic int8?)",
                BACKEND_FILES[backend],
                batch_difference,
            )
    return checks

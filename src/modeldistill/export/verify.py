"""How far each exported ONNX file is from PyTorch, recorded in inference.json."""

from __future__ import annotations

import logging
from pathlib import Path

from modeldistill.artifacts import (
    BackendCheck,
)
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.samples import CHECK_TEXTS

log = logging.getLogger(__name__)


def self_check(out_dir: Path, onnx: bool, int8: bool) -> dict[str, BackendCheck]:
    """How far each ONNX file is from PyTorch on CHECK_TEXTS (recorded, and logged if large)."""
    import numpy as np

    if not onnx:
        return {}
    reference = Classifier.load(out_dir, backend="torch").predict(CHECK_TEXTS)
    checks = {}
    for backend in ("onnx", "onnx-int8") if int8 else ("onnx",):
        got = Classifier.load(out_dir, backend=backend).predict(CHECK_TEXTS)
        diff = max(
            float(np.max(np.abs(np.array(list(a.scores.values())) - list(b.scores.values()))))
            for a, b in zip(reference, got, strict=True)
        )
        agree = sum(a.label == b.label for a, b in zip(reference, got, strict=True))
        checks[backend] = BackendCheck(
            max_probability_difference=round(diff, 6),
            label_agreement=round(agree / len(CHECK_TEXTS), 4),
            texts=len(CHECK_TEXTS),
        )
        if backend == "onnx" and diff > 1e-3:
            log.warning("model.onnx differs from PyTorch by %.2g in probability", diff)
    return checks

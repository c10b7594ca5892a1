"""The texts that calibrate static int8 quantisation, and the padded batches they are fed in.

Only training texts calibrate (never validation or test rows, which score the model); without
--data the fixed sentences of inference/samples.py do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modeldistill.data.config import Splits
from modeldistill.data.splits import model_inputs
from modeldistill.inference.samples import CALIBRATION_FALLBACK, CHECK_TEXTS

# Texts per calibration batch: as wide as the default inference batch, so that padding appears
# in calibration as it does in served batches.
CALIBRATION_BATCH = 32


def calibration_texts(
    splits: Splits | None, name: str | None, count: int, seed: int = 0
) -> tuple[list[str], str]:
    """(up to `count` texts drawn without replacement from the training split, where they came
    from), or the fixed fallback sentences when there is no dataset."""
    if splits is None or len(splits.train) == 0:
        texts = [*CHECK_TEXTS, *CALIBRATION_FALLBACK]
        return texts, (
            f"{len(texts)} fixed sentences (CHECK_TEXTS and CALIBRATION_FALLBACK in "
            "modeldistill.inference.samples): no --data, so no training texts"
        )
    train = splits.train
    # Drawn in random order, not file order: each batch then mixes lengths, and so padding.
    rows = np.random.default_rng(seed).permutation(len(train))[:count]
    texts = model_inputs(train.select(rows.tolist()))
    return texts, f"{len(texts)} texts of the training split of {name} (drawn with seed {seed})"


def calibration_reader(folder: Path, texts: list[str], max_length: int) -> Any:
    """An onnxruntime CalibrationDataReader over `texts` tokenised and padded exactly as
    Classifier feeds the folder's model.onnx, in batches of CALIBRATION_BATCH."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

    from modeldistill.inference.classifier import Classifier

    classifier = Classifier.load(
        folder, backend="onnx", batch_size=CALIBRATION_BATCH, max_length=max_length
    )
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    names = {item.name for item in graph.input}
    encodings = classifier.tokenize(texts)
    batches = [
        {key: value for key, value in feeds.items() if key in names}
        for start in range(0, len(encodings), CALIBRATION_BATCH)
        for _, feeds in classifier.batches(encodings[start : start + CALIBRATION_BATCH])
    ]

    class PaddedBatches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

        def rewind(self) -> None:
            self._batches = iter(batches)

    return PaddedBatches()

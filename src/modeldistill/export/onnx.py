"""The fp32 ONNX graph of a trained model (torch's TorchScript exporter) and its int8 quantisation."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model: Any, path: Path, opset: int) -> None:
    import inspect

    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    names = [name for name in ONNX_INPUTS if name in accepted]
    # A padded example, so the trace keeps the attention-mask path that real batches take.
    ids = torch.full((2, 8), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python conditions on shapes that are constant for BERT encoders;
        # the parity tests are the check that the graph generalises.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(example[name] for name in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic quantisation: int8 weights, activations quantised per batch, no calibration data.
    # One scale per output channel instead of per matrix: on the shipped student it raised label
    # agreement with fp32 from 97.5% to 99.5% of validation texts at the same size and speed.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)

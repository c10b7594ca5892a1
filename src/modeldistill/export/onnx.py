"""The fp32 ONNX graph of a trained model (torch's TorchScript exporter) and its int8 quantisation
(static, calibrated on training texts, or dynamic)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import Any

from modeldistill.export.config import (
    GELU_INPUT_RANGE,
    OUTLIER_FACTOR,
    PER_CHANNEL,
    QUANTIZATION_METHODS,
    SMOOTHING_ALPHA,
)
from modeldistill.export.graph import tensor_consumers

log = logging.getLogger(__name__)

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# What `inference.json` records as the layout of a static int8 graph (see `float_output_matmuls`).
STATIC_FORMAT = "QOperator, MatMulIntegerToFloat"


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


# How model.int8.onnx is made: `static` (the default) gives every text the same scores whatever
# else is in its batch; `dynamic` is the earlier method, kept so that bench can compare the two.
# The ops of a GELU: a MatMul whose input is reached from one of these within four
# producers is fed by a GELU (see `_static_nodes`).
_GELU_OPS = {"Erf", "Gelu", "Tanh", "FastGelu"}


def quantize_int8(
    source: Path,
    target: Path,
    method: str = "static",
    calibration: Any = None,
    gelu_input_range: float = GELU_INPUT_RANGE,
    per_channel: bool = PER_CHANNEL,
    smoothing_alpha: float = SMOOTHING_ALPHA,
    outlier_factor: float = OUTLIER_FACTOR,
    keep_fp32: Collection[str] = (),
    reduce_range: bool | None = None,
) -> dict[str, Any]:
    """Write the int8 graph of `source` to `target` and return how it was quantised.

    `static` needs `calibration`, an onnxruntime CalibrationDataReader of padded model inputs with
    a `rewind()` (it is read more than once); a GELU-fed MatMul is quantised when its calibrated
    input range is at most `gelu_input_range` (see `_static_nodes`); with `smoothing_alpha` > 0 the
    inputs of the other weight MatMuls are smoothed first (`export.smoothing`); with
    `outlier_factor` > 0 the outlier input channels of the GELU-fed ones are split off in fp32
    first (`export.outliers`), and the range that decides is that of the other channels.
    `keep_fp32` names weight MatMuls left in fp32 whatever their range (mixed precision, screened
    by scripts/int8_screen.py). `reduce_range` (7-bit weights) follows `per_channel` unless set:
    full 8-bit per-channel weights are more exact but saturate on CPUs without VNNI (see
    `_quantize_static`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if method not in QUANTIZATION_METHODS:
        raise ValueError(f"unknown quantisation {method!r}; use one of {QUANTIZATION_METHODS}")
    if method == "dynamic":
        # Activations are quantised per batch tensor, padding included, so one text's scores
        # move with its batch companions.
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel
        )
        return {"method": "dynamic", "per_channel": per_channel}
    if calibration is None:
        raise ValueError("static quantisation needs a calibration reader")
    import tempfile

    import numpy as np
    import onnx

    from modeldistill.export.smoothing import smooth_matmuls

    graph = onnx.load(str(source), load_external_data=False).graph
    weighted, fed = _gelu_fed(graph)
    unknown = set(keep_fp32) - {node.name for node in weighted}
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))}: not a weight MatMul of {source.name}")
    seven_bit = per_channel if reduce_range is None else reduce_range
    with tempfile.TemporaryDirectory() as scratch:
        smoothed = 0
        if smoothing_alpha > 0:
            # Only the inputs not fed by a GELU: on the shipped student, smoothing the GELU-fed
            # ones too left the mean |dP| against fp32 higher (0.0054 vs 0.0043, docs/inference.md).
            weighted_names = {node.name for node in weighted}
            fed_names = {node.name for node in fed}
            chosen = sorted(weighted_names - fed_names)
            smooth_source = Path(scratch) / "smoothed.onnx"
            smoothed = smooth_matmuls(source, smooth_source, chosen, calibration, smoothing_alpha)
            source = smooth_source
            graph, weighted, fed = _same_nodes(source, weighted, fed)
        split: dict[str, list[int]] = {}
        rest_max: dict[str, float] = {}
        if outlier_factor > 0 and fed:
            from modeldistill.export.outliers import outlier_channels, split_outlier_channels
            from modeldistill.export.smoothing import channel_maxima

            maxima = channel_maxima(
                onnx.load(str(source)), sorted({node.input[0] for node in fed}), calibration
            )
            for node in fed:
                if node.name in keep_fp32:
                    continue  # an fp32 product gains nothing from the split
                channels = outlier_channels(maxima[node.input[0]], outlier_factor)
                if channels:
                    split[node.name] = channels
                    rest_max[node.name] = float(np.delete(maxima[node.input[0]], channels).max())
            if split:
                split_source = Path(scratch) / "split.onnx"
                split_outlier_channels(source, split_source, split)
                source = split_source
                graph, weighted, fed = _same_nodes(source, weighted, fed)
        extremes = _input_ranges(source, fed, calibration)
        calibration.rewind()
        # A split MatMul's input is calibrated on its other channels: the outliers saturate.
        # Their max |x| bounds both ends of their range.
        bounds = {
            name: (max(low, -rest_max[name]), min(high, rest_max[name]))
            if name in rest_max
            else (low, high)
            for name, (low, high) in extremes.items()
        }
        ranges = {name: high - low for name, (low, high) in bounds.items()}
        too_wide = {name for name, width in ranges.items() if width > gelu_input_range}
        left_fp32 = too_wide | set(keep_fp32)
        # onnxruntime computes the scale from numpy values of the tensor's type
        overrides = {
            node.input[0]: [
                {"rmin": np.float32(bounds[node.name][0]), "rmax": np.float32(bounds[node.name][1])}
            ]
            for node in fed
            if node.name in split and node.name not in left_fp32
        }
        nodes, gathers, kept = _static_nodes(graph, weighted, left_fp32)
        _quantize_static(source, target, calibration, nodes, per_channel, seven_bit, overrides)
    float_output_matmuls(target)
    return {
        "method": "static",
        "format": STATIC_FORMAT,
        "calibration_method": "MinMax",
        "per_channel": per_channel,
        "reduce_range": seven_bit,
        "quantized_matmuls": len(nodes) - gathers,
        "quantized_embeddings": gathers,
        "fp32_matmuls": kept,
        "gelu_input_range": gelu_input_range,
        "gelu_input_ranges": {name: round(width, 3) for name, width in ranges.items()},
        "smoothing_alpha": smoothing_alpha,
        "smoothed_inputs": smoothed,
        "outlier_factor": outlier_factor,
        "outlier_channels": split,
    }


def _same_nodes(source: Path, weighted: list[Any], fed: list[Any]) -> tuple[Any, list, list]:
    """(graph, weighted, fed) of the rewritten graph at `source`: the nodes named as before in
    `weighted` and `fed`. A rewrite's own nodes (a smoothing Mul, an outlier channels' fp32
    product) are neither, so that they are not quantised."""
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    weighted_names, fed_names = {node.name for node in weighted}, {node.name for node in fed}
    same = [node for node in graph.node if node.name in weighted_names]
    return graph, same, [node for node in same if node.name in fed_names]


def _quantize_static(
    source: Path,
    target: Path,
    calibration: Any,
    nodes: list[str],
    per_channel: bool,
    reduce_range: bool,
    overrides: dict[str, list[dict[str, float]]] | None = None,
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    # Fixed activation scales make each row's arithmetic independent of the other rows, so a
    # text's scores do not depend on its batch. Only weight MatMuls and the embedding lookups:
    # quantising the attention products and other ops left batch dependence and lost accuracy.
    # The int8 embedding tables halve the file (MiniLM: 70 -> 34 MB) at the same agreement.
    # Per-channel weights keep 7 bits (reduce_range): on CPUs without VNNI the u8 x s8 products
    # of full 8-bit per-channel weights saturate (a tiny model's labels agreed with fp32 on 64%).
    # They are the default all the same (PER_CHANNEL says why). One scale per matrix keeps 8 bits:
    # most of its weights are far from the limit.
    quantize_static(
        str(source),
        str(target),
        calibration,
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["MatMul", "Gather"],
        nodes_to_quantize=nodes,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"TensorQuantOverrides": overrides or {}},
    )


def _gelu_fed(graph: Any) -> tuple[list[Any], list[Any]]:
    """(the MatMuls with a weight matrix, those of them whose input comes from a GELU)."""
    constants = {item.name for item in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}

    def after_gelu(name: str, depth: int = 4) -> bool:
        node = producer.get(name)
        if node is None or depth == 0:
            return False
        return node.op_type in _GELU_OPS or any(after_gelu(i, depth - 1) for i in node.input)

    weighted = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in constants]
    return weighted, [node for node in weighted if after_gelu(node.input[0])]


def _input_ranges(
    source: Path, matmuls: list[Any], calibration: Any
) -> dict[str, tuple[float, float]]:
    """The calibrated (min, max) over the calibration batches of each of `matmuls`' inputs, by
    node name: onnxruntime's own MinMax calibrator, as quantize_static runs it."""
    import tempfile

    import numpy as np
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    if not matmuls:
        return {}
    with tempfile.TemporaryDirectory() as scratch:
        calibrator = create_calibrator(
            source,
            ["MatMul"],
            augmented_model_path=Path(scratch) / "augmented.onnx",
            calibrate_method=CalibrationMethod.MinMax,
        )
        calibrator.collect_data(calibration)
        data = calibrator.compute_data()
    extremes = {}
    for node in matmuls:
        low, high = data[node.input[0]].range_value
        extremes[node.name] = (float(np.min(low)), float(np.max(high)))
    return extremes


def _static_nodes(
    graph: Any, weighted: list[Any], kept_fp32: set[str]
) -> tuple[list[str], int, int]:
    """(names of the nodes to quantise, how many of them are embedding lookups, how many MatMuls
    stay fp32).

    Quantised: the products with a weight matrix (`weighted`) not named in `kept_fp32`, and the
    lookups in an embedding table. Left in fp32: the attention products (both sides are
    activations) and `kept_fp32`, the GELU-fed MatMuls (feed-forward down-projections, a
    classifier after tanh) whose calibrated input range is too wide: a GELU's rare large outputs
    stretch a single fixed scale until its common small values lose their resolution."""
    chosen = [node.name for node in weighted if node.name not in kept_fp32]
    constants = {item.name for item in graph.initializer}
    lookups = [
        node.name for node in graph.node if node.op_type == "Gather" and node.input[0] in constants
    ]
    matmuls = sum(node.op_type == "MatMul" for node in graph.node)
    return chosen + lookups, len(lookups), matmuls - len(chosen)


def float_output_matmuls(path: Path) -> int:
    """Rewrite, in place, each QLinearMatMul -> DequantizeLinear [-> Add bias] of a QOperator
    graph as one MatMulIntegerToFloat (the same uint8 input and int8 weights, fp32 out, bias
    added), and return how many were rewritten.

    onnxruntime's static quantiser has no option for this (QLinearMatMul re-quantises each
    product to uint8 before it is dequantised); the float-output op is the one its dynamic
    quantisation runs on, and on the shipped student it was 10% / 13% faster at batch 1 / 32 than
    QLinearMatMul at about the same agreement with fp32 (99.49% vs 99.56%; docs/inference.md)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    graph = model.graph
    constants = {item.name: item for item in graph.initializer}
    outputs = {item.name for item in graph.output}
    consumers = tensor_consumers(graph)
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "QLinearMatMul":
            continue
        a, a_scale, a_zero, b, b_scale, b_zero, _, _ = node.input
        after = consumers.get(node.output[0], [])
        if len(after) != 1 or after[0].op_type != "DequantizeLinear":
            continue
        dequantize = after[0]
        inputs = [a, b, a_scale, b_scale, a_zero, b_zero]
        result = dequantize.output[0]
        gone = [dequantize]
        bias_add = consumers.get(result, [])
        if len(bias_add) == 1 and bias_add[0].op_type == "Add" and result not in outputs:
            other = [name for name in bias_add[0].input if name != result]
            if len(other) == 1 and other[0] in constants and len(constants[other[0]].dims) == 1:
                inputs.append(other[0])
                result = bias_add[0].output[0]
                gone.append(bias_add[0])
        replaced[id(node)] = helper.make_node(
            "MatMulIntegerToFloat", inputs, [result], name=node.name, domain="com.microsoft"
        )
        dropped |= {id(item) for item in gone}
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    used = {name for node in nodes for name in node.input}
    tensors = [item for item in graph.initializer if item.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(tensors)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))
    return len(replaced)

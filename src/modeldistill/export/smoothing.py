"""SmoothQuant (Xiao et al. 2023, "SmoothQuant: Accurate and Efficient Post-Training Quantization")
on an fp32 ONNX graph, before static int8.

A few channels of a transformer's activations are far larger than the rest, so one fixed uint8
scale per tensor, stretched to hold them, leaves the common small values a handful of steps. For
`y = x @ W` the graph is rewritten as `y = (x / s) @ (s[:, None] * W)`: the same product in fp32,
with each input channel j divided by s_j = max|x_j|**alpha / max|W_j|**(1 - alpha) (a per-channel
Mul before the MatMul, rows of W multiplied) so that activations and weights share the difficulty.

Written here because onnxruntime's own SmoothQuant option imports neural-compressor 2.x's ONNX
adaptor, which neural-compressor 3 no longer has."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def smoothing_scales(
    activation_max: np.ndarray, weight_max: np.ndarray, alpha: float
) -> np.ndarray:
    """s_j = activation_max_j**alpha / weight_max_j**(1 - alpha) per input channel; 1 where
    either maximum is 0 (a dead channel has nothing to move)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    live = (activation_max > 0) & (weight_max > 0)
    safe_activation = np.where(live, activation_max, 1.0)
    safe_weight = np.where(live, weight_max, 1.0)
    scales = safe_activation**alpha / safe_weight ** (1 - alpha)
    return np.where(live, scales, 1.0).astype(np.float32)


def channel_maxima(model: Any, tensors: list[str], calibration: Any) -> dict[str, np.ndarray]:
    """max |value| of each tensor's last axis (its channels) over the calibration batches, by
    name: the graph run with those tensors added as outputs. Rewinds `calibration` after."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    augmented = onnx.ModelProto()
    augmented.CopyFrom(model)
    present = {item.name for item in augmented.graph.output}
    for name in tensors:
        if name not in present:
            augmented.graph.output.append(
                helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    session = ort.InferenceSession(
        augmented.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [item.name for item in session.get_outputs()]
    maxima: dict[str, np.ndarray] = {}
    while (feeds := calibration.get_next()) is not None:
        values = dict(zip(names, session.run(None, feeds), strict=True))
        for name in tensors:
            value = np.abs(values[name])
            batch_max = value.reshape(-1, value.shape[-1]).max(axis=0)
            maxima[name] = np.maximum(maxima.get(name, batch_max), batch_max)
    calibration.rewind()
    return maxima


def smooth_matmuls(
    source: Path, target: Path, matmuls: list[str], calibration: Any, alpha: float
) -> int:
    """Write `source` with the inputs of the named MatMuls (each `x @ constant W`) smoothed to
    `target`; MatMuls that read the same tensor share one Mul and one scale (the maximum over
    their weights). Returns how many input tensors were smoothed. The graph computes the same
    function; only the ranges that static quantisation calibrates change."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {item.name: item for item in graph.initializer}
    readers = Counter(name for node in graph.node for name in node.input)
    chosen = set(matmuls)
    by_input: dict[str, list[Any]] = {}
    for node in graph.node:
        if node.name in chosen:
            if node.op_type != "MatMul" or node.input[1] not in weights:
                raise ValueError(f"{node.name} is not a MatMul with a weight matrix")
            by_input.setdefault(node.input[0], []).append(node)
    missing = chosen - {node.name for nodes in by_input.values() for node in nodes}
    if missing:
        raise ValueError(f"{', '.join(sorted(missing))}: not a MatMul of this graph")
    # A weight read elsewhere too would be scaled for every reader: such inputs stay unsmoothed.
    by_input = {
        tensor: nodes
        for tensor, nodes in by_input.items()
        if all(readers[node.input[1]] == 1 for node in nodes)
    }
    maxima = channel_maxima(model, list(by_input), calibration)
    producer = {output: index for index, node in enumerate(graph.node) for output in node.output}
    inserts: list[tuple[int, Any]] = []
    for tensor, nodes in by_input.items():
        matrices = [numpy_helper.to_array(weights[node.input[1]]) for node in nodes]
        weight_max = np.max([np.abs(matrix).max(axis=1) for matrix in matrices], axis=0)
        scales = smoothing_scales(maxima[tensor], weight_max, alpha)
        inverse = numpy_helper.from_array((1 / scales).astype(np.float32), f"{tensor}_smooth")
        graph.initializer.append(inverse)
        smoothed = f"{tensor}_smoothed"
        mul = helper.make_node("Mul", [tensor, inverse.name], [smoothed], name=smoothed)
        # Right after the tensor's producer (graph inputs: first), so the graph stays sorted.
        inserts.append((producer.get(tensor, -1) + 1, mul))
        for node, matrix in zip(nodes, matrices, strict=True):
            scaled = (matrix * scales[:, None]).astype(np.float32)
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(scaled, node.input[1]))
            node.input[0] = smoothed
    order = list(graph.node)
    for position, mul in sorted(inserts, key=lambda item: -item[0]):
        order.insert(position, mul)
    del graph.node[:]
    graph.node.extend(order)
    onnx.save(model, str(target))
    return len(by_input)

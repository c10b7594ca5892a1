"""Outlier input channels of a GELU-fed MatMul split off in fp32 before static int8: the
decomposition of LLM.int8() (Dettmers et al. 2022), with the channels fixed at calibration so
that every scale stays fixed and a text's scores still do not depend on its batch.

A GELU's output has a few channels whose rare values are far larger than the rest (the shipped
student's first down-projection: one channel reaches 25.6 where the other 1,535 stay below 6.4).
One uint8 scale stretched over them leaves the common values a step of 0.1. So for `y = x @ W`
the graph is rewritten as `y = x @ W0 + x[..., J] @ W[J]`: W0 is W with the rows of the outlier
channels J zeroed and is quantised as before, its input scale calibrated on the other channels
only (the outlier channels then saturate, and meet zero weights); the small product of the |J|
outlier channels stays fp32. Exact in fp32; onnxruntime has no such option, hence this module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modeldistill.export.graph import tensor_consumers


def outlier_channels(channel_max: np.ndarray, factor: float) -> list[int]:
    """The channels whose max |value| exceeds `factor` times the 99th percentile of all the
    channels' maxima: a handful of channels at most, unlike the long tail below them."""
    if factor <= 1:
        raise ValueError(f"factor must be above 1, got {factor}")
    bound = factor * float(np.percentile(channel_max, 99))
    return [int(channel) for channel in np.flatnonzero(channel_max > bound)]


def split_outlier_channels(source: Path, target: Path, channels: dict[str, list[int]]) -> None:
    """Write `source` to `target` with each named MatMul (`x @ constant W`, its weight read by it
    alone) split on its `channels` as the module docstring says. The small product is added after
    the MatMul's bias Add when it has one, so that int8 still fuses the bias into its MatMul; its
    nodes are named `<MatMul>_outliers*`, so that quantisation leaves them alone."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {item.name: item for item in graph.initializer}
    consumers = tensor_consumers(graph)
    by_name = {node.name: node for node in graph.node}
    outputs = {item.name for item in graph.output}
    inserts: dict[int, list[Any]] = {}
    for name, chosen in channels.items():
        node = by_name.get(name)
        if node is None or node.op_type != "MatMul" or node.input[1] not in weights:
            raise ValueError(f"{name} is not a MatMul with a weight matrix of this graph")
        if len(consumers[node.input[1]]) != 1:
            raise ValueError(f"{name}'s weight is read by other nodes too")
        if not chosen:
            continue
        matrix = numpy_helper.to_array(weights[node.input[1]])
        rows = np.array(sorted(set(chosen)), dtype=np.int64)
        if rows.min() < 0 or rows.max() >= matrix.shape[0]:
            raise ValueError(f"{name}: channels must lie in 0..{matrix.shape[0] - 1}")
        kept = matrix.copy()
        kept[rows] = 0
        weights[node.input[1]].CopyFrom(numpy_helper.from_array(kept, node.input[1]))
        index = numpy_helper.from_array(rows, f"{name}_outliers_index")
        outlier_rows = numpy_helper.from_array(matrix[rows], f"{name}_outliers_weight")
        graph.initializer.extend([index, outlier_rows])
        # After the bias Add, where there is one: int8 then still fuses the bias into its MatMul.
        last = node
        after = consumers.get(node.output[0], [])
        if (
            len(after) == 1
            and after[0].op_type == "Add"
            and node.output[0] not in outputs
            and any(item in weights for item in after[0].input)
        ):
            last = after[0]
        result = last.output[0]
        # The readers of `result` go on reading it: the Add below writes it from now on.
        partial = f"{result}_int8_part"
        last.output[0] = partial
        gathered = f"{name}_outliers_input"
        product = f"{name}_outliers_product"
        inserts[id(last)] = [
            helper.make_node(
                "Gather",
                [node.input[0], index.name],
                [gathered],
                name=f"{name}_outliers_gather",
                axis=-1,
            ),
            helper.make_node(
                "MatMul", [gathered, outlier_rows.name], [product], name=f"{name}_outliers"
            ),
            helper.make_node("Add", [partial, product], [result], name=f"{name}_outliers_add"),
        ]
    order = []
    for node in graph.node:
        order.append(node)
        order.extend(inserts.get(id(node), []))
    del graph.node[:]
    graph.node.extend(order)
    onnx.save(model, str(target))

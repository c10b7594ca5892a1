"""Re-quantise an int8-only export statically, from its own int8 weights, so that a text's scores
no longer depend on the texts batched with it. For folders whose fp32 weights are gone, like
models/default (their export is the better route when the weights exist):

    python scripts/requantize_shipped.py models/default --data recipes/general.yaml \
        --weights "the static QLinearMatMul file's, dequantised; its own were the dynamic \
file's of commit 3a2f2f2, dequantised"

1. model.int8.onnx is turned back into an fp32 graph. A dynamic file (onnxruntime's dynamic
   quantisation): each DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul chain becomes one
   MatMul with the weights dequantised ((w - zero point) x scale, per output channel); its int8
   embedding tables stay as they are (their lookups are dequantised row by row, which no batch
   companion can change). A static QLinearMatMul file (this project's before MatMulIntegerToFloat):
   each QuantizeLinear -> QLinearMatMul -> DequantizeLinear becomes a MatMul, and each int8
   embedding table an fp32 one. No library undoes quantisation, hence this script.
2. That graph is quantised as `modeldistill export --int8` does (static, calibrated on padded
   batches of training texts from --data), and the folder's inference.json records it.
3. scripts/refresh_shipped.py then refits the temperature and the threshold and re-scores it.

The shipped folders were re-quantised from the dynamic files of commit 3a2f2f2 (`git show
3a2f2f2:models/default/model.int8.onnx > model.int8.onnx` gives that starting point back). Their
static files can be undone the same way (say so with --weights); a file of neither kind is refused.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from modeldistill.artifacts import read_inference, write_inference
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.export.config import (
    GELU_INPUT_RANGE,
    OUTLIER_FACTOR,
    PER_CHANNEL,
    SMOOTHING_ALPHA,
    ExportConfig,
)
from modeldistill.export.export import quantize_folder
from modeldistill.export.graph import tensor_consumers


def _graph_maps(graph: onnx.GraphProto) -> tuple[dict, dict, dict[str, list]]:
    """(initializer arrays by name, the node writing each tensor, the nodes reading each)."""
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    return weights, producer, tensor_consumers(graph)


def dequantized_graph(int8_path: Path) -> onnx.ModelProto:
    """The fp32 graph behind a dynamically or (QLinearMatMul) statically quantised one (see the
    module docstring)."""
    model = onnx.load(str(int8_path))
    graph = model.graph
    if any(node.op_type == "QLinearMatMul" for node in graph.node):
        return _undo_static(model)
    if not any(node.op_type == "MatMulInteger" for node in graph.node):
        raise SystemExit(
            f"{int8_path} has neither MatMulInteger nor QLinearMatMul: nothing to undo"
        )
    weights, producer, consumers = _graph_maps(graph)

    drop, added, new_weights = set(), [], {}
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        quantize = producer[node.input[0]]
        assert quantize.op_type == "DynamicQuantizeLinear", quantize.op_type
        (cast,) = consumers[node.output[0]]
        (rescale,) = consumers[cast.output[0]]
        assert (cast.op_type, rescale.op_type) == ("Cast", "Mul")
        scale_name = next(name for name in rescale.input if name != cast.output[0])
        scales = producer[scale_name]  # Mul(activation scale, weight scale)
        weight_scale = next(weights[name] for name in scales.input if name in weights)
        quantized, zero = weights[node.input[1]], weights[node.input[3]]
        name = node.input[1].removesuffix("_quantized") + "_dequantized"
        new_weights[name] = ((quantized.astype(np.float32) - zero) * weight_scale).astype(
            np.float32
        )
        added.append(
            helper.make_node("MatMul", [quantize.input[0], name], [rescale.output[0]], node.name)
        )
        drop |= {node.name, cast.name, rescale.name, scales.name}
    # A DynamicQuantizeLinear feeds Q, K and V at once: it goes when none of them is left.
    kept = [node for node in graph.node if node.name not in drop]
    used = {name for node in kept + added for name in node.input}
    kept = [
        node
        for node in kept
        if node.op_type != "DynamicQuantizeLinear" or any(out in used for out in node.output)
    ]
    order = {node.name: index for index, node in enumerate(graph.node)}
    return _with_nodes(model, sorted(kept + added, key=lambda node: order[node.name]), new_weights)


def _undo_static(model: onnx.ModelProto) -> onnx.ModelProto:
    """QuantizeLinear -> QLinearMatMul -> DequantizeLinear becomes one MatMul with dequantised
    weights, and an int8 embedding lookup -> DequantizeLinear a lookup in the dequantised table:
    the fp32 graph the earlier static file was quantised from, up to its weights' rounding."""
    graph = model.graph
    weights, producer, consumers = _graph_maps(graph)

    def dequantized(values: str, scale: str, zero: str) -> np.ndarray:
        return ((weights[values].astype(np.float32) - weights[zero]) * weights[scale]).astype(
            np.float32
        )

    replaced, drop, new_weights = {}, set(), {}
    for node in graph.node:
        if node.op_type == "QLinearMatMul":
            quantize = producer[node.input[0]]
            (dequantize,) = consumers[node.output[0]]
            assert (quantize.op_type, dequantize.op_type) == ("QuantizeLinear", "DequantizeLinear")
            name = node.input[3] + "_dequantized"
            new_weights[name] = dequantized(*node.input[3:6])
            replaced[id(node)] = helper.make_node(
                "MatMul", [quantize.input[0], name], [dequantize.output[0]], node.name
            )
            drop.add(id(dequantize))
        elif node.op_type == "Gather" and node.input[0] in weights:
            (dequantize,) = consumers[node.output[0]]
            if dequantize.op_type != "DequantizeLinear":
                continue  # an fp32 table
            name = node.input[0] + "_dequantized"
            new_weights[name] = dequantized(node.input[0], *dequantize.input[1:3])
            attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            replaced[id(node)] = helper.make_node(
                "Gather", [name, node.input[1]], [dequantize.output[0]], node.name, **attributes
            )
            drop.add(id(dequantize))
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in drop]
    # A QuantizeLinear feeds Q, K and V at once: it goes when nothing reads it any more.
    used = {name for node in nodes for name in node.input}
    nodes = [n for n in nodes if n.op_type != "QuantizeLinear" or n.output[0] in used]
    return _with_nodes(model, nodes, new_weights)


def _with_nodes(
    model: onnx.ModelProto, nodes: list, new_weights: dict[str, np.ndarray]
) -> onnx.ModelProto:
    """`model` with `nodes` as its graph, the initializers they still read and `new_weights`."""
    graph = model.graph
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    tensors = [t for t in graph.initializer if t.name in used]
    tensors += [numpy_helper.from_array(value, name) for name, value in new_weights.items()]
    del graph.initializer[:]
    graph.initializer.extend(tensors)
    onnx.checker.check_model(model)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an exported folder holding model.int8.onnx")
    parser.add_argument("--data", action="append", required=True, help="its training data")
    parser.add_argument("--calibration-texts", type=int, default=512)
    parser.add_argument(
        "--per-channel",
        action=argparse.BooleanOptionalAction,
        default=PER_CHANNEL,
        help="one weight scale per output channel, or per matrix (export's flag and default)",
    )
    parser.add_argument(
        "--gelu-input-range",
        type=float,
        default=GELU_INPUT_RANGE,
        help="a GELU-fed MatMul is int8 when its calibrated input range is at most this (export's flag)",
    )
    parser.add_argument(
        "--smoothing-alpha",
        type=float,
        default=SMOOTHING_ALPHA,
        help="SmoothQuant strength before static int8, 0: off (export's flag)",
    )
    parser.add_argument(
        "--outlier-factor",
        type=float,
        default=OUTLIER_FACTOR,
        help="GELU-fed inputs' outlier channels split off in fp32 beyond this factor, 0: off "
        "(export's flag)",
    )
    parser.add_argument(
        "--weights",
        default="the dynamic int8 file's, dequantised",
        help="where the weights came from, for inference.json's calibration_source",
    )
    args = parser.parse_args()
    folder = args.folder
    info = read_inference(folder)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / folder.name
        shutil.copytree(folder, work)
        onnx.save(dequantized_graph(folder / "model.int8.onnx"), str(work / "model.onnx"))
        (work / "model.int8.onnx").unlink()
        splits = load_splits(DataConfig(data=args.data).as_model_was_trained(folder))
        config = ExportConfig(
            out=work,
            int8=True,
            max_length=info.max_length,
            calibration_texts=args.calibration_texts,
            per_channel=args.per_channel,
            gelu_input_range=args.gelu_input_range,
            smoothing_alpha=args.smoothing_alpha,
            outlier_factor=args.outlier_factor,
        )
        quantization = quantize_folder(work, config, splits, ", ".join(args.data))
        shutil.copyfile(work / "model.int8.onnx", folder / "model.int8.onnx")
    where = quantization.calibration_source
    info.quantization = quantization.model_copy(
        update={"calibration_source": f"{where} (weights: {args.weights})"}
    )
    write_inference(folder, info)
    print(f"{folder}/model.int8.onnx: static int8 from its own weights, calibrated on {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

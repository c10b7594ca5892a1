"""Re-quantise an int8-only export statically, from its own int8 weights, so that a text's scores
no longer depend on the texts batched with it. For folders whose fp32 weights are gone, like
models/default (their export is the better route when the weights exist):

    python scripts/requantize_shipped.py models/default --data recipes/general.yaml --no-per-channel

1. model.int8.onnx (onnxruntime's dynamic quantisation) is turned back into an fp32 graph: each
   DynamicQuantizeLinear → MatMulInteger → Cast → Mul chain becomes one MatMul with the weights
   dequantised ((w - zero point) × scale, per output channel). The int8 embedding tables stay as
   they are: their lookups are dequantised row by row, which no batch companion can change. No
   library undoes dynamic quantisation, hence this script.
2. That graph is quantised as `modeldistill export --int8` does (static, calibrated on padded
   batches of training texts from --data), and the folder's inference.json records it.
3. scripts/refresh_shipped.py then refits the temperature and the threshold and re-scores it.

The shipped folders were re-quantised from the dynamic files of commit 3a2f2f2 (`git show
3a2f2f2:models/default/model.int8.onnx > model.int8.onnx` gives the starting point back); a file
that is already static is refused.
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
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import quantize_folder


def dequantized_graph(int8_path: Path) -> onnx.ModelProto:
    """The fp32 graph behind a dynamically quantised one (see the module docstring)."""
    model = onnx.load(str(int8_path))
    graph = model.graph
    if not any(node.op_type == "MatMulInteger" for node in graph.node):
        raise SystemExit(
            f"{int8_path} is not dynamically quantised (no MatMulInteger): nothing to undo"
        )
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

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
    nodes = sorted(kept + added, key=lambda node: order[node.name])
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
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
        "--no-per-channel",
        dest="per_channel",
        action="store_false",
        help="one weight scale per matrix (export --no-per-channel): as fast as dynamic int8 here",
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
        )
        quantization = quantize_folder(work, config, splits, ", ".join(args.data))
        shutil.copyfile(work / "model.int8.onnx", folder / "model.int8.onnx")
    where = quantization.calibration_source
    info.quantization = quantization.model_copy(
        update={"calibration_source": f"{where} (weights: the dynamic int8 file's, dequantised)"}
    )
    write_inference(folder, info)
    print(f"{folder}/model.int8.onnx: static int8 from its own weights, calibrated on {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/requantize_shipped.py: a dynamic or a QLinearMatMul static int8 file turned back into its
fp32 graph computes what the fp32 export computes, up to the int8 rounding of its weights."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from helpers import load_script
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.inference import Classifier
from modeldistill.inference.samples import CHECK_TEXTS


def _qlinear_file(out, path):
    """The static file this project wrote before MatMulIntegerToFloat: QLinearMatMul and int8
    embedding tables."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.onnx import _gelu_fed, _static_nodes

    # weight MatMuls but the GELU-fed ones, and embedding lookups, as that export chose them
    graph = onnx.load(str(out / "model.onnx")).graph
    weighted, fed = _gelu_fed(graph)
    nodes, _, _ = _static_nodes(graph, weighted, {node.name for node in fed})
    quantize_static(
        str(out / "model.onnx"),
        str(path),
        calibration_reader(out, CHECK_TEXTS, 128),
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["MatMul", "Gather"],
        nodes_to_quantize=nodes,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return path


@pytest.mark.parametrize("method", ["dynamic", "static-qlinear"])
def test_an_int8_file_dequantises_to_its_fp32_graph(tiny_bert_dir, tmp_path, method):
    import onnx

    out = export_model(
        tiny_bert_dir, ExportConfig(out=tmp_path / "dyn", int8=True, quantization="dynamic")
    )
    int8 = out / "model.int8.onnx"
    if method == "static-qlinear":
        int8 = _qlinear_file(out, tmp_path / "qlinear.onnx")
        assert "QLinearMatMul" in {node.op_type for node in onnx.load(str(int8)).graph.node}
    graph = load_script("requantize_shipped").dequantized_graph(int8)
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {"MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QuantizeLinear"}
    assert not ops & {"DequantizeLinear"} or method == "dynamic"
    path = tmp_path / "dequantized.onnx"
    onnx.save(graph, str(path))

    classifier = Classifier.load(out, backend="onnx")
    fp32, dequantized = (ort.InferenceSession(str(p)) for p in (out / "model.onnx", path))
    names = {item.name for item in fp32.get_inputs()}
    for _, feeds in classifier.batches(classifier.tokenize(CHECK_TEXTS)):
        feeds = {key: value for key, value in feeds.items() if key in names}
        expected, got = fp32.run(None, feeds)[0], dequantized.run(None, feeds)[0]
        # Only the weights' int8 rounding separates them (no activation is quantised any more).
        assert np.abs(expected - got).max() < 0.05

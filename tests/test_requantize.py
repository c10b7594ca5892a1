"""scripts/requantize_shipped.py: a dynamic int8 file turned back into its fp32 graph computes what
the fp32 export computes, up to the int8 rounding of its weights."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from helpers import load_script
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.inference import Classifier
from modeldistill.inference.samples import CHECK_TEXTS


def test_a_dynamic_int8_file_dequantises_to_its_fp32_graph(tiny_bert_dir, tmp_path):
    import onnx

    out = export_model(
        tiny_bert_dir, ExportConfig(out=tmp_path / "dyn", int8=True, quantization="dynamic")
    )
    graph = load_script("requantize_shipped").dequantized_graph(out / "model.int8.onnx")
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {"MatMulInteger", "DynamicQuantizeLinear"}
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

"""SmoothQuant before static int8 (`export.smoothing`): the scales by hand, the smoothed graph
computing what the source did, and the int8 error it removes on an outlier channel.
Run: pytest tests/test_smoothing.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import CalibrationBatches
from modeldistill.export.smoothing import smooth_matmuls, smoothing_scales


def test_scales_split_the_range_between_activations_and_weights():
    # alpha 0.5: s = sqrt(a / w), so that a / s == w * s for every live channel.
    scales = smoothing_scales(np.array([4.0, 1.0, 0.0]), np.array([1.0, 4.0, 2.0]), 0.5)
    np.testing.assert_allclose(scales, [2.0, 0.5, 1.0])
    # alpha 0.75: s = a**0.75 / w**0.25 = 16**0.75 / 1 = 8.
    assert smoothing_scales(np.array([16.0]), np.array([1.0]), 0.75)[0] == pytest.approx(8.0)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_alpha_outside_the_open_interval_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha"):
        smoothing_scales(np.ones(2), np.ones(2), alpha)


def _outlier_inputs(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Gaussian rows whose channel 3 is 60 times the others, like a transformer's outlier dims."""
    values = rng.standard_normal((rows, 16)).astype(np.float32)
    values[:, 3] *= 60
    return values


def _one_matmul(path: Path, weight: np.ndarray) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="product")],
        "one-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 8])],
        [numpy_helper.from_array(weight, "w")],
    )
    # IR version 8 (opset 17's): the oldest onnxruntime the project supports reads no newer.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))


def _run(path: Path, values: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values})[0]


def test_smoothing_keeps_the_product_and_cuts_the_int8_error_of_an_outlier_channel(tmp_path):
    from modeldistill.export.onnx import quantize_int8

    rng = np.random.default_rng(0)
    source = tmp_path / "source.onnx"
    _one_matmul(source, rng.standard_normal((16, 8)).astype(np.float32))
    calibration = CalibrationBatches([{"x": _outlier_inputs(rng, 64)} for _ in range(4)])
    fresh = _outlier_inputs(rng, 256)
    exact = _run(source, fresh)

    smoothed = tmp_path / "smoothed.onnx"
    assert smooth_matmuls(source, smoothed, ["product"], calibration, 0.5) == 1
    np.testing.assert_allclose(_run(smoothed, fresh), exact, rtol=1e-4, atol=1e-3)
    assert calibration.get_next() is not None  # rewound for the quantiser

    errors = {}
    for alpha in (0.0, 0.5):
        calibration.rewind()
        target = tmp_path / f"int8-{alpha}.onnx"
        record = quantize_int8(source, target, "static", calibration, smoothing_alpha=alpha)
        assert record["smoothed_inputs"] == (1 if alpha else 0)
        errors[alpha] = float(np.abs(_run(target, fresh) - exact).mean())
    # Unsmoothed, one uint8 step spans about 2 units, so the 1-sized channels are mostly lost.
    assert errors[0.5] < errors[0.0] / 3


def test_smoothed_student_graph_computes_what_the_source_did(tiny_bert_dir, tmp_path):
    import onnx
    import onnxruntime as ort

    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.config import ExportConfig
    from modeldistill.export.export import export_model
    from modeldistill.inference.samples import CHECK_TEXTS

    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "fp32", onnx=True))
    source = out / "model.onnx"
    graph = onnx.load(str(source)).graph
    constants = {item.name for item in graph.initializer}
    matmuls = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in constants]
    reader = calibration_reader(out, CHECK_TEXTS, 128)
    smoothed = tmp_path / "smoothed.onnx"
    count = smooth_matmuls(source, smoothed, matmuls, reader, 0.8)
    # 4 layers x (the shared Q/K/V input, the attention output, both feed-forward inputs); the
    # pooler and the classifier are Gemm in torch's export, not MatMul.
    assert count == 4 * 4
    batches = []
    while (feeds := reader.get_next()) is not None:
        batches.append(feeds)

    before = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(str(smoothed), providers=["CPUExecutionProvider"])
    for feeds in batches:
        np.testing.assert_allclose(
            after.run(None, feeds)[0], before.run(None, feeds)[0], rtol=1e-4, atol=1e-4
        )


def test_a_node_that_is_not_a_weight_matmul_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    source = tmp_path / "source.onnx"
    _one_matmul(source, rng.standard_normal((16, 8)).astype(np.float32))
    with pytest.raises(ValueError, match="missing: not a MatMul"):
        smooth_matmuls(
            source, tmp_path / "out.onnx", ["missing", "product"], CalibrationBatches([]), 0.5
        )

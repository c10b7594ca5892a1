"""Outlier channels split off in fp32 before static int8 (`export.outliers`): the choice by hand,
the split graph computing what the source did, the int8 error it removes, and batch invariance
on the tiny student. Run: pytest tests/test_outliers.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import CalibrationBatches
from modeldistill.export.outliers import outlier_channels, split_outlier_channels


def test_channels_far_above_the_99th_percentile_are_outliers():
    # 99 channels at 1 and one at 10: the 99th percentile (linear) is 1.09, twice that 2.18
    maxima = np.array([1.0] * 99 + [10.0])
    assert outlier_channels(maxima, 2.0) == [99]
    assert outlier_channels(np.array([1.0] * 99 + [2.0]), 2.0) == []
    with pytest.raises(ValueError, match="above 1"):
        outlier_channels(maxima, 1.0)


# Input channels of the one-product graphs: wide enough that the 99th percentile of their maxima
# lies in the bulk, as in a real down-projection (1,536 channels in MiniLM).
WIDTH = 256


def _gelu_fed_matmul(path: Path, rng: np.random.Generator) -> None:
    """x -> Erf -> times 1, channel 3 times 60 -> MatMul -> + bias: a GELU-fed product whose
    input has one outlier channel among WIDTH, as a transformer's down-projection has."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    stretch = np.ones(WIDTH, dtype=np.float32)
    stretch[3] = 60
    initializers = [
        numpy_helper.from_array(stretch, "stretch"),
        numpy_helper.from_array(rng.standard_normal((WIDTH, 8)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("Erf", ["x"], ["erf"], name="erf"),
        helper.make_node("Mul", ["erf", "stretch"], ["h"], name="stretch"),
        helper.make_node("MatMul", ["h", "w"], ["product"], name="product"),
        helper.make_node("Add", ["product", "bias"], ["y"], name="bias_add"),
    ]
    graph = helper.make_graph(
        nodes,
        "gelu-fed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 8])],
        initializers,
    )
    # IR version 8 (opset 17's): the oldest onnxruntime the project supports reads no newer.
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
        str(path),
    )


def _run(path: Path, values: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values})[0]


def test_split_graph_computes_the_same_and_keeps_the_bias_on_the_matmul(tmp_path):
    import onnx

    rng = np.random.default_rng(0)
    source, split = tmp_path / "source.onnx", tmp_path / "split.onnx"
    _gelu_fed_matmul(source, rng)
    split_outlier_channels(source, split, {"product": [3, 0]})
    values = rng.standard_normal((32, WIDTH)).astype(np.float32)
    np.testing.assert_allclose(_run(split, values), _run(source, values), rtol=1e-5, atol=1e-5)
    graph = onnx.load(str(split)).graph
    by_name = {node.name: node for node in graph.node}
    # the MatMul still feeds its bias Add (int8 fuses the two); the fp32 part is added after
    assert by_name["bias_add"].input[0] == "product"
    assert by_name["product_outliers_add"].output[0] == "y"
    weights = {item.name: onnx.numpy_helper.to_array(item) for item in graph.initializer}
    assert not weights["w"][[0, 3]].any() and weights["product_outliers_weight"].shape == (2, 8)


def test_a_split_refuses_what_it_cannot_rewrite(tmp_path):
    source = tmp_path / "source.onnx"
    _gelu_fed_matmul(source, np.random.default_rng(1))
    with pytest.raises(ValueError, match="not a MatMul"):
        split_outlier_channels(source, tmp_path / "out.onnx", {"stretch": [0]})
    with pytest.raises(ValueError, match="0..255"):
        split_outlier_channels(source, tmp_path / "out.onnx", {"product": [WIDTH]})


def test_splitting_cuts_the_int8_error_of_an_outlier_channel(tmp_path):
    from modeldistill.export.onnx import quantize_int8

    rng = np.random.default_rng(2)
    source = tmp_path / "source.onnx"
    _gelu_fed_matmul(source, rng)
    calibration = CalibrationBatches(
        [{"x": rng.standard_normal((64, WIDTH)).astype(np.float32)} for _ in range(4)]
    )
    fresh = rng.standard_normal((256, WIDTH)).astype(np.float32)
    exact = _run(source, fresh)
    errors, records = {}, {}
    for factor in (0.0, 2.0):
        calibration.rewind()
        target = tmp_path / f"int8-{factor}.onnx"
        # a range limit no input exceeds, so that both files quantise the product
        records[factor] = quantize_int8(
            source, target, "static", calibration, gelu_input_range=1000.0, outlier_factor=factor
        )
        errors[factor] = float(np.abs(_run(target, fresh) - exact).mean())
    assert records[0.0]["outlier_channels"] == {}
    assert records[2.0]["outlier_channels"] == {"product": [3]}
    # the other channels span about 2 instead of 120: their uint8 step is 60 times finer
    assert records[2.0]["gelu_input_ranges"]["product"] < 3
    assert errors[2.0] < errors[0.0] / 5


def test_a_split_student_stays_batch_invariant(tiny_bert_dir, tmp_path):
    """Factor 1.01 splits the channels above the 99th percentile of the down-projections' inputs:
    the int8 student then still scores a text alike alone and in a padded batch."""
    import onnxruntime as ort

    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.config import ExportConfig
    from modeldistill.export.export import export_model
    from modeldistill.export.onnx import quantize_int8
    from modeldistill.inference.classifier import Classifier
    from modeldistill.inference.samples import CHECK_TEXTS

    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "fp32", onnx=True))
    target = tmp_path / "int8.onnx"
    record = quantize_int8(
        out / "model.onnx",
        target,
        "static",
        calibration_reader(out, CHECK_TEXTS, 128),
        gelu_input_range=1000.0,
        outlier_factor=1.01,
    )
    split = record["outlier_channels"]
    assert split and all(name.endswith("output/dense/MatMul") for name in split)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    fp32 = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    names = {item.name for item in session.get_inputs()}
    classifier = Classifier.load(out, backend="onnx")
    encodings = classifier.tokenize(CHECK_TEXTS)
    batched, alone = np.zeros((len(encodings), len(classifier.labels)), dtype=np.float32), []
    for rows, feeds in classifier.batches(encodings):
        batched[rows] = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
    for encoding in encodings:
        for _, feeds in classifier.batches([encoding]):
            feeds = {k: v for k, v in feeds.items() if k in names}
            alone.append(session.run(None, feeds)[0])
            exact = fp32.run(None, feeds)[0]
            assert np.abs(alone[-1] - exact).max() < 0.5
    np.testing.assert_allclose(batched, np.concatenate(alone), atol=1e-4)


def _weight_matmuls(path: Path) -> tuple[int, set[str]]:
    """(MatMulIntegerToFloat nodes, names of the fp32 MatMuls with a weight matrix) of a file."""
    import onnx

    graph = onnx.load(str(path)).graph
    constants = {item.name for item in graph.initializer}
    integer = sum(node.op_type == "MatMulIntegerToFloat" for node in graph.node)
    fp32 = {n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in constants}
    return integer, fp32


def test_named_matmuls_stay_fp32_and_unknown_names_are_refused(tiny_bert_dir, tmp_path):
    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.config import ExportConfig
    from modeldistill.export.export import export_model
    from modeldistill.export.onnx import quantize_int8
    from modeldistill.inference.samples import CHECK_TEXTS

    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "fp32", onnx=True))

    def reader():  # quantize_static reads its batches to the end
        return calibration_reader(out, CHECK_TEXTS, 128)

    # a range limit no input exceeds, so that only the named product is left fp32
    everything = quantize_int8(
        out / "model.onnx", tmp_path / "all.onnx", "static", reader(), 1000.0
    )
    integer_all, fp32_all = _weight_matmuls(tmp_path / "all.onnx")
    assert fp32_all == set()
    up = "/bert/encoder/layer.0/intermediate/dense/MatMul"
    record = quantize_int8(
        out / "model.onnx", tmp_path / "kept.onnx", "static", reader(), 1000.0, keep_fp32=[up]
    )
    integer_kept, fp32_kept = _weight_matmuls(tmp_path / "kept.onnx")
    assert fp32_kept == {up}
    assert integer_kept == integer_all - 1
    assert record["quantized_matmuls"] + 1 == everything["quantized_matmuls"]
    with pytest.raises(ValueError, match="not a weight MatMul"):
        quantize_int8(
            out / "model.onnx", tmp_path / "x.onnx", "static", reader(), keep_fp32=["nowhere"]
        )


def test_reduce_range_keeps_per_channel_weights_to_seven_bits(tiny_bert_dir, tmp_path):
    import onnx
    from onnx import numpy_helper

    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.config import ExportConfig
    from modeldistill.export.export import export_model
    from modeldistill.export.onnx import quantize_int8
    from modeldistill.inference.samples import CHECK_TEXTS

    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "fp32", onnx=True))
    largest = {}
    for seven_bit in (None, False):
        target = tmp_path / f"int8-{seven_bit}.onnx"
        record = quantize_int8(
            out / "model.onnx",
            target,
            "static",
            calibration_reader(out, CHECK_TEXTS, 128),
            per_channel=True,
            reduce_range=seven_bit,
        )
        assert record["reduce_range"] is (seven_bit is None)  # None: as per_channel says
        graph = onnx.load(str(target)).graph
        weights = {item.name: numpy_helper.to_array(item) for item in graph.initializer}
        largest[seven_bit] = max(
            int(np.abs(weights[node.input[1]].astype(np.int32)).max())
            for node in graph.node
            if node.op_type == "MatMulIntegerToFloat"
        )
    assert largest[None] <= 64 < largest[False] <= 127

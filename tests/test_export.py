"""`modeldistill export` on the tiny model: files, inference.json, model card, threshold tuning,
bad folders. Run: pytest tests/test_export.py"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from helpers import LABELS
from modeldistill.artifacts import (
    Metrics,
    RunConfig,
    read_inference,
    read_metrics,
    write_metrics,
    write_run_config,
)
from modeldistill.cli import main
from modeldistill.data.config import DataConfig
from modeldistill.errors import UserError
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.inference.classifier import Classifier
from modeldistill.settings import to_jsonable
from modeldistill.train.run import TrainConfig

SCORES = {"precision": 0.5, "recall": 0.4, "f1": 0.444}
METRICS = Metrics(
    model="runs/exp/odd",
    backend="torch",
    split="test",
    num_examples=10,
    accuracy=0.8,
    macro_f1=0.61,
    weighted_f1=0.79,
    per_class={label: {**SCORES, "support": 2} for label in LABELS},
    labels=LABELS,
    confusion_matrix=[[2, 0, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]],
    hate=SCORES,
    parameters=1000,
    size_bytes=4000,
)


def _train_config(**changes) -> TrainConfig:
    settings = {"method": "odd", "teacher": "runs/exp/teacher", "epochs": 3, "batch_size": 8}
    settings |= {"seed": 7, "temperature": 2.0, "class_weighting": "balanced"}
    return TrainConfig(**(settings | {"weight_cosine": 0.5} | changes))


def _trained_folder(source: Path, folder: Path, data: DataConfig) -> Path:
    """The tiny model as training leaves it: metrics.json, run_config.json, the config block."""
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    config["modeldistill"] = {
        "method": "odd",
        "teacher": "runs/exp/teacher",
        "base_model": "embedded:all-MiniLM-L6-v2",
        "layer_map": [1, 3],
        "teacher_layers": 8,
    }
    (folder / "config.json").write_text(json.dumps(config))
    write_run_config(folder, RunConfig(train=_train_config(), data=to_jsonable(data)))
    write_metrics(folder / "metrics.json", METRICS)
    return folder


@pytest.fixture(scope="module")
def trained(tiny_bert_dir, tmp_path_factory) -> Path:
    """A student trained on hate_speech18 (the default data)."""
    folder = tmp_path_factory.mktemp("trained") / "student"
    return _trained_folder(tiny_bert_dir, folder, DataConfig())


def test_export_writes_everything(trained, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out), "--int8", "--name", "tiny"]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {"model.safetensors", "model.onnx", "model.int8.onnx", "config.json"}
    expected |= {"tokenizer.json", "inference.json", "README.md", "metrics.json"}
    assert expected <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl"))]
    info = read_inference(out)
    assert info.threshold == 0.5 and info.toxic_label == "hate" and info.max_length == 128
    assert info.name == "tiny" and len(info.version) == 12
    assert info.checks["onnx"].max_probability_difference < 1e-4
    assert "threshold 0.5000" in capsys.readouterr().out

    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert card.data.datasets == ["hate_speech18"] and card.data.license == "apache-2.0"
    values = {result.metric_name: result.metric_value for result in card.data.eval_results}
    assert values == {"accuracy": 0.8, "macro F1": 0.61, "weighted F1": 0.79, "hate F1": 0.444}
    assert "not insults" in card.text and "Intended use" in card.text
    assert "3 epochs" in card.text and "layers [1, 3] (0-based) of the 8-layer" in card.text
    assert "(class weights: balanced) + 1.0 × KL at temperature T = 2.0" in card.text
    assert "0.5 × cosine" in card.text and "hidden-state" not in card.text

    classifier = Classifier.load(out)
    assert classifier.backend == "onnx-int8" and classifier.metrics == METRICS.to_dict()


@pytest.mark.parametrize("quantization", ["static", "dynamic", "static-gelu-fp32"])
def test_int8_weights_have_one_scale_per_output_channel(trained, tmp_path, quantization):
    """By default every quantised matrix product has one scale per output channel (embedding
    lookups keep one scale per table), static ones 7-bit."""
    import onnx
    from onnx import numpy_helper

    out = tmp_path / "deploy"
    method, _, gelu = quantization.partition("-")
    argv = ["export", str(trained), "--out", str(out), "--int8", "--quantization", method]
    assert main(argv + ["--gelu-input-range", "0"] * bool(gelu)) == 0
    graph = onnx.load(out / "model.int8.onnx").graph
    scales = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    if quantization == "dynamic":
        weights = [n.input[1] for n in graph.node if n.op_type == "MatMulInteger"]
        matmul_scales = [scales[w.removesuffix("_quantized") + "_scale"] for w in weights]
        assert len(matmul_scales) >= 4 * 6 + 2  # 4 layers × 6 products, pooler, classifier
    else:
        # MatMulIntegerToFloat(a, b, a_scale, b_scale, ...), and no QLinearMatMul left: static
        # leaves the attention products in fp32, and with --gelu-input-range 0 the GELU-fed
        # down-projections too, so 5 of each layer's 6 weights; the tiny model's GELU outputs
        # are within the default range: all 6.
        per_layer = 5 if gelu else 6
        ops = [n.op_type for n in graph.node]
        assert "QLinearMatMul" not in ops
        matmul_scales = [
            scales[n.input[3]] for n in graph.node if n.op_type == "MatMulIntegerToFloat"
        ]
        assert len(matmul_scales) == 4 * per_layer
        assert ops.count("MatMul") == 4 * (8 - per_layer)
        quantization = read_inference(out).quantization
        assert quantization.fp32_matmuls == 4 * (8 - per_layer)
        assert quantization.reduce_range is True
        assert len(quantization.gelu_input_ranges) == 4
        # SmoothQuant by default on the inputs not fed by a GELU: Q/K/V, attention output and
        # up-projection of each layer.
        assert (quantization.smoothing_alpha, quantization.smoothed_inputs) == (0.8, 4 * 3)
        assert read_inference(out).checks["onnx-int8"].batch_difference <= 1e-4
        # word, position and token-type embedding tables are int8 too
        assert quantization.quantized_embeddings == 3
    assert all(scale.ndim == 1 and scale.size > 1 for scale in matmul_scales)


@pytest.mark.parametrize("method", ["static", "dynamic"])
def test_no_per_channel_gives_one_scale_per_matrix_and_keeps_batch_invariance(
    trained, tmp_path, method
):
    import onnx
    from onnx import numpy_helper

    out = tmp_path / "deploy"
    argv = ["export", str(trained), "--out", str(out), "--int8", "--quantization", method]
    argv.append("--no-per-channel")
    assert main(argv) == 0
    graph = onnx.load(out / "model.int8.onnx").graph
    scales = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    if method == "static":
        matmul_scales = [
            scales[n.input[3]] for n in graph.node if n.op_type == "MatMulIntegerToFloat"
        ]
        assert read_inference(out).checks["onnx-int8"].batch_difference <= 1e-4
    else:
        weights = [n.input[1] for n in graph.node if n.op_type == "MatMulInteger"]
        matmul_scales = [scales[w.removesuffix("_quantized") + "_scale"] for w in weights]
    assert matmul_scales and all(scale.size == 1 for scale in matmul_scales)
    assert read_inference(out).quantization.per_channel is False


def test_float_output_matmuls_compute_what_qlinearmatmul_computed(tiny_bert_dir, tmp_path):
    """The rewrite of QLinearMatMul -> DequantizeLinear -> Add into MatMulIntegerToFloat keeps
    the graph's results, up to the one uint8 rounding of each product it removes."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from modeldistill.export.calibration import calibration_reader
    from modeldistill.export.onnx import float_output_matmuls
    from modeldistill.inference.samples import CHECK_TEXTS

    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "fp32", onnx=True))
    qlinear, rewritten = tmp_path / "qlinear.onnx", tmp_path / "rewritten.onnx"
    quantize_static(
        str(out / "model.onnx"),
        str(qlinear),
        calibration_reader(out, CHECK_TEXTS, 128),
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["MatMul"],
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    shutil.copyfile(qlinear, rewritten)
    count = float_output_matmuls(rewritten)
    before = sum(n.op_type == "QLinearMatMul" for n in onnx.load(str(qlinear)).graph.node)
    after = [n.op_type for n in onnx.load(str(rewritten)).graph.node]
    assert count == before > 0 and after.count("MatMulIntegerToFloat") == count
    assert "QLinearMatMul" not in after

    classifier = Classifier.load(out, backend="onnx")
    sessions = [ort.InferenceSession(str(p)) for p in (out / "model.onnx", qlinear, rewritten)]
    names = {item.name for item in sessions[0].get_inputs()}
    for _, feeds in classifier.batches(classifier.tokenize(CHECK_TEXTS)):
        feeds = {key: value for key, value in feeds.items() if key in names}
        fp32, old, new = (session.run(None, feeds)[0] for session in sessions)
        assert np.abs(new - old).max() < 0.05
        # one rounding fewer: at least as close to fp32
        assert np.abs(new - fp32).mean() <= np.abs(old - fp32).mean() * 1.05


def test_export_with_data_calibrates_on_training_texts_and_fits_a_temperature(
    trained, tmp_path, small_csv, capsys
):
    from modeldistill.data.splits import load_splits
    from modeldistill.evaluate.calibration import fit_temperature

    out = tmp_path / "deploy"
    argv = ["export", str(trained), "--out", str(out), "--int8", "--data", str(small_csv)]
    assert main([*argv, "--stratify", "--calibration-texts", "20"]) == 0
    info = read_inference(out)
    assert info.quantization.method == "static" and info.quantization.calibration_texts == 20
    assert "training split of" in info.quantization.calibration_source
    fit = info.temperature_fit
    assert fit.backend == "onnx-int8" and fit.target == "validation labels"
    assert fit.nll_after <= fit.nll_before
    assert f"temperature {info.temperature:.4f}" in capsys.readouterr().out

    # The recorded temperature is the one that fits the deployed backend's validation logits.
    splits = load_splits(DataConfig(data=str(small_csv), stratify=True))
    classifier = Classifier.load(out)
    logits = classifier.text_logits(list(splits.validation["text"]))
    expected = fit_temperature(logits, np.array(splits.validation["label"]))
    assert info.temperature == pytest.approx(expected, rel=1e-3)

    metrics = read_metrics(out / "metrics.json")
    assert metrics.ece is not None and sum(row.count for row in metrics.reliability) == (
        metrics.num_examples
    )
    assert metrics.ece_uncalibrated is not None


def test_export_never_destroys_an_existing_folder(trained, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out), "--onnx"]) == 0
    assert (out / "model.onnx").is_file()
    before = read_inference(out).exported_at
    assert main(["export", str(trained), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "already holds files" in error and "--overwrite" in error
    assert (out / "model.onnx").is_file() and read_inference(out).exported_at == before

    assert main(["export", str(trained), "--out", str(out), "--overwrite"]) == 0
    # The old folder is replaced whole: no stale ONNX file beside the new weights.
    assert not (out / "model.onnx").exists()
    assert Classifier.load(out).backend == "torch"
    # Written beside --out and renamed into place: nothing of the staging folders is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_export_needs_out(trained, capsys):
    assert main(["export", str(trained)]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_a_failed_export_leaves_the_previous_folder(trained, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out)]) == 0
    before = (out / "inference.json").read_bytes()
    # A missing tuning dataset fails after the weights were written (into the staging folder).
    argv = ["export", str(trained), "--out", str(out), "--overwrite", "--data", "nowhere.csv"]
    assert main(argv) == 2
    assert (out / "inference.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy"]


def _relabelled(trained: Path, folder: Path, labels: list[str]) -> Path:
    """The tiny model with other label names (the head keeps its size), without the hate_speech18
    run's files."""
    shutil.copytree(trained, folder)
    for stale in ("run_config.json", "metrics.json"):
        (folder / stale).unlink()
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = dict(enumerate(labels))
    config["label2id"] = {label: index for index, label in enumerate(labels)}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_positive_label_of_a_task_without_hate(trained, tmp_path, capsys):
    labels = ["praise", "complaint", "question", "other"]
    model = _relabelled(trained, tmp_path / "reviews", labels)
    out = tmp_path / "deploy"
    assert main(["export", str(model), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "--positive-label" in error and "praise, complaint, question, other" in error
    assert len(error.strip().splitlines()) == 1 and not out.exists()

    argv = ["export", str(model), "--out", str(out), "--positive-label", "complaint"]
    argv += ["--task-title", "shop reviews", "--positive-meaning", "the customer reports a problem"]
    assert main(argv) == 0
    info = read_inference(out)
    assert info.toxic_label == "complaint" and info.task_title == "shop reviews"
    classifier = Classifier.load(out)
    assert classifier.task == {
        "title": "shop reviews",
        "positive_label": "complaint",
        "positive_meaning": "the customer reports a problem",
        "hate_speech": False,
    }
    assert classifier.describe()["task"] == classifier.task
    card = (out / "README.md").read_text()
    assert "classifier for shop reviews" in card and "nan" not in card
    assert "hate" not in card.lower() and "toxic" not in card.lower()
    # The old flag name still works.
    again = tmp_path / "again"
    assert main(["export", str(model), "--out", str(again), "--toxic-label", "question"]) == 0
    assert read_inference(again).toxic_label == "question"


def test_threshold_maximises_validation_hate_f1(trained, tmp_path, small_csv):
    from modeldistill.data.config import DataConfig
    from modeldistill.data.splits import load_splits

    out = tmp_path / "deploy"
    argv = ["export", str(trained), "--out", str(out), "--data", str(small_csv), "--stratify"]
    assert main(argv) == 0
    info = read_inference(out)
    assert "validation split" in info.threshold_source

    validation = load_splits(DataConfig(data=str(small_csv), stratify=True)).validation
    truth = np.array(validation["label"]) == 1
    classifier = Classifier.load(out)
    scores = np.array([p.scores["hate"] for p in classifier.predict(list(validation["text"]))])
    chosen = f1_score(truth, scores >= info.threshold)
    assert chosen == pytest.approx(info.validation["hate_f1_at_threshold"], abs=1e-4)
    # No cut between the observed scores does better.
    for cut in np.unique(scores):
        assert f1_score(truth, scores >= cut) <= chosen + 1e-9


def test_bad_model_folders_exit_2(trained, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["export", str(tmp_path / "nowhere"), "--out", out]) == 2
    assert "not found" in capsys.readouterr().err

    pickled = tmp_path / "pickled"
    shutil.copytree(trained, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    assert main(["export", str(pickled), "--out", out]) == 2
    assert "pytorch_model.bin is pickle" in capsys.readouterr().err

    mismatched = tmp_path / "mismatched"
    shutil.copytree(trained, mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    config["id2label"], config["label2id"] = {"0": "a", "1": "b"}, {"a": 0, "b": 1}
    (mismatched / "config.json").write_text(json.dumps(config))
    assert main(["export", str(mismatched), "--out", out]) == 2
    assert "2 labels but the classifier head has 4" in capsys.readouterr().err

    assert main(["export", str(trained), "--out", str(trained)]) == 2
    assert main(["export", str(trained), "--out", out, "--toxic-label", "spam"]) == 2
    error = capsys.readouterr().err
    assert "'spam' is not one of the model's labels" in error and "--positive-label" in error


def test_bench_measures_every_backend(trained, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out), "--int8"]) == 0
    report = tmp_path / "bench.json"
    argv = ["bench", "--model", str(out), "--calls", "3", "--warmup", "1", "--out", str(report)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert table.count("| deploy |") == 6  # 3 backends x 2 batch sizes
    rows = json.loads(report.read_text())["results"]
    assert {(r["backend"], r["batch_size"]) for r in rows} == {
        (b, n) for b in ("torch", "onnx", "onnx-int8") for n in (1, 32)
    }
    assert all(r["p50_ms"] > 0 and r["p95_ms"] >= r["p50_ms"] for r in rows)
    assert all(r["tokenize_p50_ms"] > 0 for r in rows)  # on the tiny model it can exceed p50
    assert all(r["agreement"] == 1.0 for r in rows if r["backend"] != "onnx-int8")
    sizes = {r["backend"]: r["size_mb"] for r in rows}
    assert sizes["onnx-int8"] < sizes["onnx"]
    assert main(["bench", "--model", str(tmp_path / "nowhere")]) == 2


def test_bench_times_every_model_in_turn_round_by_round(trained, tmp_path, monkeypatch):
    from modeldistill.inference import bench

    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out), "--int8"]) == 0
    timed = []
    real = bench._time_calls

    def recording(classifier, texts, batch, first, count):
        timed.append((classifier.backend, batch, first, count))
        return real(classifier, texts, batch, first, count)

    monkeypatch.setattr(bench, "_time_calls", recording)
    config = bench.BenchConfig(
        backends=["onnx", "onnx-int8"], batch_sizes=[2], calls=5, warmup=1, rounds=2
    )
    report = bench.run_bench([out], config)
    # Warm-up of each, then round 1 (2 calls each, in turn), then round 2 (the other 3).
    assert timed == [
        ("onnx", 2, 0, 1),
        ("onnx-int8", 2, 0, 1),
        ("onnx", 2, 1, 2),
        ("onnx-int8", 2, 1, 2),
        ("onnx", 2, 3, 3),
        ("onnx-int8", 2, 3, 3),
    ]
    assert all(row["texts_per_s"] > 0 for row in report["results"])
    assert bench.BenchConfig(calls=3).rounds == 3


def test_int8_only_export_card_metrics_are_reproduced_by_evaluate(
    trained, small_csv, tmp_path, capsys
):
    """What ships in models/default: int8 only, with test metrics measured on that backend, which
    `modeldistill evaluate` on the folder then reproduces exactly."""
    out = tmp_path / "shipped"
    data = ["--data", str(small_csv), "--stratify"]
    assert main(["export", str(trained), "--out", str(out), "--int8", "--no-keep-fp32", *data]) == 0
    names = {p.name for p in out.iterdir()}
    assert "model.int8.onnx" in names
    assert "model.safetensors" not in names and "model.onnx" not in names
    card_metrics = read_metrics(out / "metrics.json").to_dict()
    assert card_metrics["backend"] == "onnx-int8" and card_metrics["split"] == "test"
    assert card_metrics["parameters"] > 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "test", "--json", *data]) == 0
    measured = json.loads(capsys.readouterr().out)
    for key in (
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "confusion_matrix",
        "per_class",
        "parameters",
    ):
        assert measured[key] == card_metrics[key], key
    from huggingface_hub import ModelCard

    values = {
        r.metric_name: r.metric_value for r in ModelCard.load(out / "README.md").data.eval_results
    }
    assert values["macro F1"] == measured["macro_f1"]


def test_card_of_a_csv_run_names_the_csv_and_nothing_of_hate_speech18(
    tiny_bert_dir, small_csv, tmp_path
):
    """The bug this guards: the run's data block (a mapping) was taken for a path, so the card's
    dataset read `small.csv', 'protocol': ...}`."""
    from huggingface_hub import ModelCard

    trained = _trained_folder(tiny_bert_dir, tmp_path / "csv-run", DataConfig(data=str(small_csv)))
    out = tmp_path / "deploy"
    assert main(["export", str(trained), "--out", str(out)]) == 0
    card = ModelCard.load(out / "README.md")
    assert card.data.datasets == ["small.csv"]
    assert {r.dataset_name for r in card.data.eval_results} == {"small.csv"}
    assert "hate_speech18" not in card.content and "hate-speech" not in card.data.tags
    assert "classifier for the labels of small.csv" in card.text


def test_impossible_flags_fail_before_any_work(trained, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["export", str(trained), "--out", str(out), "--no-keep-fp32"]) == 2
    assert "--no-keep-fp32 needs --int8" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(UserError, match="--opset"):
        ExportConfig(out=out, opset=99)
    assert ExportConfig(out=out, int8=True).onnx  # int8 is quantised from the fp32 graph

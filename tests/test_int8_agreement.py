"""scripts/int8_agreement.py: how often an int8 file gives its fp32 graph's verdict, per source."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import load_script
from modeldistill.artifacts import read_inference
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits, model_inputs
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.inference import Classifier


def test_agreement_counts_the_verdicts_both_files_give(tiny_bert_dir, tmp_path, small_csv):
    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "deploy", int8=True))
    data = DataConfig(data=[str(small_csv)], stratify=True)
    script = load_script("int8_agreement")
    figures = script.agreement(out, script.ScoredRows.of(out, data, "test"))

    texts = model_inputs(load_splits(data)["test"])
    fp32, int8 = (
        Classifier.load(out, backend=backend).predict(texts) for backend in ("onnx", "onnx-int8")
    )
    same = np.mean([a.toxic == b.toxic for a, b in zip(fp32, int8, strict=True)])
    deltas = [abs(a.scores["hate"] - b.scores["hate"]) for a, b in zip(fp32, int8, strict=True)]
    threshold = read_inference(out).threshold
    near = np.mean([abs(a.scores["hate"] - threshold) < 0.01 for a in fp32])
    assert figures == {
        "all": {
            "rows": len(texts),
            "agreement": pytest.approx(same),
            "max_abs_delta": pytest.approx(max(deltas), abs=1e-6),
            "mean_abs_delta": pytest.approx(np.mean(deltas), abs=1e-6),
            "near_threshold": pytest.approx(near),
        }
    }
    assert max(deltas) > 0  # the int8 rounding shows


def test_a_folder_without_both_files_is_refused_by_name(tiny_bert_dir, tmp_path, monkeypatch):
    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "deploy", onnx=True))
    script = load_script("int8_agreement")
    monkeypatch.setattr("sys.argv", ["int8_agreement.py", str(out), "--data", "x.csv"])
    with pytest.raises(SystemExit) as exit_info:
        script.main()
    assert exit_info.value.code == 2


def test_screen_parses_variants_and_refuses_unknown_settings():
    variant_of = load_script("int8_screen").Variant.parse
    variant = variant_of("mixed:keep=a;b,reduce_range=0,texts=64,alpha=0.5")
    assert (variant.name, variant.keep, variant.reduce_range, variant.texts) == (
        "mixed",
        ["a", "b"],
        False,
        64,
    )
    assert variant.alpha == 0.5
    assert variant_of("default").keep == []
    with pytest.raises(ValueError, match="unknown variant setting"):
        variant_of("x:bits=4")
    with pytest.raises(ValueError, match="0 or 1"):
        variant_of("x:reduce_range=yes")


def test_screen_default_is_the_export_and_a_kept_product_changes_it(
    tiny_bert_dir, tmp_path, small_csv
):
    """The default variant quantises as `export --int8` did (same figures as the export's own
    file); keeping a product in fp32 gives other int8 scores."""
    data = DataConfig(data=[str(small_csv)], stratify=True)
    config = ExportConfig(out=tmp_path / "deploy", int8=True, data=data.data)
    out = export_model(tiny_bert_dir, config, data)
    screen, scoring = load_script("int8_screen"), load_script("int8_agreement")
    splits = load_splits(data)
    rows = scoring.ScoredRows.of(out, data, "test")
    exported = scoring.agreement(out, rows)
    fp32 = scoring.Verdicts.of(out, "onnx", rows.texts)
    variant = screen.Variant(name="default")
    default = screen.screen(out, splits, rows, fp32, variant, tmp_path / "kept")
    assert default == exported
    assert (tmp_path / "kept" / "default" / "model.int8.onnx").is_file()
    kept = screen.Variant(name="kept", keep=["/bert/encoder/layer.0/intermediate/dense/MatMul"])
    assert screen.screen(out, splits, rows, fp32, kept)["all"] != exported["all"]

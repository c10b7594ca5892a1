"""scripts/int8_agreement.py: how often an int8 file gives its fp32 graph's verdict, per source."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import load_script
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits, model_inputs
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.inference import Classifier


def test_agreement_counts_the_verdicts_both_files_give(tiny_bert_dir, tmp_path, small_csv):
    out = export_model(tiny_bert_dir, ExportConfig(out=tmp_path / "deploy", int8=True))
    data = DataConfig(data=[str(small_csv)], stratify=True)
    figures = load_script("int8_agreement").agreement(out, data, "test")

    texts = model_inputs(load_splits(data)["test"])
    fp32, int8 = (
        Classifier.load(out, backend=backend).predict(texts) for backend in ("onnx", "onnx-int8")
    )
    same = np.mean([a.toxic == b.toxic for a, b in zip(fp32, int8, strict=True)])
    deltas = [abs(a.scores["hate"] - b.scores["hate"]) for a, b in zip(fp32, int8, strict=True)]
    assert figures == {
        "all": {
            "rows": len(texts),
            "agreement": pytest.approx(same),
            "max_abs_delta": pytest.approx(max(deltas), abs=1e-6),
            "mean_abs_delta": pytest.approx(np.mean(deltas), abs=1e-6),
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

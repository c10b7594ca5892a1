"""The typed files between stages: each round-trips through its writer and reader, carries its
format number, and a folder from an older release is read as it was or refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modeldistill.artifacts import (
    INFERENCE_FORMAT,
    METRICS_FORMAT,
    RUN_CONFIG_FORMAT,
    SplitMetrics,
    read_inference,
    read_metrics,
    read_run_config,
    write_inference,
    write_metrics,
    write_run_config,
)
from modeldistill.errors import UserError
from modeldistill.paths import REPO_ROOT

SHIPPED = REPO_ROOT / "models" / "hate_speech18"
# models/hate_speech18's artifacts as the release before format numbers wrote them (kept here:
# the shipped folder has since been written by this release).
LEGACY = Path(__file__).resolve().parent / "data" / "legacy"


@pytest.fixture()
def legacy(tmp_path):
    """models/hate_speech18's artifacts as the release before format numbers wrote them."""
    for name in ("inference.json", "metrics.json", "run_config.json"):
        shutil.copyfile(LEGACY / name, tmp_path / name)
        assert "format" not in json.loads((tmp_path / name).read_text())
    return tmp_path


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_folder_without_format_numbers_reads_as_it_was_written(legacy):
    assert read_metrics(legacy / "metrics.json").to_dict() == _json(legacy / "metrics.json")
    assert read_inference(legacy).to_dict() == _json(legacy / "inference.json")
    run = read_run_config(legacy)
    assert run.to_dict() == _json(legacy / "run_config.json")
    assert run.train.method == "odd" and run.train.temperature == 2.0 and run.train.epochs == 10
    assert run.data_source() == "../shared/data/hate_speech18"


def test_writers_add_the_format_number_and_readers_give_back_the_same_objects(legacy, tmp_path):
    out = tmp_path / "new"
    metrics, info, run = (
        read_metrics(legacy / "metrics.json"),
        read_inference(legacy),
        read_run_config(legacy),
    )
    write_metrics(out / "metrics.json", metrics)
    write_inference(out, info)
    write_run_config(out, run)
    for name, number in (
        ("metrics.json", METRICS_FORMAT),
        ("inference.json", INFERENCE_FORMAT),
        ("run_config.json", RUN_CONFIG_FORMAT),
    ):
        written = _json(out / name)
        assert written.pop("format") == number
        assert written == _json(legacy / name), name  # same keys, same order, same values
    assert read_metrics(out / "metrics.json") == metrics
    assert read_inference(out) == info
    assert read_run_config(out) == run


def test_per_source_metrics_are_written_only_when_present(legacy, tmp_path):
    metrics = read_metrics(legacy / "metrics.json")
    assert metrics.by_source == {} and "by_source" not in metrics.to_dict()
    part = SplitMetrics.model_validate(
        {k: v for k, v in metrics.to_dict().items() if k in SplitMetrics.model_fields}
    )
    metrics.by_source = {"forum": part}
    write_metrics(tmp_path / "m.json", metrics)
    assert read_metrics(tmp_path / "m.json").by_source["forum"] == part


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("metrics.json", {"format": 99}, "format 99, newer than this modeldistill reads"),
        ("metrics.json", {"format": "1"}, "not a format number"),
        ("metrics.json", {"accuracy": "high"}, "accuracy: Input should be a valid number"),
        ("metrics.json", {"recall_at_k": 0.3}, "recall_at_k: Extra inputs are not permitted"),
        ("inference.json", {"threshold": 1.5}, "threshold: Input should be less than or equal"),
        ("inference.json", {"format": 2}, "upgrade modeldistill"),
        (
            "run_config.json",
            {"train": {"method": "odd", "dropout": 0.3}},
            r"\['dropout'\] are unknown",
        ),
        ("run_config.json", {"train": {"method": "odd"}}, "needs --teacher"),
        ("run_config.json", {"seeds": [1, 2]}, r"unknown keys \['seeds'\]"),
    ],
)
def test_files_this_release_cannot_read_are_refused_by_name(legacy, name, change, message):
    path = legacy / name
    path.write_text(json.dumps(_json(path) | change))
    with pytest.raises(UserError, match=message) as error:
        if name == "metrics.json":
            read_metrics(path)
        elif name == "inference.json":
            read_inference(legacy)
        else:
            read_run_config(legacy)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_folder_without_the_optional_files_reads_as_none(tmp_path):
    assert read_inference(tmp_path) is None and read_run_config(tmp_path) is None
    (tmp_path / "inference.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="does not hold a JSON object"):
        read_inference(tmp_path)


def test_reading_artifacts_loads_neither_torch_nor_transformers():
    """The ONNX serving path reads inference.json and metrics.json; it must stay light."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from modeldistill import inference, artifacts; "
        "artifacts.read_run_config(Path(sys.argv[1])); "
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code, str(SHIPPED)], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"

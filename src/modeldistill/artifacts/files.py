"""The writers and readers of the typed files: one of each per file, a format number on every
JSON file, and one-line UserErrors that name the file and say what to do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modeldistill.artifacts.schemas import (
    CHECK_FORMAT,
    INFERENCE_FILE,
    INFERENCE_FORMAT,
    METRICS_FORMAT,
    RUN_CONFIG_FILE,
    RUN_CONFIG_FORMAT,
    TRAIN_LOG_FILE,
    CheckSummary,
    EpochRecord,
    InferenceSettings,
    Metrics,
    RunConfig,
)
from modeldistill.errors import UserError
from modeldistill.train.config import TrainConfig

Model = TypeVar("Model", bound=BaseModel)


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object, or a UserError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return data


def write_json_object(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _write(path: Path, format_number: int, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_object(path, {"format": format_number, **payload})
    return path


def _payload(path: Path, current: int, remedy: str) -> dict[str, Any]:
    """The file's content without its format number, once the number is one this release reads."""
    data = read_json_object(path)
    number = data.pop("format", 0)  # no number: written before formats were numbered
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise UserError(f"{path} has format {number!r}, which is not a format number; {remedy}")
    if number > current:
        raise UserError(
            f"{path} has format {number}, newer than this modeldistill reads (up to {current}): "
            "upgrade modeldistill, or " + remedy
        )
    return data


def _validate(cls: type[Model], path: Path, data: dict[str, Any], remedy: str) -> Model:
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise UserError(
            f"{path} is not a {cls.__name__} file that this release reads ({where}: {first['msg']}"
            f"{'' if error.error_count() == 1 else f'; {error.error_count() - 1} more'}); {remedy}"
        ) from None


def write_metrics(path: Path, metrics: Metrics) -> Path:
    """Write metrics.json (a file path: `evaluate --output` may name any file)."""
    return _write(path, METRICS_FORMAT, metrics.to_dict())


def read_metrics(path: Path) -> Metrics:
    remedy = f"measure it again with `modeldistill evaluate MODEL --output {path}` (or delete it)"
    return _validate(Metrics, path, _payload(path, METRICS_FORMAT, remedy), remedy)


def write_check(path: Path, summary: CheckSummary) -> Path:
    """Write a check result (a file path: `check --out` may name any file)."""
    return _write(path, CHECK_FORMAT, summary.to_dict())


def read_check(path: Path) -> CheckSummary | None:
    if not path.is_file():
        return None
    remedy = f"run the check again with `modeldistill check MODEL --out {path}` (or delete it)"
    return _validate(CheckSummary, path, _payload(path, CHECK_FORMAT, remedy), remedy)


def write_inference(folder: Path, settings: InferenceSettings) -> Path:
    return _write(folder / INFERENCE_FILE, INFERENCE_FORMAT, settings.to_dict())


def read_inference(folder: Path) -> InferenceSettings | None:
    """The folder's inference settings, or None if it has no inference.json (a trained folder)."""
    path = folder / INFERENCE_FILE
    if not path.is_file():
        return None
    remedy = "export the model again with `modeldistill export`"
    return _validate(InferenceSettings, path, _payload(path, INFERENCE_FORMAT, remedy), remedy)


def append_epoch(folder: Path, record: EpochRecord) -> Path:
    """Add one epoch's line to the folder's train_log.jsonl (lines carry no format number: the
    file is read whole by `read_train_log`, and an older line has the same keys)."""
    path = folder / TRAIN_LOG_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record.to_dict()) + "\n")
    return path


def read_train_log(folder: Path) -> list[EpochRecord]:
    """The epochs of the folder's train_log.jsonl in order ([] when it has none)."""
    path = folder / TRAIN_LOG_FILE
    if not path.is_file():
        return []
    remedy = "delete it (reports then omit the training curve) or train the model again"
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path} line {number} is not JSON ({error.msg}); {remedy}") from None
        if not isinstance(payload, dict):
            raise UserError(f"{path} line {number} is not a JSON object; {remedy}")
        records.append(_validate(EpochRecord, path, payload, remedy))
    return records


def write_run_config(folder: Path, run: RunConfig) -> Path:
    return _write(folder / RUN_CONFIG_FILE, RUN_CONFIG_FORMAT, run.to_dict())


def read_run_config(folder: Path) -> RunConfig | None:
    """The settings the model in `folder` was trained with, or None if it has no run_config.json."""
    path = folder / RUN_CONFIG_FILE
    if not path.is_file():
        return None
    remedy = "delete it (the model card then omits the training settings) or train the model again"
    data = _payload(path, RUN_CONFIG_FORMAT, remedy)
    train, block = data.pop("train", None), data.pop("data", None)
    seconds = data.pop("train_seconds", None)
    if data or not isinstance(train, dict) or not isinstance(block, dict):
        raise UserError(
            f"{path} is not a RunConfig file that this release reads (it needs `train` and `data` "
            f"objects{f', and has unknown keys {sorted(data)}' if data else ''}); {remedy}"
        )
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(train) - fields)
    if unknown:
        raise UserError(f"{path}: train settings {unknown} are unknown to this release; {remedy}")
    try:
        config = TrainConfig(**train)
    except (UserError, TypeError) as error:
        raise UserError(f"{path}: {error}; {remedy}") from None
    if seconds is not None and not isinstance(seconds, (int, float)):
        raise UserError(f"{path}: train_seconds must be a number; {remedy}")
    return RunConfig(train=config, data=block, train_seconds=seconds)

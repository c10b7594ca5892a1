"""Export a trained model folder for deployment: safetensors, ONNX, int8 ONNX, threshold, card.

    modeldistill export runs/exp/odd --out models/default --onnx --int8 --data hate_speech18_dir

Writes into --out: `model.safetensors` + `config.json` + tokenizer files (always), `model.onnx`
(--onnx) and `model.int8.onnx` (--int8, int8 quantisation of the fp32 graph, so it also writes
model.onnx: static, calibrated on training texts, or --quantization dynamic), `inference.json`
(toxic threshold, temperature, max length, labels, name, version, quantisation) and a model card
`README.md`. With --data a temperature is fitted on that dataset's validation split, and then the
P(hate) threshold that maximises hate-vs-rest F1 on the calibrated scores; without it the
temperature is 1 and the threshold 0.5.

ONNX uses torch's TorchScript exporter (`dynamo=False`): it is in torch itself and runs offline,
while the torch.export-based default needs the separate onnxscript package; the tests check the
graph against PyTorch to 1e-4 on padded batches of varying shape.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modeldistill import __version__
from modeldistill.artifacts import (
    CHECK_FILE,
    METRICS_FILE,
    RUN_CONFIG_FILE,
    TRAIN_LOG_FILE,
    CheckSummary,
    InferenceSettings,
    Metrics,
    Quantization,
    read_check,
    read_json_object,
    read_metrics,
    read_run_config,
    write_check,
    write_inference,
    write_json_object,
    write_metrics,
)
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.errors import UserError
from modeldistill.evaluate.calibration import fit_folder_temperature
from modeldistill.evaluate.evaluate import evaluate_folder
from modeldistill.evaluate.metrics import count_parameters
from modeldistill.evaluate.threshold import tune_threshold
from modeldistill.export.calibration import calibration_reader, calibration_texts
from modeldistill.export.config import ExportConfig
from modeldistill.export.modelcard import render_model_card, write_model_card
from modeldistill.export.onnx import export_onnx, quantize_int8
from modeldistill.export.verify import self_check
from modeldistill.inference.backends import safetensors_head_size
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.folder import DEFAULT_THRESHOLD, labels_from_config
from modeldistill.labels import HATE as TOXIC_LABEL
from modeldistill.labels import positive_label
from modeldistill.text import TextPrep

log = logging.getLogger(__name__)

# Files of a trained folder that travel with the export (the weights are re-saved, not copied).
CARRIED_FILES = (METRICS_FILE, RUN_CONFIG_FILE, TRAIN_LOG_FILE)


def export_model(
    model_dir: str | Path,
    config: ExportConfig,
    data: DataConfig | None = None,
) -> Path:
    """Write the deployable folder (see module docstring) into `config.out` and return it.

    `data` gives the split settings of the dataset that tunes the threshold (use the training
    run's, so that validation is the same rows); by default `config.data` with the default split.
    """
    model_dir, final_dir = Path(model_dir), Path(config.out)
    if data is None and config.data:
        data = DataConfig(data=config.data)
    model_config = _check_model_dir(model_dir)
    if final_dir.resolve() == model_dir.resolve():
        raise UserError("--out must differ from the model folder (export writes a new folder)")
    labels = labels_from_config(model_config, model_dir)
    positive = positive_label(config.positive_label, labels)
    _check_out(final_dir, config.overwrite)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    # Everything is written beside --out and renamed into place at the end, so that a failed or
    # interrupted export leaves the previous folder (or none) rather than half of a new one.
    out_dir = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", dir=final_dir.parent))
    try:
        _write_folder(
            model_dir, out_dir, final_dir.name, config, data, model_config, labels, positive
        )
        _publish(out_dir, final_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return final_dir


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(
            f"--out {out} already holds files: name a new folder, or add --overwrite to replace it"
        )


def _publish(staged: Path, out: Path) -> None:
    """Readable files (0644, folders 0755: the weights were written 0600) renamed into place."""
    for path in [staged, *staged.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    previous = None
    if out.exists():
        previous = out.with_name(f".{out.name}.previous-{os.getpid()}")
        out.rename(previous)
    try:
        staged.rename(out)
    except OSError:
        if previous is not None:
            previous.rename(out)
        raise
    if previous is not None:
        shutil.rmtree(previous)


def _write_folder(
    model_dir: Path,
    out_dir: Path,
    name: str,
    config: ExportConfig,
    data: DataConfig | None,
    model_config: dict[str, Any],
    labels: list[str],
    positive: str,
) -> None:
    """The deployable folder's files, written into `out_dir` (named `name` once in place)."""
    model, tokenizer = _load(model_dir)
    model.save_pretrained(out_dir)  # safetensors only: transformers 5 no longer writes pickles
    tokenizer.save_pretrained(out_dir)
    if config.deobfuscate:
        record_deobfuscation(out_dir)
    for file in CARRIED_FILES:
        if (model_dir / file).is_file():
            shutil.copyfile(model_dir / file, out_dir / file)

    # Loaded once: on several sources the build (reading, de-duplication) takes a while.
    splits = load_splits(data) if data is not None else None
    data_name = None if data is None else ", ".join(data.data)
    if config.onnx:
        export_onnx(model, out_dir / "model.onnx", config.opset)
    quantization = None
    if config.int8:
        quantization = quantize_folder(out_dir, config, splits, data_name)

    info = InferenceSettings(
        threshold=DEFAULT_THRESHOLD,
        toxic_label=positive,
        max_length=config.max_length,
        labels=labels,
        name=config.name or name,
        version=_digest(out_dir / "model.safetensors"),
        threshold_source="default (no validation data given)",
        source_model=str(model_dir),
        data=data_name,
        exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        modeldistill_version=__version__,
        task_title=config.task_title,
        positive_meaning=config.positive_meaning,
        quantization=quantization,
    )
    # Written now so that the self-check and the tuning load the folder as users will.
    write_inference(out_dir, info)

    info.checks = self_check(out_dir, config.onnx, config.int8)
    if splits is not None:
        calibrate(out_dir, info, splits)
    info.parameters = count_parameters(out_dir)
    if not config.keep_fp32:
        for file in ("model.safetensors", "model.onnx"):
            (out_dir / file).unlink()
    write_inference(out_dir, info)
    metrics_path = out_dir / METRICS_FILE
    if splits is not None:
        metrics, check = measure(out_dir, info, splits, run_the_check=positive == TOXIC_LABEL)
    else:
        metrics = read_metrics(metrics_path) if metrics_path.is_file() else None
        check = read_check(out_dir / CHECK_FILE)
    card = render_model_card(
        out_dir, model_config, info, metrics, read_run_config(model_dir), check
    )
    write_model_card(out_dir, card)


def record_deobfuscation(folder: Path) -> None:
    """Switch de-obfuscation on in the folder's config.json: serving then undoes the keyboard
    tricks (lookalike letters, bidi overrides, leetspeak) that would otherwise hide a text from
    the model, and every backend applies it."""
    saved = read_json_object(folder / "config.json")
    block = saved.setdefault("modeldistill", {})
    block["text_prep"] = TextPrep.from_dict(block.get("text_prep")).with_deobfuscation().to_dict()
    write_json_object(folder / "config.json", saved)


def calibrate(folder: Path, info: InferenceSettings, splits: Any) -> None:
    """Fit the temperature of the folder's deployed backend on the validation split of `splits`,
    then tune the threshold on the scaled scores users will get; both go into `info` and the
    folder's inference.json."""
    # The fit starts from the unscaled model, whatever an earlier fit left in the folder.
    info.temperature = 1.0
    write_inference(folder, info)
    info.temperature, info.temperature_fit = fit_folder_temperature(
        folder, splits, info.data, info.toxic_label
    )
    write_inference(folder, info)
    info.threshold, info.threshold_source, info.validation = tune_threshold(
        folder, splits, info.data, info.toxic_label
    )
    write_inference(folder, info)


def measure(
    folder: Path, info: InferenceSettings, splits: Any, run_the_check: bool
) -> tuple[Metrics, CheckSummary | None]:
    """The folder's test metrics (metrics.json) and, with `run_the_check`, its behavioural check
    (check.json, sentences left out), measured on the backend a user of the folder gets, so that
    `modeldistill evaluate` and `check` on the folder reproduce the card exactly."""
    metrics = evaluate_folder(folder, splits, "test")
    metrics.model = info.name
    write_metrics(folder / METRICS_FILE, metrics)
    check = read_check(folder / CHECK_FILE)
    if run_the_check:
        from modeldistill.check.run import run_check

        full = run_check(Classifier.load(folder))
        check = full.model_copy(update={"model": info.name, "sentences": None})
        write_check(folder / CHECK_FILE, check)
    return metrics, check


def quantize_folder(
    out_dir: Path, config: ExportConfig, splits: Any, data_name: str | None
) -> Quantization:
    """Write model.int8.onnx from the folder's model.onnx by `config.quantization`; what was
    done, and which texts calibrated it (static only)."""
    source, target = out_dir / "model.onnx", out_dir / "model.int8.onnx"
    if config.quantization == "dynamic":
        return Quantization(
            **quantize_int8(source, target, "dynamic", per_channel=config.per_channel)
        )
    texts, where = calibration_texts(splits, data_name, config.calibration_texts)
    reader = calibration_reader(out_dir, texts, config.max_length)
    record = quantize_int8(
        source,
        target,
        "static",
        reader,
        config.gelu_input_range,
        config.per_channel,
        config.smoothing_alpha,
        config.outlier_factor,
    )
    return Quantization(**record, calibration_texts=len(texts), calibration_source=where)


def _check_model_dir(model_dir: Path) -> dict[str, Any]:
    """config.json, safetensors weights and a head that matches the labels, or a UserError."""
    if not model_dir.is_dir():
        raise UserError(f"model folder not found: {model_dir}")
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir} has no config.json; is it a model folder?")
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        pickles = [p.name for p in model_dir.glob("*.bin")] + [
            p.name for p in model_dir.glob("*.pt")
        ]
        extra = f" ({', '.join(pickles)} is pickle, which is never loaded)" if pickles else ""
        raise UserError(f"{model_dir} has no model.safetensors{extra}")
    config = read_json_object(model_dir / "config.json")
    labels = labels_from_config(config, model_dir)
    head = safetensors_head_size(weights)
    if head is not None and head != len(labels):
        raise UserError(
            f"{model_dir}/config.json names {len(labels)} labels but the classifier head has {head}"
        )
    return config


def _load(model_dir: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
        # Eager attention traces to plain ops that every ONNX Runtime build runs.
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, use_safetensors=True, attn_implementation="eager"
        ).eval()
    except (OSError, ValueError, RuntimeError) as error:
        raise UserError(f"cannot load {model_dir}: {str(error).splitlines()[0]}") from error
    return model, tokenizer


def _digest(path: Path) -> str:
    """A short content hash of the weights: the version that the API and logs report."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:12]

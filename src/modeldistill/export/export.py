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
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modeldistill import __version__
from modeldistill.artifacts import (
    CHECK_FILE,
    METRICS_FILE,
    RUN_CONFIG_FILE,
    TRAIN_LOG_FILE,
    InferenceSettings,
    Metrics,
    Quantization,
    read_check,
    read_json_object,
    read_metrics,
    read_run_config,
    write_check,
    write_inference,
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
from modeldistill.export.modelcard import render_model_card, write_model_card
from modeldistill.export.onnx import QUANTIZATION_METHODS, export_onnx, quantize_int8
from modeldistill.export.verify import self_check
from modeldistill.inference.backends import BACKEND_FILES, safetensors_head_size
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.folder import DEFAULT_MAX_LENGTH, DEFAULT_THRESHOLD, labels_from_config
from modeldistill.labels import DEFAULT_TOXIC_LABEL
from modeldistill.labels import HATE as TOXIC_LABEL
from modeldistill.settings import option, require

log = logging.getLogger(__name__)

# Files of a trained folder that travel with the export (the weights are re-saved, not copied).
CARRIED_FILES = (METRICS_FILE, RUN_CONFIG_FILE, TRAIN_LOG_FILE)


@dataclass
class ExportConfig:
    out: Path = option(Path("models/default"), "folder to write the deployable model to")
    onnx: bool = option(False, "also write model.onnx (fp32, dynamic batch and sequence axes)")
    int8: bool = option(False, "also write model.int8.onnx (int8; implies --onnx)")
    quantization: str = option(
        "static",
        "int8 method: static (activation scales calibrated on training texts, so a text's scores "
        "do not depend on its batch) or dynamic (scales per batch, the earlier method)",
        choices=list(QUANTIZATION_METHODS),
    )
    quantize_gelu_inputs: bool = option(
        False,
        "static int8: also quantise the GELU-fed feed-forward down-projections (about dynamic's "
        "speed; on MiniLM less close to fp32, so check `checks` in inference.json)",
    )
    calibration_texts: int = option(
        512, "training texts that calibrate static int8 (drawn from the --data training split)"
    )
    data: list[str] = option(
        [],
        "dataset whose validation split fits the temperature and tunes the P(hate) threshold, and "
        "whose training split calibrates static int8 (repeat the flag, or give a "
        "recipe file, for several sources: the same --data as training)",
        repeat=True,
    )
    max_length: int = option(
        DEFAULT_MAX_LENGTH, "tokens per text at inference; longer is truncated"
    )
    name: str | None = option(None, "model name shown by the API (default: the --out folder name)")
    opset: int = option(17, "ONNX opset version")
    toxic_label: str = option(DEFAULT_TOXIC_LABEL, "label whose probability decides 'toxic'")
    keep_fp32: bool = option(
        True,
        "keep model.safetensors and model.onnx beside model.int8.onnx (--no-keep-fp32 ships int8 only)",
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        require(
            8 <= self.max_length <= 4096, f"--max-length must be 8..4096, got {self.max_length}"
        )
        require(11 <= self.opset <= 21, f"--opset must be 11..21, got {self.opset}")
        require(
            self.quantization in QUANTIZATION_METHODS,
            f"--quantization must be one of {', '.join(QUANTIZATION_METHODS)}",
        )
        require(self.calibration_texts >= 1, "--calibration-texts must be at least 1")
        require(
            self.keep_fp32 or self.int8,
            "--no-keep-fp32 needs --int8: something must be left to serve",
        )
        self.onnx = self.onnx or self.int8  # int8 is quantised from the fp32 graph


def export_model(
    model_dir: str | Path,
    config: ExportConfig,
    data: DataConfig | None = None,
) -> Path:
    """Write the deployable folder (see module docstring) into `config.out` and return it.

    `data` gives the split settings of the dataset that tunes the threshold (use the training
    run's, so that validation is the same rows); by default `config.data` with the default split.
    """
    model_dir, out_dir = Path(model_dir), config.out
    if data is None and config.data:
        data = DataConfig(data=config.data)
    model_config = _check_model_dir(model_dir)
    if out_dir.resolve() == model_dir.resolve():
        raise UserError("--out must differ from the model folder (export writes a new folder)")
    labels = labels_from_config(model_config, model_dir)
    if config.toxic_label not in labels:
        raise UserError(
            f"toxic label {config.toxic_label!r} is not one of the model's labels {labels}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*BACKEND_FILES.values(), "inference.json"):
        (out_dir / stale).unlink(missing_ok=True)

    model, tokenizer = _load(model_dir)
    model.save_pretrained(out_dir)  # safetensors only: transformers 5 no longer writes pickles
    tokenizer.save_pretrained(out_dir)
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
        quantization = _quantize(out_dir, config, splits, data_name)

    info = InferenceSettings(
        threshold=DEFAULT_THRESHOLD,
        toxic_label=config.toxic_label,
        max_length=config.max_length,
        labels=labels,
        name=config.name or out_dir.resolve().name,
        version=_digest(out_dir / "model.safetensors"),
        threshold_source="default (no validation data given)",
        source_model=str(model_dir),
        data=data_name,
        exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        modeldistill_version=__version__,
        quantization=quantization,
    )
    # Written now so that the self-check and the tuning load the folder as users will.
    write_inference(out_dir, info)

    info.checks = self_check(out_dir, config.onnx, config.int8)
    if splits is not None:
        # Temperature first: the threshold is then tuned on the scores users will get.
        info.temperature, info.temperature_fit = fit_folder_temperature(
            out_dir, splits, info.data, config.toxic_label
        )
        write_inference(out_dir, info)
        info.threshold, info.threshold_source, info.validation = tune_threshold(
            out_dir, splits, info.data, config.toxic_label
        )
    info.parameters = count_parameters(out_dir)
    if not config.keep_fp32:
        for file in ("model.safetensors", "model.onnx"):
            (out_dir / file).unlink()
    write_inference(out_dir, info)
    metrics_path = out_dir / METRICS_FILE
    metrics: Metrics | None = None
    if splits is not None:
        # The card's figures are those of the backend a user of this folder gets, so that
        # `modeldistill evaluate` on the folder reproduces them exactly.
        metrics = evaluate_folder(out_dir, splits, "test")
        metrics.model = info.name
        write_metrics(metrics_path, metrics)
    elif metrics_path.is_file():
        metrics = read_metrics(metrics_path)
    check = read_check(out_dir / CHECK_FILE)
    if data is not None and config.toxic_label == TOXIC_LABEL:
        # The behavioural check of the folder as shipped, for the card (sentences left out).
        from modeldistill.check.run import run_check

        full = run_check(Classifier.load(out_dir))
        check = full.model_copy(update={"model": info.name, "sentences": None})
        write_check(out_dir / CHECK_FILE, check)
    card = render_model_card(
        out_dir, model_config, info, metrics, read_run_config(model_dir), check
    )
    write_model_card(out_dir, card)
    return out_dir


def _quantize(
    out_dir: Path, config: ExportConfig, splits: Any, data_name: str | None
) -> Quantization:
    """Write model.int8.onnx from model.onnx by `config.quantization`; what was done, and which
    texts calibrated it (static only)."""
    source, target = out_dir / "model.onnx", out_dir / "model.int8.onnx"
    if config.quantization == "dynamic":
        return Quantization(**quantize_int8(source, target, "dynamic"))
    texts, where = calibration_texts(splits, data_name, config.calibration_texts)
    reader = calibration_reader(out_dir, texts, config.max_length)
    record = quantize_int8(source, target, "static", reader, config.quantize_gelu_inputs)
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

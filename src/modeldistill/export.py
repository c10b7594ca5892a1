"""Export a trained model folder for deployment: safetensors, ONNX, int8 ONNX, threshold, card.

    modeldistill export runs/exp/odd --out models/default --onnx --int8 --data hate_speech18_dir

Writes into --out: `model.safetensors` + `config.json` + tokenizer files (always), `model.onnx`
(--onnx) and `model.int8.onnx` (--int8, dynamic int8 quantisation of the fp32 graph, so it also
writes model.onnx), `inference.json` (toxic threshold, max length, labels, name, version) and a
model card `README.md`. With --data the P(hate) threshold maximises hate-vs-rest F1 on that
dataset's validation split; without it the threshold is 0.5.

ONNX uses torch's TorchScript exporter (`dynamo=False`): it is in torch itself and runs offline,
while the torch.export-based default needs the separate onnxscript package; the tests check the
graph against PyTorch to 1e-4 on padded batches of varying shape.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modeldistill import __version__
from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args, option, require
from modeldistill.data import DataConfig, load_splits
from modeldistill.errors import UserError
from modeldistill.evaluate import count_parameters, evaluate_folder
from modeldistill.inference import (
    BACKEND_FILES,
    DEFAULT_MAX_LENGTH,
    DEFAULT_THRESHOLD,
    DEFAULT_TOXIC_LABEL,
    Classifier,
    _labels,
    _read_json,
    _safetensors_head_size,
)

log = logging.getLogger(__name__)

# Files of a trained folder that travel with the export (the weights are re-saved, not copied).
CARRIED_FILES = ("metrics.json", "run_config.json", "train_log.jsonl")
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EMBEDDED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
# Texts for the export's self-check of ONNX and int8 against PyTorch (and bench without --data).
CHECK_TEXTS = [
    "I like this forum, the people here are friendly.",
    "They are vermin and should all be kicked out of the country.",
    "Not sure what this post is about.",
    "As he said above, they do that every time.",
    "Those people are subhuman and deserve nothing.",
    "The weather is nice today, see you at the meeting.",
    "Whatever.",
    "Our heritage is worth celebrating with our families this weekend.",
    "Send them all back where they came from, we do not want them here.",
    "Thanks for the link, I will read the article tonight.",
    "This thread is a mess, can a moderator lock it?",
    "Same as the post before.",
]


@dataclass
class ExportConfig:
    out: Path = option(Path("models/default"), "folder to write the deployable model to")
    onnx: bool = option(False, "also write model.onnx (fp32, dynamic batch and sequence axes)")
    int8: bool = option(False, "also write model.int8.onnx (dynamic int8; implies --onnx)")
    data: str | None = option(None, "dataset whose validation split tunes the P(hate) threshold")
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
        require(
            8 <= self.max_length <= 4096, f"--max-length must be 8..4096, got {self.max_length}"
        )
        require(11 <= self.opset <= 21, f"--opset must be 11..21, got {self.opset}")


def export_model(
    model_dir: str | Path,
    out_dir: str | Path,
    onnx: bool = True,
    int8: bool = True,
    data: str | Path | DataConfig | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    name: str | None = None,
    opset: int = 17,
    toxic_label: str = DEFAULT_TOXIC_LABEL,
    keep_fp32: bool = True,
) -> Path:
    """Write the deployable folder (see module docstring) and return its path. `data` is a dataset
    path or a DataConfig (use the training run's split settings, so validation is the same rows)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    config = _check_model_dir(model_dir)
    if out_dir.resolve() == model_dir.resolve():
        raise UserError("--out must differ from the model folder (export writes a new folder)")
    onnx = onnx or int8
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*BACKEND_FILES.values(), "inference.json"):
        (out_dir / stale).unlink(missing_ok=True)

    model, tokenizer = _load(model_dir)
    model.save_pretrained(out_dir)  # safetensors only: transformers 5 no longer writes pickles
    tokenizer.save_pretrained(out_dir)
    for file in CARRIED_FILES:
        if (model_dir / file).is_file():
            shutil.copyfile(model_dir / file, out_dir / file)

    checks: dict[str, Any] = {}
    if onnx:
        _export_onnx(model, out_dir / "model.onnx", opset)
    if int8:
        _quantize(out_dir / "model.onnx", out_dir / "model.int8.onnx")

    labels = _labels(config, model_dir)
    if toxic_label not in labels:
        raise UserError(f"toxic label {toxic_label!r} is not one of the model's labels {labels}")
    info: dict[str, Any] = {
        "threshold": DEFAULT_THRESHOLD,
        "toxic_label": toxic_label,
        "max_length": max_length,
        "labels": labels,
        "name": name or out_dir.resolve().name,
        "version": _digest(out_dir / "model.safetensors"),
        "threshold_source": "default (no validation data given)",
        "source_model": str(model_dir),
        "data": None if data is None else str(getattr(data, "data", data)),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "modeldistill_version": __version__,
    }
    _write_json(out_dir / "inference.json", info)

    checks.update(_self_check(out_dir, onnx, int8))
    info["checks"] = checks
    if data is not None:
        info.update(tune_threshold(out_dir, data, toxic_label))
    info["parameters"] = count_parameters(out_dir)
    if not keep_fp32:
        if not int8:
            raise UserError("--no-keep-fp32 needs --int8: something must be left to serve")
        for file in ("model.safetensors", "model.onnx"):
            (out_dir / file).unlink()
    _write_json(out_dir / "inference.json", info)
    if data is not None:
        # The card's figures are those of the backend a user of this folder gets, so that
        # `modeldistill evaluate` on the folder reproduces them exactly.
        config_data = data if isinstance(data, DataConfig) else DataConfig(data=str(data))
        metrics = evaluate_folder(out_dir, load_splits(config_data), "test")
        metrics["model"] = info["name"]
        _write_json(out_dir / "metrics.json", metrics)
    metrics = _read_json(out_dir / "metrics.json") if (out_dir / "metrics.json").is_file() else None
    _write_model_card(out_dir, config, info, metrics, model_dir)
    return out_dir


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
    config = _read_json(model_dir / "config.json")
    labels = _labels(config, model_dir)
    head = _safetensors_head_size(weights)
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


def _export_onnx(model: Any, path: Path, opset: int) -> None:
    import inspect

    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    names = [name for name in ONNX_INPUTS if name in accepted]
    # A padded example, so the trace keeps the attention-mask path that real batches take.
    ids = torch.full((2, 8), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python conditions on shapes that are constant for BERT encoders;
        # the parity tests are the check that the graph generalises.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(example[name] for name in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic quantisation: int8 weights, activations quantised per batch, no calibration data.
    # One scale per output channel instead of per matrix: on the shipped student it raised label
    # agreement with fp32 from 97.5% to 99.5% of validation texts at the same size and speed.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def _self_check(out_dir: Path, onnx: bool, int8: bool) -> dict[str, Any]:
    """How far each ONNX file is from PyTorch on CHECK_TEXTS (recorded, and logged if large)."""
    import numpy as np

    if not onnx:
        return {}
    reference = Classifier.load(out_dir, backend="torch").predict(CHECK_TEXTS)
    checks = {}
    for backend in ("onnx", "onnx-int8") if int8 else ("onnx",):
        got = Classifier.load(out_dir, backend=backend).predict(CHECK_TEXTS)
        diff = max(
            float(np.max(np.abs(np.array(list(a.scores.values())) - list(b.scores.values()))))
            for a, b in zip(reference, got, strict=True)
        )
        agree = sum(a.label == b.label for a, b in zip(reference, got, strict=True))
        checks[backend] = {
            "max_probability_difference": round(diff, 6),
            "label_agreement": round(agree / len(CHECK_TEXTS), 4),
            "texts": len(CHECK_TEXTS),
        }
        if backend == "onnx" and diff > 1e-3:
            log.warning("model.onnx differs from PyTorch by %.2g in probability", diff)
    return checks


def tune_threshold(
    model_dir: Path, data: str | Path | DataConfig, toxic_label: str
) -> dict[str, Any]:
    """The P(toxic_label) threshold with the best toxic-vs-rest F1 on the validation split."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    from modeldistill.data import DataConfig, load_splits, model_inputs

    classifier = Classifier.load(model_dir)  # the backend that will be deployed: its probabilities
    config = data if isinstance(data, DataConfig) else DataConfig(data=str(data))
    data = config.data
    splits = load_splits(config)
    validation = splits.validation
    if len(validation) == 0:
        raise UserError(f"{data} has an empty validation split; cannot tune the threshold")
    if toxic_label not in splits.labels:
        raise UserError(f"{data} has no {toxic_label!r} label (labels: {splits.labels})")
    truth = np.array(validation["label"]) == splits.labels.index(toxic_label)
    if not truth.any():
        raise UserError(f"the validation split of {data} has no {toxic_label!r} rows")
    texts = model_inputs(validation)
    scores = np.array([p.scores[toxic_label] for p in classifier.predict(texts)])
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    # The curve's last point (recall 0) has no threshold; F1 is 0 where precision+recall is 0.
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )[:-1]
    best = int(np.argmax(f1))
    at_default = ((scores >= DEFAULT_THRESHOLD) & truth).sum()
    default_f1 = 2 * at_default / max(1, (scores >= DEFAULT_THRESHOLD).sum() + truth.sum())
    return {
        "threshold": float(thresholds[best]),  # unrounded: rounding could move it past a score
        "threshold_source": (
            f"max {toxic_label}-vs-rest F1 on the validation split of {data} "
            f"({len(texts)} texts, {classifier.backend} backend)"
        ),
        "validation": {
            "texts": len(texts),
            "positives": int(truth.sum()),
            f"{toxic_label}_f1_at_threshold": round(float(f1[best]), 4),
            f"{toxic_label}_precision_at_threshold": round(float(precision[best]), 4),
            f"{toxic_label}_recall_at_threshold": round(float(recall[best]), 4),
            f"{toxic_label}_f1_at_0.5": round(float(default_f1), 4),
        },
    }


def _digest(path: Path) -> str:
    """A short content hash of the weights: the version that the API and logs report."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:12]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _run_config(model_dir: Path) -> dict[str, Any]:
    """The resolved config training wrote next to the model, or {} if it did not come along."""
    path = model_dir / "run_config.json"
    return _read_json(path) if path.is_file() else {}


def _base_model(config: dict[str, Any], model_dir: Path) -> str | None:
    """The pre-trained model everything started from (a student's teacher was fine-tuned from it)."""
    block = config.get("modeldistill") if isinstance(config.get("modeldistill"), dict) else {}
    run = _run_config(model_dir).get("train", {})
    base = block.get("base_model") or run.get("base_model")
    if not base:
        return None
    return EMBEDDED_BASE if str(base).startswith("embedded:") else str(base)


def _dataset_name(data: str | None, model_dir: Path) -> str:
    run = _run_config(model_dir)
    source = data or run.get("data") or "hate_speech18"
    return "hate_speech18" if "hate_speech18" in str(source) else Path(str(source)).name


def _training_summary(model_dir: Path, block: dict[str, Any]) -> str:
    """How the model was trained, from the resolved config written next to it."""
    run = _run_config(model_dir).get("train", {})
    if not run:
        return "No run_config.json came with the model, so its training is not described here."
    parts = [
        f"`modeldistill train --method {run.get('method', '?')}`: {run.get('epochs', '?')} epochs, "
        f"learning rate {run.get('learning_rate', '?')}, batch {run.get('batch_size', '?')}, "
        f"seed {run.get('seed', '?')}"
    ]
    if block.get("layer_map"):
        parts.append(
            f"layers {block['layer_map']} (0-based) of the {block.get('teacher_layers', '?')}-layer "
            f"fine-tuned teacher `{block.get('teacher', '?')}`"
        )
    if run.get("method") not in (None, "teacher", "lora"):
        parts.append(
            f"loss = {run.get('weight_classification')} × cross-entropy ("
            f"class weights: {run.get('class_weighting')}) + {run.get('weight_divergence')} × KL at "
            f"temperature T = {run.get('temperature')} (× T²) + {run.get('weight_cosine')} × cosine"
            + (f" + {run['weight_hidden']} × hidden-state MSE" if run.get("weight_hidden") else "")
        )
    if run.get("method") == "lora":
        parts.append(
            f"LoRA rank {run.get('lora_r')}, alpha {run.get('lora_alpha')} on "
            f"{', '.join(run.get('lora_targets') or [])}, merged into the weights"
        )
    if block.get("best_epoch"):
        parts.append(f"kept epoch {block['best_epoch']} (best validation macro-F1)")
    return "; ".join(parts) + ". The full settings are in `run_config.json`."


def _write_model_card(
    out_dir: Path,
    config: dict[str, Any],
    info: dict[str, Any],
    metrics: dict[str, Any] | None,
    model_dir: Path,
) -> None:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    dataset = _dataset_name(info.get("data"), model_dir)
    results = []
    if metrics:
        split = str(metrics.get("split", "test"))
        common = {
            "task_type": "text-classification",
            "dataset_type": dataset,
            "dataset_name": dataset,
            "dataset_split": split,
        }
        for key, kind, label in (
            ("accuracy", "accuracy", "accuracy"),
            ("macro_f1", "f1", "macro F1"),
            ("weighted_f1", "f1", "weighted F1"),
        ):
            if isinstance(metrics.get(key), (int, float)):
                results.append(
                    EvalResult(
                        metric_type=kind, metric_name=label, metric_value=metrics[key], **common
                    )
                )
        hate = metrics.get("hate")
        if isinstance(hate, dict) and isinstance(hate.get("f1"), (int, float)):
            results.append(
                EvalResult(
                    metric_type="f1", metric_name="hate F1", metric_value=hate["f1"], **common
                )
            )
    block = config.get("modeldistill") if isinstance(config.get("modeldistill"), dict) else {}
    card_data = ModelCardData(
        model_name=info["name"],
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["hate-speech", "modeldistill", *(["distillation"] if block.get("method") else [])],
        base_model=_base_model(config, model_dir),
        datasets=[dataset],
        eval_results=results or None,
    )
    labels = ", ".join(f"`{label}`" for label in info["labels"])
    files = [f for f in ("model.safetensors", *BACKEND_FILES.values()) if (out_dir / f).is_file()]
    if metrics:
        backend = metrics.get("backend", "torch")
        hate_f1 = (metrics.get("hate") or {}).get("f1", float("nan"))
        measured = (
            f"On the {metrics.get('split', 'test')} split ({metrics.get('num_examples', '?')} "
            f"texts): accuracy {metrics.get('accuracy', float('nan')):.4f}, macro-F1 "
            f"{metrics.get('macro_f1', float('nan')):.4f}, hate-vs-rest F1 {hate_f1:.4f} "
            f"(argmax labels); measured by `modeldistill evaluate` with the `{backend}` backend"
            + (" of this folder." if backend != "torch" else ", before export.")
        )
    else:
        measured = "No metrics.json came with the model, so no test metrics are reported here."
    body = f"""
# {info["name"]}

A {config.get("num_hidden_layers", "?")}-layer BERT text classifier for hate speech in English
white-supremacist forum posts (the hate_speech18 dataset), exported by modeldistill
{__version__}{f" (method: {block['method']})" if block.get("method") else ""}.

## Intended use
Flagging forum posts that attack people for who they are (race, religion, origin, sexual
orientation...), for a human moderator to review. The model says "toxic" when
P(`{info["toxic_label"]}`) is at least {info["threshold"]:.4f}.

## Limits
- It knows forum hate speech in English as annotated in hate_speech18: not insults, profanity or
  harassment in general, not other languages, not other platforms' styles. Expect errors on irony,
  quotes of hateful text and dialects.
- Texts longer than {info["max_length"]} tokens are truncated (the API marks them `truncated`).
- It is an aid to moderators, not a decision maker; do not use it alone to sanction people.

## Labels
{labels}. `idk/skip` and `relation` are the dataset's "annotators could not tell" and "hate only in
the context of other sentences" classes.

## Threshold
{info["threshold"]:.4f}: {info["threshold_source"]}.

## Training
{_training_summary(model_dir, block)}

## How it was measured
{measured}

## Files
{", ".join(f"`{f}`" for f in files)}; `inference.json` holds the threshold, labels and max length.
Load with `modeldistill.inference.Classifier.load(folder)` or `modeldistill predict --model folder`.
"""
    card = ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")
    card.save(out_dir / "README.md")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="trained model folder (teacher, student, LoRA)")
    add_config_arguments(parser, ExportConfig)
    # The split flags of `modeldistill data`, so --data gives the validation rows training saw.
    group = parser.add_argument_group("validation split (with --data)")
    add_config_arguments(group, DataConfig, skip=("data", "max_length"))


def main(args: argparse.Namespace) -> int:
    config = from_args(ExportConfig, args)
    out = export_model(
        args.model,
        config.out,
        onnx=config.onnx,
        int8=config.int8,
        data=None if config.data is None else from_args(DataConfig, args, data=config.data),
        max_length=config.max_length,
        name=config.name,
        opset=config.opset,
        toxic_label=config.toxic_label,
        keep_fp32=config.keep_fp32,
    )
    info = _read_json(out / "inference.json")
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    print(f"exported {args.model} -> {out}: {', '.join(files)}")
    print(f"threshold {info['threshold']:.4f} ({info['threshold_source']})")
    for backend, check in info.get("checks", {}).items():
        print(
            f"{backend}: max |p - p_torch| {check['max_probability_difference']:.2g}, "
            f"label agreement {check['label_agreement']:.0%} on {check['texts']} texts"
        )
    return 0

"""`modeldistill export MODEL --out DIR [--onnx] [--int8] [--data PATH ...]`: a deployable folder.

The work (`export.export`, which loads torch) is imported once the flags are read."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from modeldistill.artifacts import read_inference
from modeldistill.data.config import DataConfig
from modeldistill.export.config import ExportConfig
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="trained model folder (teacher, student, LoRA)")
    add_config_arguments(parser, ExportConfig)
    # The flag's first name, from when every model was a hate-speech one: still works.
    parser.add_argument("--toxic-label", dest="positive_label", help=argparse.SUPPRESS)
    # The split flags of `modeldistill data`, so --data gives the validation rows training saw.
    group = parser.add_argument_group("validation split (with --data)")
    add_config_arguments(group, DataConfig, skip=("data", "max_length"))


def main(args: argparse.Namespace) -> int:
    config = from_args(ExportConfig, args)
    data = None
    if config.data:
        data = from_args(DataConfig, args, data=config.data).as_model_was_trained(args.model)
    from modeldistill.export.export import export_model

    out = export_model(args.model, config, data)
    info = read_inference(out)
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    print(f"exported {args.model} -> {out}: {', '.join(files)}")
    print(f"threshold {info.threshold:.4f} ({info.threshold_source})")
    if info.temperature_fit is not None:
        fit = info.temperature_fit
        print(
            f"temperature {info.temperature:.4f} (NLL of the {fit.target}: {fit.nll_before:.4f} "
            f"-> {fit.nll_after:.4f}; ECE of P({info.toxic_label}) {fit.ece_before:.4f} -> "
            f"{fit.ece_after:.4f}, {fit.texts} validation texts)"
        )
    if info.quantization is not None:
        quantization = info.quantization
        print(
            f"int8: {quantization.method} quantisation"
            + (
                f", calibrated on {quantization.calibration_source}"
                * bool(quantization.calibration_source)
            )
        )
    for backend, check in (info.checks or {}).items():
        print(
            f"{backend}: max |p - p_torch| {check.max_probability_difference:.2g}, "
            f"label agreement {check.label_agreement:.0%} on {check.texts} texts, "
            f"max |p alone - p in a batch| {check.batch_difference:.2g}"
        )
    return 0

"""Screen static int8 variants of one exported folder against its fp32 graph, per source.

    python scripts/int8_screen.py runs/general-repro/seed1234/export --data recipes/general.yaml \
        --split validation --variant default \
        --variant "layer0-up-fp32:keep=/bert/encoder/layer.0/intermediate/dense/MatMul" \
        --variant "8-bit-weights:reduce_range=0" --variant "2048-texts:texts=2048"

Each variant quantises the folder's model.onnx as `modeldistill export --int8` does (the same
calibration texts of --data's training split), with one change, into a scratch copy of the folder,
and scores it as scripts/int8_agreement.py does (at the folder's threshold and temperature).
A variant is NAME or NAME:KEY=VALUE[,...]: keep (a weight MatMul left fp32; repeat with `;`),
reduce_range (0 or 1), texts (calibration texts), alpha (SmoothQuant), outlier_factor,
gelu_input_range, per_channel (0 or 1). Printed: verdict flips and mean |ΔP| per source. Choose
variants on the validation split; the test split is for the one chosen.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# int8_agreement.py's own count, so that both scripts count a verdict the same way (a sibling
# script: importable because Python puts the script's folder first on sys.path)
from int8_agreement import ScoredRows, Verdicts, agreement

from modeldistill.artifacts import read_inference
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.export.calibration import calibration_reader, calibration_texts
from modeldistill.export.config import (
    GELU_INPUT_RANGE,
    OUTLIER_FACTOR,
    PER_CHANNEL,
    SMOOTHING_ALPHA,
    ExportConfig,
)
from modeldistill.export.onnx import quantize_int8
from modeldistill.settings import add_arguments, from_args


@dataclass
class Variant:
    name: str
    keep: list[str] = field(default_factory=list)
    reduce_range: bool | None = None
    texts: int = ExportConfig.calibration_texts
    alpha: float = SMOOTHING_ALPHA
    outlier_factor: float = OUTLIER_FACTOR
    gelu_input_range: float = GELU_INPUT_RANGE
    per_channel: bool = PER_CHANNEL

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, settings = text.partition(":")
        variant = cls(name=name)
        for item in filter(None, settings.split(",")):
            key, _, value = item.partition("=")
            if key == "keep":
                variant.keep = value.split(";")
            elif key in ("reduce_range", "per_channel"):
                if value not in ("0", "1"):
                    raise ValueError(f"{key} takes 0 or 1, not {value!r}")
                setattr(variant, key, value == "1")
            elif key == "texts":
                variant.texts = int(value)
            elif key in ("alpha", "outlier_factor", "gelu_input_range"):
                setattr(variant, key, float(value))
            else:
                raise ValueError(f"unknown variant setting {key!r} in {text!r}")
        return variant


def screen(
    folder: Path,
    splits: dict,
    rows: ScoredRows,
    fp32: Verdicts,
    variant: Variant,
    save: Path | None = None,
) -> dict:
    """int8_agreement's figures for `folder` quantised as `variant` says, calibrated on `splits`'
    training texts and scored on `rows` against `fp32` (the folder's fp32 verdicts on them); with
    `save`, the variant's folder is kept as save/NAME (for `modeldistill bench`)."""
    info = read_inference(folder)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / folder.name
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns("model.safetensors"))
        texts, _ = calibration_texts(splits, None, variant.texts)
        quantize_int8(
            work / "model.onnx",
            work / "model.int8.onnx",
            "static",
            calibration_reader(work, texts, info.max_length),
            variant.gelu_input_range,
            variant.per_channel,
            variant.alpha,
            variant.outlier_factor,
            keep_fp32=variant.keep,
            reduce_range=variant.reduce_range,
        )
        figures = agreement(work, rows, fp32)
        if save is not None:
            shutil.copytree(work, save / variant.name, dirs_exist_ok=True)
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="exported folder with model.onnx (--keep-fp32)")
    parser.add_argument("--split", default="validation", choices=["validation", "test"])
    parser.add_argument(
        "--variant", action="append", required=True, help="NAME[:KEY=VALUE,...], repeatable"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--save", type=Path, help="keep each variant's folder here as NAME/, to bench them"
    )
    add_arguments(parser, DataConfig)
    args = parser.parse_args()
    if not args.data:
        parser.error("--data is required: the data the model was trained on")
    if not (args.folder / "model.onnx").is_file():
        parser.error(f"{args.folder} lacks model.onnx: export with --int8 --keep-fp32")
    try:
        variants = [Variant.parse(text) for text in args.variant]
    except ValueError as error:
        parser.error(str(error))
    splits = load_splits(from_args(DataConfig, args).as_model_was_trained(args.folder))
    rows = ScoredRows.of_dataset(splits[args.split])
    fp32 = Verdicts.of(args.folder, "onnx", rows.texts)  # once: every variant shares the graph
    results = {}
    for variant in variants:
        try:
            results[variant.name] = screen(args.folder, splits, rows, fp32, variant, args.save)
        except ValueError as error:  # a keep that names no weight MatMul
            parser.error(str(error))
    sources = list(next(iter(results.values())))
    print(f"| {args.split}: flips / rows, mean abs dP | " + " | ".join(sources) + " |")
    print("|---|" + "---:|" * len(sources))
    for name, figures in results.items():
        cells = [
            f"{round(row['rows'] * (1 - row['agreement']))} / {row['rows']:,}, "
            f"{row['mean_abs_delta']:.4f}"
            for row in figures.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

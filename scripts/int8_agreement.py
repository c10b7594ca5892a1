"""How often the int8 file of an exported folder gives the verdict its fp32 graph gives, per source.

    python scripts/int8_agreement.py runs/general/seed1234/export-fp32 --data recipes/general-next.yaml

The folder must hold both `model.onnx` and `model.int8.onnx` (`modeldistill export --int8
--keep-fp32`). Both are scored as served (text preparation, windows, temperature, threshold) on a
split of --data; printed per source: label agreement at the folder's threshold, the largest and
the mean |ΔP(hate)|, and the share of texts whose fp32 P(hate) lies within 0.01 of the threshold
(the texts that the smallest rounding can flip). #18 asks for ≥ 99% on every source's test split.
--json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from modeldistill.artifacts import read_inference
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits, model_inputs
from modeldistill.inference.classifier import Classifier
from modeldistill.settings import add_arguments, from_args

# How close to the threshold an fp32 score counts as "near" it.
NEAR_THRESHOLD = 0.01


def _verdicts(folder: Path, backend: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    classifier = Classifier.load(folder, backend=backend)
    predictions = classifier.predict(texts)
    toxic = classifier.toxic_label
    return (
        np.array([p.toxic for p in predictions]),
        np.array([p.scores[toxic] for p in predictions]),
    )


def agreement(folder: Path, data: DataConfig, split: str) -> dict[str, dict[str, float]]:
    splits = load_splits(data.as_model_was_trained(folder))
    dataset = splits[split]
    texts = model_inputs(dataset)
    fp32_flag, fp32_p = _verdicts(folder, "onnx", texts)
    int8_flag, int8_p = _verdicts(folder, "onnx-int8", texts)
    sources = np.array(dataset["source"]) if "source" in dataset.column_names else None
    groups = {"all": np.ones(len(texts), dtype=bool)}
    if sources is not None:
        groups |= {name: sources == name for name in dict.fromkeys(sources.tolist())}
    near = np.abs(fp32_p - read_inference(folder).threshold) < NEAR_THRESHOLD
    figures = {}
    for name, rows in groups.items():
        delta = np.abs(fp32_p[rows] - int8_p[rows])
        figures[name] = {
            "rows": int(rows.sum()),
            "agreement": float((fp32_flag[rows] == int8_flag[rows]).mean()),
            "max_abs_delta": float(delta.max()),
            "mean_abs_delta": float(delta.mean()),
            "near_threshold": float(near[rows].mean()),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", type=Path, help="exported folder with model.onnx and model.int8.onnx"
    )
    parser.add_argument("--split", default="test", choices=["validation", "test"])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    add_arguments(parser, DataConfig)  # --data and the split settings, as `evaluate` takes them
    args = parser.parse_args()
    if not args.data:
        parser.error("--data is required: the data the model was trained on")
    missing = [f for f in ("model.onnx", "model.int8.onnx") if not (args.folder / f).is_file()]
    if missing:
        parser.error(f"{args.folder} lacks {', '.join(missing)}: export with --int8 --keep-fp32")
    figures = agreement(args.folder, from_args(DataConfig, args), args.split)
    print(
        f"| {args.split} split | rows | int8 = fp32 verdict | max abs dP | mean abs dP "
        f"| fp32 P within {NEAR_THRESHOLD} of the threshold |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in figures.items():
        print(
            f"| {name} | {row['rows']:,} | {100 * row['agreement']:.2f}% "
            f"| {row['max_abs_delta']:.3f} | {row['mean_abs_delta']:.4f} "
            f"| {100 * row['near_threshold']:.2f}% |"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

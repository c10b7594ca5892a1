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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modeldistill.artifacts import read_inference
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits, model_inputs
from modeldistill.inference.classifier import Classifier
from modeldistill.settings import add_arguments, from_args

# How close to the threshold an fp32 score counts as "near" it.
NEAR_THRESHOLD = 0.01


@dataclass(frozen=True)
class ScoredRows:
    """One split's texts as served, and the source of each (None for a single-source file)."""

    texts: list[str]
    sources: np.ndarray | None

    @classmethod
    def of_dataset(cls, dataset) -> ScoredRows:
        sources = dataset["source"] if "source" in dataset.column_names else None
        return cls(model_inputs(dataset), None if sources is None else np.array(sources))

    @classmethod
    def of(cls, folder: Path, data: DataConfig, split: str) -> ScoredRows:
        return cls.of_dataset(load_splits(data.as_model_was_trained(folder))[split])


@dataclass(frozen=True)
class Verdicts:
    flagged: np.ndarray
    p_hate: np.ndarray

    @classmethod
    def of(cls, folder: Path, backend: str, texts: list[str]) -> Verdicts:
        classifier = Classifier.load(folder, backend=backend)
        predictions = classifier.predict(texts)
        toxic = classifier.toxic_label
        return cls(
            np.array([p.toxic for p in predictions]),
            np.array([p.scores[toxic] for p in predictions]),
        )


def agreement(folder: Path, rows: ScoredRows, fp32: Verdicts | None = None) -> dict[str, dict]:
    """Figures per source for the folder's int8 file against its fp32 graph. `fp32`, when given,
    is the fp32 graph's verdicts on the same rows (scripts/int8_screen.py scores it once for all
    its variants, whose fp32 graph is the same file)."""
    if fp32 is None:
        fp32 = Verdicts.of(folder, "onnx", rows.texts)
    int8 = Verdicts.of(folder, "onnx-int8", rows.texts)
    groups = {"all": np.ones(len(rows.texts), dtype=bool)}
    if rows.sources is not None:
        groups |= {name: rows.sources == name for name in dict.fromkeys(rows.sources.tolist())}
    near = np.abs(fp32.p_hate - read_inference(folder).threshold) < NEAR_THRESHOLD
    figures = {}
    for name, chosen in groups.items():
        delta = np.abs(fp32.p_hate[chosen] - int8.p_hate[chosen])
        figures[name] = {
            "rows": int(chosen.sum()),
            "agreement": float((fp32.flagged[chosen] == int8.flagged[chosen]).mean()),
            "max_abs_delta": float(delta.max()),
            "mean_abs_delta": float(delta.mean()),
            "near_threshold": float(near[chosen].mean()),
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
    rows = ScoredRows.of(args.folder, from_args(DataConfig, args), args.split)
    figures = agreement(args.folder, rows)
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

"""Refresh an exported folder in place without its fp32 weights: what export does after the
weights are written, on the int8 file that ships. It is how models/default was brought to this
release (its safetensors are not in the repository, so it cannot be quantised again):

    python scripts/refresh_shipped.py models/default --data recipes/general.yaml

1. text preparation: de-obfuscation switched on in config.json (NFKC, lookalike letters, bidi
   overrides, invisible joiners, letter spacing, leetspeak; see modeldistill.text);
2. a temperature fitted on the validation split of --data, then the threshold tuned again on the
   calibrated scores (inference.json);
3. the test split scored as the folder now serves it (metrics.json: windows for long texts,
   calibration, bias per group), the behavioural check (check.json) and the card (README.md).
   With --keep-calibration only this step runs: temperature and threshold stay as they are.

The int8 file itself is left as it is: re-quantising (static int8, scores that do not depend on
the batch) needs the fp32 weights, i.e. `bash scripts/general_recipe.sh` then `modeldistill
export`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modeldistill.artifacts import (
    METRICS_FILE,
    read_inference,
    read_json_object,
    read_run_config,
    write_metrics,
)
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.export.export import calibrate, measure, record_deobfuscation
from modeldistill.export.modelcard import render_model_card, write_model_card


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an exported folder (inference.json)")
    parser.add_argument("--data", action="append", required=True, help="the data it was trained on")
    parser.add_argument(
        "--keep-calibration",
        action="store_true",
        help="keep the temperature and threshold inference.json holds; only re-score (step 3), "
        "e.g. after a change to how texts are read",
    )
    args = parser.parse_args()
    folder = args.folder
    info = read_inference(folder)
    if info is None:
        parser.error(f"{folder} has no inference.json: export it first")

    # The training facts of the metrics the folder had (its trained folder's) stay on the card.
    previous = read_json_object(folder / METRICS_FILE) if (folder / METRICS_FILE).is_file() else {}
    record_deobfuscation(folder)
    splits = load_splits(DataConfig(data=args.data).as_model_was_trained(folder))
    if not args.keep_calibration:
        info.data = ", ".join(args.data)  # what calibrate names as the source of its figures
        calibrate(folder, info, splits)
    metrics, check = measure(folder, info, splits, run_the_check=True)
    for key in ("best_epoch", "best_val_macro_f1", "train_seconds"):
        setattr(metrics, key, previous.get(key))
    write_metrics(folder / METRICS_FILE, metrics)
    config = read_json_object(folder / "config.json")
    card = render_model_card(folder, config, info, metrics, read_run_config(folder), check)
    write_model_card(folder, card)
    print(
        f"{folder}: temperature {info.temperature:.4f}, threshold {info.threshold:.4f}, "
        f"test hate F1 {metrics.hate.f1:.4f}, ECE {metrics.ece:.4f}, check {check.accuracy:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

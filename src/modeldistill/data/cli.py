"""`modeldistill data`: load a dataset, split it, print split sizes, per-class and per-source counts.

modeldistill data                                   # hate_speech18 from ../shared/data
modeldistill data --data my.csv --json              # any CSV/JSONL/Parquet with text,label
modeldistill data --data hate_speech18 --protocol paper   # the paper's balanced subsets
modeldistill data --data recipes/general.yaml       # several sources as one binary task
"""

from __future__ import annotations

import argparse
import json

from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, DataConfig)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def main(args: argparse.Namespace) -> int:
    config = from_args(DataConfig, args)
    summary = load_splits(config).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    labels = summary["labels"]
    width = max(12, *(len(label) for label in labels))
    print(f"{'split':<12}{'rows':>8}" + "".join(f"{label:>{width}}" for label in labels))
    for name, part in summary["splits"].items():
        counts = "".join(f"{part['per_class'][label]:>{width},}" for label in labels)
        print(f"{name:<12}{part['rows']:>8,}{counts}")
    if "overlap" in summary:
        overlap = summary["overlap"]
        verb = "dropped" if overlap["dropped"] else "kept (--deduplicate drops them)"
        print(
            f"\nrepeated texts: {overlap['duplicates']:,} within a split, "
            f"{overlap['held_out_elsewhere']:,} also in a more held-out split; {verb}"
        )
    if "sources" in summary:
        print()
        _print_sources(summary["sources"], labels)
    return 0


def _print_sources(sources: dict, labels: list[str]) -> None:
    """Rows per source, split and label, and what was dropped on the way."""
    width = max(10, *(len(name) for name in sources)) + 2
    columns = [f"{split}:{label}" for split in ("train", "validation", "test") for label in labels]
    print(
        f"{'source':<{width}}"
        + "".join(f"{c:>20}" for c in columns)
        + f"{'duplicates':>12}{'leaks':>8}"
    )
    for name, report in sources.items():
        counts = "".join(
            f"{report['rows'][split][label]:>20,}"
            for split in ("train", "validation", "test")
            for label in labels
        )
        print(
            f"{name:<{width}}{counts}{report['duplicates']:>12,}{report['held_out_elsewhere']:>8,}"
        )

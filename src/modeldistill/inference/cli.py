"""`modeldistill bench`: latency and throughput per model, backend and batch size."""

from __future__ import annotations

import argparse
import json

from modeldistill.errors import UserError
from modeldistill.inference.bench import BenchConfig, markdown_table, run_bench
from modeldistill.paths import resolve_model_dir
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="DIR",
        help="exported model folder; repeat to compare models (default: the default model)",
    )
    add_config_arguments(parser, BenchConfig)


def main(args: argparse.Namespace) -> int:
    config = from_args(BenchConfig, args)
    models = [resolve_model_dir(model) for model in (args.model or [None])]
    report = run_bench(models, config)
    if not report["results"]:
        raise UserError("nothing to measure: the folders hold none of the requested backends")
    print(markdown_table(report["results"]))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {config.out}")
    return 0

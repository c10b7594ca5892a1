"""`modeldistill check [MODEL]`: the behavioural check; exit 1 when a target is missed."""

from __future__ import annotations

import argparse
import json

from modeldistill.artifacts import write_check
from modeldistill.check.run import CheckConfig, format_misses, format_report, run_check
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", nargs="?", default=None, help="model folder (default: the shipped model)"
    )
    add_config_arguments(parser, CheckConfig)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def main(args: argparse.Namespace) -> int:
    from modeldistill.inference.classifier import Classifier
    from modeldistill.paths import resolve_model_dir

    config = from_args(CheckConfig, args)
    classifier = Classifier.load(resolve_model_dir(args.model), backend=config.backend)
    result = run_check(classifier, config)
    if config.out is not None:
        write_check(config.out, result)
    summary = result.model_copy(update={"sentences": None}).to_dict()
    if args.json:
        # the wrong sentences inside the JSON, so that stdout stays one JSON document
        if config.misses:
            summary["misses"] = [row for row in result.sentences if not row["right"]]
        print(json.dumps(summary, indent=2))
    else:
        print(format_report(result))
        if config.misses:
            print("\n" + format_misses(result))
    return 0 if result.passed else 1

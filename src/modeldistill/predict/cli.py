"""Classify texts from the command line or from files, streaming, on every core or on Ray.

    modeldistill predict "you are all welcome here" "kick them all out"
    modeldistill predict --model models/default --json "some text"
    modeldistill predict --input posts.txt --output scores.jsonl        # one text a line
    modeldistill predict --input posts.csv --text-column body --output scores.csv
    modeldistill predict --input posts.jsonl --output scores.parquet     # {"text": ...} a line
    modeldistill predict --input 'archive/*.parquet' --output scores.parquet
    modeldistill predict --engine ray --input 's3://bucket/posts/*.jsonl' --output s3://bucket/scores

Files are read and written a chunk at a time, so their size does not matter. Every input row
gives exactly one output row, in order: rows that cannot be scored (empty, not UTF-8, bad JSON)
get an `error` and are reported by file and line on stderr. Running the same command again after
an interruption resumes after the rows already in the output (use --no-resume to start over).
The local engine is in `modeldistill.predict.local`, the Ray one in `modeldistill.predict.ray_engine`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from modeldistill.errors import UserError
from modeldistill.inference.classifier import Classifier, Prediction
from modeldistill.paths import resolve_model_dir
from modeldistill.predict.config import PredictConfig
from modeldistill.predict.readers import input_files
from modeldistill.settings import add_arguments as add_config_arguments
from modeldistill.settings import from_args
from modeldistill.text import is_blank


def _print_predictions(texts: list[str], predictions: list[Prediction], as_json: bool) -> None:
    if as_json:
        payload = [
            {"text": text, **p.to_dict()} for text, p in zip(texts, predictions, strict=True)
        ]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for text, p in zip(texts, predictions, strict=True):
        flags = ("TOXIC" if p.toxic else "ok") + (" truncated" if p.truncated else "")
        print(f"{p.label:<10} {p.score:.3f}  {flags:<15} {text}")


def _classify_texts(classifier: Classifier, texts: list[str], max_chars: int) -> list[Prediction]:
    predictions = classifier.predict([text[:max_chars] for text in texts])
    for text, prediction in zip(texts, predictions, strict=True):
        prediction.truncated = prediction.truncated or len(text) > max_chars
    return predictions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    add_config_arguments(parser, PredictConfig)


def main(args: argparse.Namespace) -> int:
    config = from_args(PredictConfig, args)
    if bool(args.texts) == (config.input is not None):
        raise UserError("give texts to classify, or --input FILE --output FILE (not both)")
    for index, text in enumerate(args.texts, start=1):
        if is_blank(text):
            raise UserError(f"text {index} is empty")
    if config.engine == "ray":
        from modeldistill.predict.ray_engine import predict_ray

        return predict_ray(resolve_model_dir(config.model), config)
    files = input_files(config.input) if config.input is not None else []
    if any(path.resolve() == Path(config.output).resolve() for path in files):
        raise UserError("--output must differ from --input")
    threads = config.threads if config.input is not None else None
    classifier = Classifier.load(
        resolve_model_dir(config.model),
        backend=config.backend,
        batch_size=config.batch_size,
        threads=threads,
        max_windows=config.max_windows,
    )
    if args.texts:
        predictions = _classify_texts(classifier, args.texts, config.max_chars)
        _print_predictions(args.texts, predictions, config.json)
        return 0
    from modeldistill.predict.local import predict_files

    start = time.perf_counter()
    counts = predict_files(classifier, files, config)
    seconds = time.perf_counter() - start
    print(
        f"{config.output}: {counts['scored']} scored, {counts['errors']} errors, "
        f"{counts['skipped']} already there; {counts['scored'] / max(seconds, 1e-9):.0f} texts/s "
        f"({classifier.name}, {classifier.backend}, {config.worker_count()} workers "
        f"x {config.threads} threads)",
        file=sys.stderr,
    )
    return 0

"""Classify texts from the command line or a file, streaming.

    modeldistill predict "you are all welcome here" "kick them all out"
    modeldistill predict --model models/default --json "some text"
    modeldistill predict --input posts.txt --output scores.jsonl        # one text a line
    modeldistill predict --input posts.csv --text-column body --output scores.csv
    modeldistill predict --input posts.jsonl --output scores.jsonl       # {"text": ...} a line

Files are read and written a chunk at a time, so their size does not matter. Every input row
gives exactly one output row, in order: rows that cannot be scored (empty, not UTF-8, bad JSON)
get an `error` and are reported by line number on stderr. Running the same command again after an
interruption resumes after the rows already in the output (use --no-resume to start over).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args, option, require
from modeldistill.errors import UserError
from modeldistill.inference import BACKENDS, Classifier, Prediction, has_surrogates
from modeldistill.paths import resolve_model_dir
from modeldistill.texts import is_blank

SUFFIXES = (".txt", ".csv", ".jsonl")
# Longer texts are cut before tokenising: far past any max_length, and a bound on memory per row.
MAX_CHARS_LIMIT = 1_000_000


@dataclass
class PredictConfig:
    model: str | None = option(
        None, "model folder (default: $MODELDISTILL_MODEL or models/default)"
    )
    backend: str = option("auto", "inference backend", choices=list(BACKENDS))
    batch_size: int = option(32, "texts per forward pass")
    json: bool = option(False, "print predictions as JSON (command-line texts only)")
    input: Path | None = option(None, "file to classify: .txt (a text a line), .csv or .jsonl")
    output: Path | None = option(None, "file to write: .jsonl or .csv (one row per input row)")
    text_column: str = option("text", "column (.csv) or key (.jsonl) holding the text")
    resume: bool = option(True, "continue after the rows already in --output")
    chunk_size: int = option(512, "rows read, scored and written at a time")
    max_chars: int = option(20_000, "longer texts are cut to this many characters (and truncated)")

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.chunk_size >= 1, f"--chunk-size must be at least 1, got {self.chunk_size}")
        require(
            1 <= self.max_chars <= MAX_CHARS_LIMIT,
            f"--max-chars must be 1..{MAX_CHARS_LIMIT}, got {self.max_chars}",
        )
        require(
            (self.input is None) == (self.output is None),
            "--input and --output go together",
        )
        for flag, path, allowed in (
            ("--input", self.input, SUFFIXES),
            ("--output", self.output, (".jsonl", ".csv")),
        ):
            require(
                path is None or path.suffix.lower() in allowed,
                f"{flag} must end in {', '.join(allowed)}, got {path}",
            )


@dataclass
class Row:
    """One input row: its number (1-based), the line it starts on, and a text or an error."""

    row: int
    line: int
    text: str | None
    error: str | None = None


def _decode(raw: bytes, first: bool) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it cannot be scored)."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"undecodable bytes (not UTF-8) at byte {error.start}"
    return text.rstrip("\r\n"), None


def read_txt(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text, error = _decode(raw, number == 1)
            if error is None and is_blank(text):
                text, error = None, "empty line"
            yield Row(number, number, text, error)


def read_jsonl(path: Path, key: str) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line, error = _decode(raw, number == 1)
            text = None
            if error is None and is_blank(line):
                error = "empty line"
            elif error is None:
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as bad:
                    value, error = None, f"invalid JSON: {bad.msg} at column {bad.colno}"
                if isinstance(value, dict):
                    value = value.get(key)
                    if value is None and error is None:
                        error = f"no {key!r} key"
                if error is None and not isinstance(value, str):
                    error = f"the text is a {type(value).__name__}, not a string"
                elif error is None and is_blank(value):
                    error = "empty text"
                elif error is None and has_surrogates(value):
                    error = "the text holds lone surrogates (a JSON \\ud800-style escape), not text"
                text = value if error is None else None
            yield Row(number, number, text, error)


def read_csv(path: Path, column: str) -> Iterator[Row]:
    # surrogateescape keeps reading past bad bytes; a row holding one is reported, not scored.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        if column not in header:
            raise UserError(
                f"{path} has no {column!r} column (columns: {header}); use --text-column"
            )
        index = header.index(column)
        line = reader.line_num + 1
        for number, fields in enumerate(reader, start=1):
            text, error = (fields[index] if index < len(fields) else None), None
            if text is None:
                error = f"row has {len(fields)} fields, no {column!r}"
            elif any("\udc80" <= char <= "\udcff" for char in text):
                text, error = None, "undecodable bytes (not UTF-8)"
            elif is_blank(text):
                text, error = None, "empty text"
            yield Row(number, line, text, error)
            line = reader.line_num + 1


def read_rows(path: Path, text_column: str) -> Iterator[Row]:
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, text_column)
    if suffix == ".jsonl":
        return read_jsonl(path, text_column)
    return read_txt(path)


class Writer:
    """Appends output rows as JSON lines or CSV, flushed per chunk so a restart can resume."""

    def __init__(self, path: Path, labels: list[str], resume: bool):
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        self.fields = ["row", "line", "text", "label", "score", "toxic", "truncated", "error"]
        self.fields += [f"p_{label}" for label in labels]
        self.done = self._existing_rows() if resume and path.is_file() else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle: TextIO = path.open("a" if self.done else "w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=self.fields) if self.csv else None
        if self.writer is not None and not self.done:
            self.writer.writeheader()

    def _existing_rows(self) -> int:
        """Complete rows already written; a half-written last row (killed mid-write) is cut off."""
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(keep)
        text = data[:keep].decode("utf-8", errors="replace")
        if not self.csv:
            return text.count("\n")
        records = list(csv.reader(text.splitlines(keepends=True)))
        if not records:
            return 0
        if records[0] != self.fields:
            raise UserError(
                f"{self.path} has other columns than this model writes; "
                "pass --no-resume to overwrite it or choose another --output"
            )
        return len(records) - 1

    def write(self, rows: list[Row], predictions: dict[int, Prediction]) -> None:
        for row in rows:
            record: dict[str, Any] = {"row": row.row, "line": row.line, "text": row.text}
            prediction = predictions.get(row.row)
            if prediction is None:
                record.update(label=None, score=None, toxic=None, truncated=None, error=row.error)
            else:
                record.update(prediction.to_dict(), error=None)
            if self.writer is not None:
                scores = record.pop("scores", None) or {}
                record.update({f"p_{label}": p for label, p in scores.items()})
                self.writer.writerow(record)
            else:
                self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _score(classifier: Classifier, rows: list[Row], max_chars: int) -> dict[int, Prediction]:
    good = [row for row in rows if row.error is None]
    predictions = classifier.predict([row.text[:max_chars] for row in good])
    for row, prediction in zip(good, predictions, strict=True):
        prediction.truncated = prediction.truncated or len(row.text) > max_chars
    return {row.row: prediction for row, prediction in zip(good, predictions, strict=True)}


def predict_file(classifier: Classifier, config: PredictConfig) -> dict[str, int]:
    """Stream --input through the classifier into --output; returns row counts."""
    from tqdm import tqdm

    rows = read_rows(config.input, config.text_column)
    writer = Writer(config.output, classifier.labels, config.resume)
    counts = {"skipped": writer.done, "scored": 0, "errors": 0}
    if writer.done:
        print(f"resuming: {writer.done} rows already in {config.output}", file=sys.stderr)
    # disable=None: a bar on a terminal, no bar in logs and pipes.
    progress = tqdm(unit=" texts", file=sys.stderr, disable=None, mininterval=0.5)
    try:
        for chunk in _chunks(rows, config.chunk_size):
            todo = [row for row in chunk if row.row > writer.done]
            if not todo:
                continue
            for row in todo:
                if row.error is not None:
                    progress.write(f"{config.input}: line {row.line}: {row.error}", file=sys.stderr)
            writer.write(todo, _score(classifier, todo, config.max_chars))
            errors = sum(row.error is not None for row in todo)
            counts["errors"] += errors
            counts["scored"] += len(todo) - errors
            progress.update(len(todo))
    finally:
        progress.close()
        writer.close()
    return counts


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    add_config_arguments(parser, PredictConfig)


def main(args: argparse.Namespace) -> int:
    config = from_args(PredictConfig, args)
    if bool(args.texts) == (config.input is not None):
        raise UserError("give texts to classify, or --input FILE --output FILE (not both)")
    if config.input is not None and config.input.resolve() == config.output.resolve():
        raise UserError("--output must differ from --input")
    for index, text in enumerate(args.texts, start=1):
        if is_blank(text):
            raise UserError(f"text {index} is empty")
    classifier = Classifier.load(
        resolve_model_dir(config.model), backend=config.backend, batch_size=config.batch_size
    )
    if args.texts:
        rows = [Row(i, i, text) for i, text in enumerate(args.texts, start=1)]
        predictions = _score(classifier, rows, config.max_chars)
        _print_predictions(args.texts, [predictions[row.row] for row in rows], config.json)
        return 0
    start = time.perf_counter()
    counts = predict_file(classifier, config)
    seconds = time.perf_counter() - start
    print(
        f"{config.output}: {counts['scored']} scored, {counts['errors']} errors, "
        f"{counts['skipped']} already there; {counts['scored'] / max(seconds, 1e-9):.0f} texts/s "
        f"({classifier.name}, {classifier.backend})",
        file=sys.stderr,
    )
    return 0

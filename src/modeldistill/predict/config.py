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
The local engine is in `modeldistill.scoring`, the Ray one in `modeldistill.ray_engine`.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args, option, require
from modeldistill.errors import UserError
from modeldistill.inference import BACKENDS, Classifier, Prediction, has_surrogates
from modeldistill.paths import resolve_model_dir
from modeldistill.texts import is_blank

SUFFIXES = (".txt", ".csv", ".jsonl", ".parquet")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")
ENGINES = ("local", "ray")
# Longer texts are cut before tokenising: far past any max_length, and a bound on memory per row.
MAX_CHARS_LIMIT = 1_000_000
MAX_WORKERS = 256


@dataclass
class PredictConfig:
    model: str | None = option(
        None, "model folder (default: $MODELDISTILL_MODEL or models/default)"
    )
    backend: str = option("auto", "inference backend", choices=list(BACKENDS))
    # 8: the fewest CPU-seconds per text of 4..128 for the int8 model on this project's machine
    # (docs/scale.md); smaller batches pad less and stay in cache.
    batch_size: int = option(8, "texts per forward pass")
    json: bool = option(False, "print predictions as JSON (command-line texts only)")
    input: str | None = option(
        None,
        "what to classify: a .txt (a text a line), .csv, .jsonl or .parquet file, "
        "a folder of them or a quoted glob ('posts/*.csv'); with --engine ray also a URL",
    )
    output: str | None = option(
        None,
        "file to write: .jsonl, .csv or .parquet, one row per input row "
        "(--engine ray: a folder or URL that receives one Parquet shard per input file)",
    )
    text_column: str = option("text", "column (.csv, .parquet) or key (.jsonl) holding the text")
    resume: bool = option(True, "continue after the rows already in --output")
    chunk_size: int = option(1024, "rows read, scored and written at a time")
    max_chars: int = option(20_000, "longer texts are cut to this many characters (and truncated)")
    workers: int = option(
        0, "batches scored at once, each on its own thread (0: one per available core)"
    )
    threads: int = option(
        1,
        "ONNX Runtime threads inside each batch; with --engine ray, batches each actor scores "
        "at once, single-threaded, and the CPUs it reserves",
    )
    engine: str = option("local", "where files are scored", choices=list(ENGINES))
    address: str | None = option(
        None, "Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local Ray"
    )
    actors: int = option(1, "Ray actors, each holding one copy of the model (--engine ray)")

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.chunk_size >= 1, f"--chunk-size must be at least 1, got {self.chunk_size}")
        require(
            1 <= self.max_chars <= MAX_CHARS_LIMIT,
            f"--max-chars must be 1..{MAX_CHARS_LIMIT}, got {self.max_chars}",
        )
        require(
            0 <= self.workers <= MAX_WORKERS,
            f"--workers must be 0..{MAX_WORKERS}, got {self.workers}",
        )
        require(1 <= self.threads <= MAX_WORKERS, f"--threads must be 1..{MAX_WORKERS}")
        require(1 <= self.actors <= MAX_WORKERS, f"--actors must be 1..{MAX_WORKERS}")
        require(
            (self.input is None) == (self.output is None),
            "--input and --output go together",
        )
        require(self.engine == "ray" or self.address is None, "--address needs --engine ray")
        if self.engine == "local" and self.output is not None:
            suffix = Path(self.output).suffix.lower()
            require(
                suffix in OUTPUT_SUFFIXES,
                f"--output must end in {', '.join(OUTPUT_SUFFIXES)}, got {self.output}",
            )
        if self.engine == "ray":
            require(self.input is not None, "--engine ray needs --input and --output")
            require(
                Path(self.output).suffix.lower() not in OUTPUT_SUFFIXES,
                "--engine ray writes Parquet shards into a folder: give --output a folder",
            )

    def worker_count(self) -> int:
        return self.workers or available_cpus()


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass
class Row:
    """One input row: its file, number in that file (1-based), the line it starts on (for
    Parquet, the row number again), and a text or why it cannot be scored."""

    row: int
    line: int
    text: str | None
    error: str | None = None
    file: str = ""


def _decode(raw: bytes, first: bool) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it cannot be scored)."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"undecodable bytes (not UTF-8) at byte {error.start}"
    return text.rstrip("\r\n"), None


def read_txt(handle: BinaryIO) -> Iterator[Row]:
    for number, raw in enumerate(handle, start=1):
        text, error = _decode(raw, number == 1)
        if error is None and is_blank(text):
            text, error = None, "empty line"
        yield Row(number, number, text, error)


def _text_error(value: object, key: str) -> str | None:
    """Why a JSON or Parquet value is not a text to score, or None."""
    if value is None:
        return f"no {key!r} value"
    if not isinstance(value, str):
        return f"the text is a {type(value).__name__}, not a string"
    if is_blank(value):
        return "empty text"
    if has_surrogates(value):
        return "the text holds lone surrogates (a JSON \\ud800-style escape), not text"
    return None


def read_jsonl(handle: BinaryIO, key: str) -> Iterator[Row]:
    for number, raw in enumerate(handle, start=1):
        line, error = _decode(raw, number == 1)
        value = None
        if error is None and is_blank(line):
            error = "empty line"
        elif error is None:
            try:
                value = json.loads(line)
            except json.JSONDecodeError as bad:
                error = f"invalid JSON: {bad.msg} at column {bad.colno}"
            if isinstance(value, dict):
                if value.get(key) is None:
                    error = f"no {key!r} key"
                value = value.get(key)
            error = error or _text_error(value, key)
        yield Row(number, number, value if error is None else None, error)


def read_csv(handle: BinaryIO, column: str, name: str) -> Iterator[Row]:
    # surrogateescape keeps reading past bad bytes; a row holding one is reported, not scored.
    text_handle = io.TextIOWrapper(
        handle, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    reader = csv.reader(text_handle)
    header = next(reader, None)
    if header is None:
        return
    if column not in header:
        raise UserError(f"{name} has no {column!r} column (columns: {header}); use --text-column")
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


def read_parquet(handle: BinaryIO, column: str, name: str, chunk_size: int) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError) as error:
        raise UserError(f"cannot read {name} as Parquet: {error}") from error
    schema = parquet.schema_arrow
    if column not in schema.names:
        raise UserError(
            f"{name} has no {column!r} column (columns: {schema.names}); use --text-column"
        )
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise UserError(f"{name}: column {column!r} holds {kind}, not text")
    number = 0
    for batch in parquet.iter_batches(batch_size=chunk_size, columns=[column]):
        for value in batch.column(0).to_pylist():
            number += 1
            error = _text_error(value, column)
            yield Row(number, number, value if error is None else None, error)


def read_handle(handle: BinaryIO, name: str, text_column: str, chunk_size: int) -> Iterator[Row]:
    """The rows of one open file, by its suffix; each row names `name` as its file."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        rows = read_csv(handle, text_column, name)
    elif suffix == ".jsonl":
        rows = read_jsonl(handle, text_column)
    elif suffix == ".parquet":
        rows = read_parquet(handle, text_column, name, chunk_size)
    else:
        rows = read_txt(handle)
    for row in rows:
        row.file = name
        yield row


def input_files(spec: str) -> list[Path]:
    """The files --input names: one file, the supported files under a folder, or a glob's matches;
    sorted, so that rows come in the same order on every run (which resuming relies on)."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise UserError(f"{spec} holds no {', '.join(SUFFIXES)} files")
        return files
    if glob.has_magic(spec):
        files = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        files = [p for p in files if p.suffix.lower() in SUFFIXES]
        if not files:
            raise UserError(f"no {', '.join(SUFFIXES)} files match {spec}")
        return files
    if not path.is_file():
        raise UserError(f"input file not found: {spec}")
    if path.suffix.lower() not in SUFFIXES:
        raise UserError(f"--input must end in {', '.join(SUFFIXES)}, got {spec}")
    return [path]


def read_inputs(files: list[Path], text_column: str, chunk_size: int) -> Iterator[Row]:
    """Every row of every file, in order, one file open at a time."""
    for path in files:
        with path.open("rb") as handle:
            yield from read_handle(handle, str(path), text_column, chunk_size)


def count_rows(files: list[Path]) -> int | None:
    """Rows to expect, for the progress bar's ETA: exact for Parquet, .txt and .jsonl (one a
    line); for .csv the lines less the header, which overcounts quoted multi-line texts."""
    import pyarrow.parquet as pq

    total = 0
    for path in files:
        if path.suffix.lower() == ".parquet":
            try:
                total += pq.ParquetFile(path).metadata.num_rows
            except Exception:  # an unreadable file is reported when it is read
                return None
            continue
        lines, last = 0, b"\n"
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += last != b"\n"
        total += max(lines - (path.suffix.lower() == ".csv"), 0)
    return total


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
        from modeldistill.ray_engine import predict_ray

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
    )
    if args.texts:
        predictions = _classify_texts(classifier, args.texts, config.max_chars)
        _print_predictions(args.texts, predictions, config.json)
        return 0
    from modeldistill.scoring import predict_files

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

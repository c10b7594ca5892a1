"""Input files as rows of text: .txt (a line each), .csv, .jsonl and .parquet, read lazily, with
a row's error kept beside it (a bad row is reported in the output, never dropped)."""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modeldistill.errors import UserError
from modeldistill.predict.config import SUFFIXES, Row
from modeldistill.text import has_surrogates, is_blank


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

"""Score streamed rows on every core: the local engine behind `modeldistill predict --input`.

Three stages overlap, so no core waits on another: the main thread reads rows and writes the
results of earlier chunks; one thread tokenises the next chunk (the Rust tokenizer releases the
GIL) and cuts it into length-sorted batches; `--workers` threads run those batches through the
one ONNX Runtime session concurrently, each with `--threads` intra-op threads. Measured on this
project's 2-core machine (docs/scale.md): one single-threaded call per core beats one call
spread over both cores, and a second session adds memory without adding speed.

Output rows go out in input order, a chunk at a time, flushed, so that a rerun can resume.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from modeldistill.errors import UserError
from modeldistill.inference import Classifier
from modeldistill.predict import PredictConfig, Row, count_rows, read_inputs

# Chunks tokenised or being scored ahead of the one being written: enough to keep every worker
# busy while the main thread writes, few enough that memory stays a few chunks' worth.
AHEAD = 3


def id_fields() -> list[str]:
    return ["file", "row", "line"]


def result_fields(labels: list[str]) -> list[str]:
    """Columns after the ids and text, flat (one p_<label> per label) for CSV and Parquet."""
    return [
        "label",
        "score",
        "toxic",
        "truncated",
        "error",
        *(f"p_{label}" for label in labels),
    ]


def score_columns(
    classifier: Classifier, rows: list[Row], probs: np.ndarray, truncated: np.ndarray
) -> dict[str, list[Any]]:
    """The output columns of `rows`; `probs` and `truncated` hold one entry per row without an
    error, in order. Rows with an error get nulls."""
    n = len(rows)
    columns: dict[str, list[Any]] = {
        "file": [row.file for row in rows],
        "row": [row.row for row in rows],
        "line": [row.line for row in rows],
        "text": [row.text for row in rows],
    }
    nulls: list[Any] = [None] * n
    for field in result_fields(classifier.labels):
        columns[field] = list(nulls)
    columns["error"] = [row.error for row in rows]
    good = [i for i, row in enumerate(rows) if row.error is None]
    if not good:
        return columns
    best, toxic = classifier.decide(probs)
    scores = probs[np.arange(len(good)), best].tolist()
    labels = [classifier.labels[b] for b in best.tolist()]
    by_label = probs.T.tolist()
    flags = (toxic.tolist(), truncated.tolist())
    for position, i in enumerate(good):
        columns["label"][i] = labels[position]
        columns["score"][i] = scores[position]
        columns["toxic"][i] = flags[0][position]
        columns["truncated"][i] = flags[1][position]
    for label, values in zip(classifier.labels, by_label, strict=True):
        column = columns[f"p_{label}"]
        for position, i in enumerate(good):
            column[i] = values[position]
    return columns


class _TextWriter:
    """Appends rows to a .jsonl or .csv file, flushed per chunk; resuming counts its rows."""

    def __init__(self, path: Path, labels: list[str], resume: bool):
        self.path = path
        self.labels = labels
        self.csv = path.suffix.lower() == ".csv"
        self.fields = [*id_fields(), "text", *result_fields(labels)]
        self.done = self._existing_rows() if resume and path.is_file() else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle: TextIO = path.open("a" if self.done else "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle) if self.csv else None
        if self.writer is not None and not self.done:
            self.writer.writerow(self.fields)

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

    def write(self, columns: dict[str, list[Any]]) -> None:
        if self.writer is not None:
            self.writer.writerows(zip(*(columns[field] for field in self.fields), strict=True))
        else:
            probabilities = [columns[f"p_{label}"] for label in self.labels]
            names = [*id_fields(), "text", "label", "score", "toxic"]
            for i, values in enumerate(zip(*(columns[name] for name in names), strict=True)):
                record = dict(zip(names, values, strict=True))
                scores = [p[i] for p in probabilities]
                record["scores"] = (
                    None if scores[0] is None else dict(zip(self.labels, scores, strict=True))
                )
                record["truncated"] = columns["truncated"][i]
                record["error"] = columns["error"][i]
                self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()

    def close(self, complete: bool) -> None:
        self.handle.close()


def arrow_schema(labels: list[str], text: bool = True) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("file", pa.string()),
            ("row", pa.int64()),
            ("line", pa.int64()),
            *([("text", pa.string())] if text else []),
            ("label", pa.string()),
            ("score", pa.float64()),
            ("toxic", pa.bool_()),
            ("truncated", pa.bool_()),
            ("error", pa.string()),
            *((f"p_{label}", pa.float64()) for label in labels),
        ]
    )


class _ParquetWriter:
    """Writes OUT.parquet through closed part files in OUT.parquet.parts/, joined at the end.

    A Parquet file is unreadable until its footer is written, so a killed run could not be
    resumed from one open file; every part is complete once renamed into place, so a rerun
    counts their rows and continues, and only the part being written is redone."""

    PART_ROWS = 65_536

    def __init__(self, path: Path, labels: list[str], resume: bool):
        import pyarrow.parquet as pq

        self.pq = pq
        self.path = path
        self.parts = path.with_name(path.name + ".parts")
        self.schema = arrow_schema(labels)
        if not resume:
            self._clear()
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        if path.is_file():  # a finished earlier run: it becomes the first part
            self._check(path)
            path.replace(self.parts / "part-000000.parquet")
        existing = sorted(self.parts.glob("part-*.parquet"))
        for part in existing:
            self._check(part)
        self.done = sum(pq.ParquetFile(part).metadata.num_rows for part in existing)
        self.next_part = len(existing)
        self.writer: Any = None
        self.rows_in_part = 0

    def _clear(self) -> None:
        if self.path.is_file():
            self.path.unlink()
        if self.parts.is_dir():
            for part in self.parts.iterdir():
                part.unlink()

    def _check(self, part: Path) -> None:
        try:
            schema = self.pq.read_schema(part)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise UserError(f"cannot resume from {part}: {error}; pass --no-resume") from error
        if not schema.equals(self.schema):
            raise UserError(
                f"{part} has other columns than this model writes; "
                "pass --no-resume to overwrite it or choose another --output"
            )

    def write(self, columns: dict[str, list[Any]]) -> None:
        import pyarrow as pa

        if self.writer is None:
            self.tmp = self.parts / f"part-{self.next_part:06d}.parquet.tmp"
            self.writer = self.pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pydict(columns, schema=self.schema))
        self.rows_in_part += len(columns["row"])
        if self.rows_in_part >= self.PART_ROWS:
            self._close_part()

    def _close_part(self) -> None:
        self.writer.close()
        self.tmp.replace(self.parts / f"part-{self.next_part:06d}.parquet")
        self.writer, self.rows_in_part, self.next_part = None, 0, self.next_part + 1

    def close(self, complete: bool) -> None:
        if self.writer is not None:
            self._close_part()
        if not complete:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self.pq.ParquetWriter(tmp, self.schema) as joined:
            for part in sorted(self.parts.glob("part-*.parquet")):
                parquet = self.pq.ParquetFile(part)
                for group in range(parquet.num_row_groups):
                    joined.write_table(parquet.read_row_group(group))
        tmp.replace(self.path)
        self._clear_parts()

    def _clear_parts(self) -> None:
        for part in self.parts.iterdir():
            part.unlink()
        self.parts.rmdir()


def open_writer(path: Path, labels: list[str], resume: bool) -> _TextWriter | _ParquetWriter:
    if path.suffix.lower() == ".parquet":
        return _ParquetWriter(path, labels, resume)
    return _TextWriter(path, labels, resume)


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


class _Scored:
    """A chunk whose batches are queued on the workers; `result()` waits for them."""

    def __init__(self, rows: list[Row], classifier: Classifier, pool: ThreadPoolExecutor, cut: int):
        texts = [row.text for row in rows if row.error is None]
        encodings = classifier.tokenize([text[:cut] for text in texts])
        self.rows = rows
        self.truncated = np.fromiter(
            (bool(e.overflowing) or len(t) > cut for e, t in zip(encodings, texts, strict=True)),
            dtype=bool,
            count=len(texts),
        )
        self.batches: list[tuple[np.ndarray, Future]] = [
            (positions, pool.submit(classifier.probabilities, feeds))
            for positions, feeds in classifier.batches(encodings)
        ]
        self.size = len(texts)

    def result(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        probs = np.empty((self.size, width), dtype=np.float32)
        for positions, future in self.batches:
            probs[positions] = future.result()
        return probs, self.truncated


def score_rows(
    classifier: Classifier, rows: list[Row], pool: ThreadPoolExecutor, max_chars: int
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, truncated) of the rows without an error, their batches run on `pool`."""
    return _Scored(rows, classifier, pool, max_chars).result(len(classifier.labels))


def score_chunks(
    classifier: Classifier, chunks: Iterator[list[Row]], workers: int, max_chars: int
) -> Iterator[tuple[list[Row], np.ndarray, np.ndarray]]:
    """(rows, probabilities, truncated) per chunk, in order, with tokenising and scoring of the
    next chunks under way while the caller handles this one."""
    width = len(classifier.labels)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="tokenise") as tokeniser,
        ThreadPoolExecutor(workers, thread_name_prefix="score") as pool,
    ):
        ahead: deque[Future[_Scored]] = deque()
        try:
            for chunk in chunks:
                ahead.append(tokeniser.submit(_Scored, chunk, classifier, pool, max_chars))
                if len(ahead) > AHEAD:
                    scored = ahead.popleft().result()
                    yield (scored.rows, *scored.result(width))
            while ahead:
                scored = ahead.popleft().result()
                yield (scored.rows, *scored.result(width))
        finally:
            for future in ahead:
                future.cancel()


def predict_files(classifier: Classifier, files: list[Path], config: PredictConfig) -> dict:
    """Stream the rows of `files` through the classifier into --output; returns row counts."""
    from tqdm import tqdm

    writer = open_writer(Path(config.output), classifier.labels, config.resume)
    counts = {"skipped": writer.done, "scored": 0, "errors": 0}
    if writer.done:
        print(f"resuming: {writer.done} rows already in {config.output}", file=sys.stderr)
    # disable=None: a bar on a terminal, none in logs and pipes (nor the cost of counting rows).
    show = sys.stderr.isatty() and not os.environ.get("TQDM_DISABLE")
    total = count_rows(files) if show else None
    progress = tqdm(
        total=total,
        initial=min(writer.done, total or writer.done),
        unit=" texts",
        file=sys.stderr,
        disable=None if show else True,
        mininterval=0.5,
        smoothing=0.1,
    )
    rows = islice(read_inputs(files, config.text_column, config.chunk_size), writer.done, None)
    complete = False
    try:
        for chunk, probs, truncated in score_chunks(
            classifier,
            _chunks(rows, config.chunk_size),
            config.worker_count(),
            config.max_chars,
        ):
            for row in chunk:
                if row.error is not None:
                    progress.write(f"{row.file}: line {row.line}: {row.error}", file=sys.stderr)
            writer.write(score_columns(classifier, chunk, probs, truncated))
            errors = len(chunk) - len(probs)
            counts["errors"] += errors
            counts["scored"] += len(probs)
            progress.update(len(chunk))
        complete = True
    finally:
        progress.close()
        writer.close(complete)
    return counts

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

import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from modeldistill.inference.classifier import Classifier
from modeldistill.predict.config import PredictConfig, Row
from modeldistill.predict.readers import count_rows, read_inputs
from modeldistill.predict.writers import open_writer, result_fields

# Chunks tokenised or being scored ahead of the one being written: enough to keep every worker
# busy while the main thread writes, few enough that memory stays a few chunks' worth.
AHEAD = 3


def score_columns(
    classifier: Classifier,
    rows: list[Row],
    probs: np.ndarray,
    truncated: np.ndarray,
    windows: np.ndarray,
) -> dict[str, list[Any]]:
    """The output columns of `rows`; `probs`, `truncated` and `windows` hold one entry per row
    without an error, in order. Rows with an error get nulls."""
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
    flags = (toxic.tolist(), truncated.tolist(), windows.tolist())
    for position, i in enumerate(good):
        columns["label"][i] = labels[position]
        columns["score"][i] = scores[position]
        columns["toxic"][i] = flags[0][position]
        columns["truncated"][i] = flags[1][position]
        columns["windows"][i] = flags[2][position]
    for label, values in zip(classifier.labels, by_label, strict=True):
        column = columns[f"p_{label}"]
        for position, i in enumerate(good):
            column[i] = values[position]
    return columns


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


class _Scored:
    """A chunk whose batches are queued on the workers; `result()` waits for them."""

    def __init__(self, rows: list[Row], classifier: Classifier, pool: ThreadPoolExecutor, cut: int):
        self.rows = rows
        self.classifier = classifier
        good = [row for row in rows if row.error is None]
        windows = classifier.windows([row.text[:cut] for row in good])
        too_long = windows.too_long(classifier.max_windows)
        if too_long:
            # Reported in the row's error column like any other text that cannot be scored.
            for index in too_long:
                good[index].error = (
                    f"text needs {windows.counts[index]} passages of at most "
                    f"{classifier.max_length} tokens; at most {classifier.max_windows} are read "
                    "(--max-windows, or cut it shorter with --max-chars)"
                )
            good = [row for row in good if row.error is None]
            windows = classifier.windows([row.text[:cut] for row in good])
        self.windows = windows
        counts = np.asarray(windows.counts, dtype=np.int64)
        cut_off = np.fromiter((len(row.text) > cut for row in good), dtype=bool, count=len(good))
        self.truncated = (counts > 1) | cut_off
        self.counts = counts
        self.batches: list[tuple[np.ndarray, Future]] = [
            (positions, pool.submit(classifier.probabilities, feeds))
            for positions, feeds in classifier.batches(windows.encodings)
        ]

    def result(self, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        window_probs = np.empty((len(self.windows.encodings), width), dtype=np.float32)
        for positions, future in self.batches:
            window_probs[positions] = future.result()
        probs, _ = self.classifier.combine(self.windows, window_probs)
        return probs, self.truncated, self.counts


def score_rows(
    classifier: Classifier, rows: list[Row], pool: ThreadPoolExecutor, max_chars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities, truncated, windows) of the rows without an error (after scoring: a text
    too long to read gets an error), their batches run on `pool`."""
    return _Scored(rows, classifier, pool, max_chars).result(len(classifier.labels))


def score_chunks(
    classifier: Classifier, chunks: Iterator[list[Row]], workers: int, max_chars: int
) -> Iterator[tuple[list[Row], np.ndarray, np.ndarray, np.ndarray]]:
    """(rows, probabilities, truncated, windows) per chunk, in order, with tokenising and scoring of the
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
        for chunk, probs, truncated, windows in score_chunks(
            classifier,
            _chunks(rows, config.chunk_size),
            config.worker_count(),
            config.max_chars,
        ):
            for row in chunk:
                if row.error is not None:
                    progress.write(f"{row.file}: line {row.line}: {row.error}", file=sys.stderr)
            writer.write(score_columns(classifier, chunk, probs, truncated, windows))
            errors = len(chunk) - len(probs)
            counts["errors"] += errors
            counts["scored"] += len(probs)
            progress.update(len(chunk))
        complete = True
    finally:
        progress.close()
        writer.close(complete)
    return counts

"""Output files of `predict`: JSONL or CSV lines and Parquet parts, resumable after a stop."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from modeldistill.errors import UserError


def id_fields() -> list[str]:
    return ["file", "row", "line"]


def result_fields(labels: list[str]) -> list[str]:
    """Columns after the ids and text, flat (one p_<label> per label) for CSV and Parquet."""
    return [
        "label",
        "score",
        "toxic",
        "truncated",
        "windows",
        "error",
        *(f"p_{label}" for label in labels),
    ]


class TextWriter:
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
            ("windows", pa.int64()),
            ("error", pa.string()),
            *((f"p_{label}", pa.float64()) for label in labels),
        ]
    )


class ParquetWriter:
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


def open_writer(path: Path, labels: list[str], resume: bool) -> TextWriter | ParquetWriter:
    if path.suffix.lower() == ".parquet":
        return ParquetWriter(path, labels, resume)
    return TextWriter(path, labels, resume)

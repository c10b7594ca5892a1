"""Shared by the predict tests: the model they score with and a mixed set of input files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model

WORDS = [
    "the",
    "a",
    "people",
    "forum",
    "post",
    "welcome",
    "kick",
    "out",
    "all",
    "of",
    "them",
    "here",
    "today",
    "nice",
    "vermin",
]


def fp32_model(tiny_bert_dir: Path, folder: Path) -> str:
    # fp32 ONNX only: its scores do not depend on batch companions, so runs compare exactly.
    return str(export_model(tiny_bert_dir, ExportConfig(out=folder / "m", onnx=True)))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sentence(n: int) -> str:
    """A different text for every n, of lengths from 1 to 40 words."""
    return " ".join(WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(1 + n % 40))


def write_inputs(folder: Path, rows_per_file: int) -> list[Path]:
    """A .txt, .csv, .jsonl and .parquet file of `rows_per_file` rows each, with some bad rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    texts = [sentence(n) for n in range(4 * rows_per_file)]
    parts = [texts[i * rows_per_file : (i + 1) * rows_per_file] for i in range(4)]
    parts[0][3] = "   "  # blank
    (folder / "a.txt").write_text("\n".join(parts[0]) + "\n", encoding="utf-8")
    with (folder / "b.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(parts[1]))
    lines = [json.dumps({"text": text}) for text in parts[2]]
    lines[5] = "{not json"
    (folder / "c.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    values: list[str | None] = list(parts[3])
    values[7] = None
    pq.write_table(pa.table({"text": values}), folder / "d.parquet", row_group_size=17)
    return [folder / name for name in ("a.txt", "b.csv", "c.jsonl", "d.parquet")]

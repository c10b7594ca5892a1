"""Readers of labelled text files: the hate_speech18 authors' folder, table files and Hub datasets.

Every reader returns texts and raw labels as published, or a one-line UserError that names the file
and what is wrong with it; the loaders of several sources read their files through these too.
"""

from __future__ import annotations

import csv
from pathlib import Path

from modeldistill.errors import UserError

TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def _read_text_file(path: Path, row: int) -> str:
    if not path.is_file():
        raise UserError(f"annotations_metadata.csv row {row}: text file {path} is missing")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path} is not UTF-8 (byte {error.start}): re-encode it as UTF-8"
        ) from None
    return text.strip()


def read_authors_folder(folder: Path, subset: Path | None = None) -> tuple[list[str], list[str]]:
    """Texts and label names from the authors' layout, in metadata row order (the Hub's order).

    With `subset`, only the files present in that folder (sampled_train/ or sampled_test/)."""
    metadata = folder / "annotations_metadata.csv"
    wanted = {path.stem for path in subset.glob("*.txt")} if subset is not None else None
    texts, labels = [], []
    with metadata.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file_id", "label"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{metadata} lacks column(s) {', '.join(sorted(missing))}")
        for row_number, row in enumerate(reader, start=2):
            if wanted is not None and row["file_id"] not in wanted:
                continue
            text_dir = subset if subset is not None else folder / "all_files"
            texts.append(_read_text_file(text_dir / f"{row['file_id']}.txt", row_number))
            labels.append(row["label"])
    return texts, labels


def read_frame(path: Path, columns: tuple[str, ...], hint: str = "", **csv_options):
    """A CSV/TSV/JSONL/Parquet file as a pandas frame with `columns`, or a one-line UserError.
    CSV cells stay strings ("NA" is a text, not a missing value); `csv_options` go to read_csv."""
    import pandas as pd

    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    try:
        if path.suffix in (".csv", ".tsv"):
            frame = pd.read_csv(
                path, encoding="utf-8", keep_default_na=False, dtype=str, **csv_options
            )
        elif path.suffix in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=path.suffix == ".jsonl", encoding="utf-8")
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path} is not UTF-8 (byte {error.start}): re-encode it as UTF-8"
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise UserError(f"cannot read {path}: {first_line}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}"
            + hint
        )
    return frame


def read_table_columns(path: Path, text_column: str, label_column: str) -> tuple[list[str], list]:
    """Texts and raw labels from a CSV/JSONL/Parquet file."""
    frame = read_frame(path, (text_column, label_column), " (use --text-column/--label-column)")
    texts = [("" if value is None else str(value)).strip() for value in frame[text_column]]
    return texts, list(frame[label_column])


def read_hub(dataset_id: str, text_column: str, label_column: str) -> tuple[list[str], list]:
    """A Hub dataset's train split (real users have a network; tests never come here)."""
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, split="train")
    except Exception as error:  # the hub client raises many types; the user needs the message
        raise UserError(
            f"cannot load dataset {dataset_id!r} from the Hugging Face Hub: {error}"
        ) from None
    for column in (text_column, label_column):
        if column not in loaded.column_names:
            raise UserError(f"Hub dataset {dataset_id!r} has no column {column!r}")
    labels = loaded[label_column]
    feature = loaded.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        labels = [feature.int2str(value) for value in labels]
    return [str(text).strip() for text in loaded[text_column]], labels

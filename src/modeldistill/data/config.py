"""Data: load a labelled text dataset, split it 80/10/10 like the original project, tokenise it.

    modeldistill data                                   # hate_speech18 from ../shared/data
    modeldistill data --data my.csv --json              # any CSV/JSONL/Parquet with text,label
    modeldistill data --data hate_speech18 --protocol paper   # the paper's balanced subsets

Sources: a folder in the hate_speech18 authors' layout (`annotations_metadata.csv` +
`all_files/<file_id>.txt`), a `.csv`/`.jsonl`/`.parquet` file with `text` and `label` columns
(labels as names or integer ids), or a Hugging Face Hub dataset id. Label ids follow the order in
which names first appear (for hate_speech18: noHate=0, hate=1, idk/skip=2, relation=3, as the Hub's
ClassLabel); integer labels keep their values.

The split is `datasets.Dataset.train_test_split` twice with the same seed: 80% train, then the
other 20% cut in half (validation = first half, test = second), which with seed 1234 (`--split-seed`) reproduces
the original project's 8,755 / 1,094 / 1,095 rows.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modeldistill.config import add_arguments as add_config_arguments
from modeldistill.config import from_args, option, require
from modeldistill.errors import UserError
from modeldistill.paths import REPO_ROOT
from modeldistill.textprep import TextPrep

if TYPE_CHECKING:
    import datasets

DEFAULT_DATA = str(REPO_ROOT.parent / "shared" / "data" / "hate_speech18")
TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


@dataclass
class DataConfig:
    data: list[str] = option(
        [DEFAULT_DATA],
        "dataset: authors' folder, CSV/JSONL/Parquet file or Hub id; repeat the flag (or give a "
        "YAML/JSON recipe file) to train one binary hate/not_hate model on several sources",
        repeat=True,
    )
    protocol: str = option(
        "split",
        "'split': 80/10/10 of all rows; 'paper': the authors' sampled_train/sampled_test (binary)",
        choices=["split", "paper"],
    )
    split_seed: int = option(1234, "seed of the train/validation/test split (the original's: 1234)")
    held_out: float = option(0.2, "share of rows held out, then halved into validation and test")
    stratify: bool = option(False, "stratify the split by label (the original did not)")
    text_column: str = option("text", "column holding the text in a table file")
    label_column: str = option("label", "column holding the label in a table file")
    max_length: int = option(128, "tokens per text; longer texts are truncated")
    emoji_names: bool = option(
        False, "turn emoji into their English names (the same is done when serving the model)"
    )

    @property
    def multi_source(self) -> bool:
        """Several sources (or a recipe file): one binary hate/not_hate task over all of them."""
        from modeldistill.sources.recipe import is_recipe

        return len(self.data) > 1 or is_recipe(self.data[0])

    @property
    def text_prep(self) -> TextPrep:
        return TextPrep(clean=self.multi_source, emoji_names=self.emoji_names)

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, Path)):
            self.data = [str(self.data)]
        self.data = [str(value) for value in self.data]
        require(bool(self.data), "--data needs at least one source")
        require(
            0.0 < self.held_out < 1.0, f"--held-out must be between 0 and 1, got {self.held_out}"
        )
        require(self.max_length >= 8, f"--max-length must be at least 8, got {self.max_length}")


@dataclass
class Splits:
    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    labels: list[str]
    text_prep: TextPrep = TextPrep()
    # Per source: rows read, dropped and kept (several-source runs only).
    sources: dict | None = None

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.labels)}

    def __getitem__(self, name: str) -> datasets.Dataset:
        if name not in ("train", "validation", "test"):
            raise UserError(f"unknown split {name!r}: choose train, validation or test")
        return getattr(self, name)

    def summary(self) -> dict:
        """Sizes and per-class counts of each split, in label-id order."""
        result: dict = {"labels": self.labels, "splits": {}}
        for name in ("train", "validation", "test"):
            counts = Counter(self[name]["label"])
            result["splits"][name] = {
                "rows": len(self[name]),
                "per_class": {
                    label: counts.get(index, 0) for index, label in enumerate(self.labels)
                },
            }
        if self.sources is not None:
            result["sources"] = {
                name: dataclasses.asdict(report) for name, report in self.sources.items()
            }
        return result


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


def _read_hub(dataset_id: str, config: DataConfig) -> tuple[list[str], list]:
    """A Hub dataset's train split (real users have a network; tests never come here)."""
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, split="train")
    except Exception as error:  # the hub client raises many types; the user needs the message
        raise UserError(
            f"cannot load dataset {dataset_id!r} from the Hugging Face Hub: {error}"
        ) from None
    for column in (config.text_column, config.label_column):
        if column not in loaded.column_names:
            raise UserError(f"Hub dataset {dataset_id!r} has no column {column!r}")
    labels = loaded[config.label_column]
    feature = loaded.features[config.label_column]
    if isinstance(feature, datasets.ClassLabel):
        labels = [feature.int2str(value) for value in labels]
    return [str(text).strip() for text in loaded[config.text_column]], labels


def _label_names(raw_labels: list) -> tuple[list[str], list[int]]:
    """Label names and ids: integer labels keep their values, names are numbered by first appearance."""
    if not raw_labels:
        raise UserError("the dataset has no rows")
    as_text = [str(value).strip() for value in raw_labels]
    if any(text == "" for text in as_text):
        row = next(i for i, text in enumerate(as_text) if text == "")
        raise UserError(f"row {row + 1} has an empty label")
    if all(text.lstrip("-").isdigit() for text in as_text):
        ids = [int(text) for text in as_text]
        present = sorted(set(ids))
        if present[0] < 0 or present != list(range(present[-1] + 1)):
            raise UserError(f"integer labels must be 0..K-1 with every id present, got {present}")
        return [str(i) for i in present], ids
    names = list(dict.fromkeys(as_text))
    index = {name: i for i, name in enumerate(names)}
    return names, [index[text] for text in as_text]


def _to_dataset(texts: list[str], label_ids: list[int], labels: list[str], source: str):
    import datasets

    empty = [row for row, text in enumerate(texts, start=1) if not text]
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (" …" if len(empty) > 5 else "")
        raise UserError(f"{source}: {len(empty)} empty text(s), at row(s) {shown}")
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=labels)}
    )
    return datasets.Dataset.from_dict({"text": texts, "label": label_ids}, features=features)


def load_rows(config: DataConfig) -> tuple[datasets.Dataset, list[str]]:
    """The whole dataset (columns `text`, `label`) and its label names, before any split."""
    path = Path(config.data[0])
    if path.is_dir():
        if not (path / "annotations_metadata.csv").is_file():
            raise UserError(
                f"{path} is a folder without annotations_metadata.csv: give the hate_speech18 "
                "authors' folder or a .csv/.jsonl/.parquet file"
            )
        texts, raw = read_authors_folder(path)
    elif path.suffix in TABLE_SUFFIXES:
        if not path.is_file():
            raise UserError(f"data file not found: {path}")
        texts, raw = read_table_columns(path, config.text_column, config.label_column)
    elif path.exists():
        raise UserError(f"{path}: unsupported file type; use .csv, .jsonl or .parquet")
    elif (
        "/" in config.data[0]
        and not config.data[0].startswith((".", "/"))
        and config.data[0].count("/") == 1
    ):
        texts, raw = _read_hub(config.data[0], config)
    else:
        raise UserError(f"data not found: {path} (no such folder or file)")
    labels, ids = _label_names(raw)
    return _to_dataset(texts, ids, labels, str(path)), labels


def _check_splits(splits: Splits, stratified: bool) -> None:
    hint = "" if stratified else "; try --stratify or more data"
    for name in ("train", "validation", "test"):
        part = splits[name]
        if len(part) == 0:
            raise UserError(
                f"the {name} split is empty: the dataset has too few rows ({hint.lstrip('; ')})"
            )
        absent = [label for i, label in enumerate(splits.labels) if i not in set(part["label"])]
        if absent:
            raise UserError(
                f"the {name} split has no example of class(es) {', '.join(absent)}{hint}"
            )


def _paper_splits(config: DataConfig) -> Splits:
    """The paper's protocol: binary hate/noHate, train on sampled_train, test on sampled_test; a
    seeded 10% of sampled_train is held out for validation (model selection, threshold)."""
    folder = Path(config.data[0])
    for sub in ("sampled_train", "sampled_test"):
        if not (folder / sub).is_dir():
            raise UserError(
                f"--protocol paper needs {folder / sub} (the authors' balanced subsets)"
            )
    labels = ["noHate", "hate"]

    def load(sub: str):
        texts, raw = read_authors_folder(folder, folder / sub)
        unexpected = sorted(set(raw) - set(labels))
        if unexpected:
            raise UserError(
                f"{folder / sub} holds labels {unexpected}; the paper protocol is binary"
            )
        return _to_dataset(texts, [labels.index(name) for name in raw], labels, str(folder / sub))

    train_and_validation = load("sampled_train").train_test_split(
        test_size=0.1,
        seed=config.split_seed,
        stratify_by_column="label" if config.stratify else None,
    )
    splits = Splits(
        train_and_validation["train"], train_and_validation["test"], load("sampled_test"), labels
    )
    _check_splits(splits, config.stratify)
    return splits


def _multi_source_splits(config: DataConfig) -> Splits:
    from modeldistill.sources import build
    from modeldistill.sources.recipe import specs_from_values

    require(config.protocol == "split", "--protocol paper needs a single hate_speech18 folder")
    specs = specs_from_values(config.data)
    rows, reports = build.build_rows(specs, config.split_seed, config.held_out, config.text_prep)
    parts = {
        name: build.to_dataset([row for row in rows if row.split == name]) for name in build.SPLITS
    }
    splits = Splits(
        parts["train"],
        parts["validation"],
        parts["test"],
        list(build.LABELS),
        config.text_prep,
        reports,
    )
    _check_splits(splits, stratified=True)
    return splits


def load_splits(config: DataConfig) -> Splits:
    """Train/validation/test exactly as the original project split them (see module docstring)."""
    if config.multi_source:
        return _multi_source_splits(config)
    if config.protocol == "paper":
        return _paper_splits(config)
    rows, labels = load_rows(config)
    stratify = "label" if config.stratify else None
    try:
        first = rows.train_test_split(
            test_size=config.held_out, seed=config.split_seed, stratify_by_column=stratify
        )
        second = first["test"].train_test_split(
            test_size=0.5, seed=config.split_seed, stratify_by_column=stratify
        )
    except ValueError as error:  # too few rows for the requested split or stratification
        raise UserError(f"cannot split {len(rows)} rows: {error}") from None
    splits = Splits(first["train"], second["train"], second["test"], labels)
    _check_splits(splits, config.stratify)
    return splits


def model_inputs(dataset: datasets.Dataset) -> list[str]:
    """The texts a model is scored on: as published (`raw_text`, several-source data), so each
    model prepares them the way it was trained to, exactly as when it is served."""
    column = "raw_text" if "raw_text" in dataset.column_names else "text"
    return list(dataset[column])


def tokenize(dataset: datasets.Dataset, tokenizer, max_length: int) -> datasets.Dataset:
    """Token ids without padding (the collator pads per batch) and a `length` column, which the
    length-grouped sampler reads instead of re-measuring every example."""

    def encode(batch: dict) -> dict:
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(encode, batched=True, desc="tokenising", keep_in_memory=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, DataConfig)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def main(args: argparse.Namespace) -> int:
    config = from_args(DataConfig, args)
    summary = load_splits(config).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    labels = summary["labels"]
    width = max(12, *(len(label) for label in labels))
    print(f"{'split':<12}{'rows':>8}" + "".join(f"{label:>{width}}" for label in labels))
    for name, part in summary["splits"].items():
        counts = "".join(f"{part['per_class'][label]:>{width},}" for label in labels)
        print(f"{name:<12}{part['rows']:>8,}{counts}")
    if "sources" in summary:
        print()
        _print_sources(summary["sources"], labels)
    return 0


def _print_sources(sources: dict, labels: list[str]) -> None:
    """Rows per source, split and label, and what was dropped on the way."""
    width = max(10, *(len(name) for name in sources)) + 2
    columns = [f"{split}:{label}" for split in ("train", "validation", "test") for label in labels]
    print(
        f"{'source':<{width}}"
        + "".join(f"{c:>20}" for c in columns)
        + f"{'duplicates':>12}{'leaks':>8}"
    )
    for name, report in sources.items():
        counts = "".join(
            f"{report['rows'][split][label]:>20,}"
            for split in ("train", "validation", "test")
            for label in labels
        )
        print(
            f"{name:<{width}}{counts}{report['duplicates']:>12,}{report['held_out_elsewhere']:>8,}"
        )

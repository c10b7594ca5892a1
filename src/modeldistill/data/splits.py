"""The 80/10/10 split of one source (the original project's), the paper's protocol and several
sources as one binary task; `model_inputs` gives the texts a model is scored on.

The split is `datasets.Dataset.train_test_split` twice with the same seed: 80% train, then the
other 20% cut in half (validation = first half, test = second), which with seed 1234
(`--split-seed`) reproduces the original project's 8,755 / 1,094 / 1,095 rows of hate_speech18.
Label ids follow the order in which names first appear (for hate_speech18: noHate=0, hate=1,
idk/skip=2, relation=3, as the Hub's ClassLabel); integer labels keep their values.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from modeldistill.data.config import DataConfig, Splits
from modeldistill.data.readers import (
    TABLE_SUFFIXES,
    read_authors_folder,
    read_hub,
    read_table_columns,
)
from modeldistill.data.sources import build
from modeldistill.data.sources.recipe import specs_from_values
from modeldistill.errors import UserError
from modeldistill.labels import BINARY_LABELS
from modeldistill.settings import require

if TYPE_CHECKING:
    import datasets


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
        texts, raw = read_hub(config.data[0], config.text_column, config.label_column)
    else:
        raise UserError(f"data not found: {path} (no such folder or file)")
    labels, ids = _label_names(raw)
    if len(labels) < 2:
        # Training would "succeed" with every score perfect and nothing learnt.
        raise UserError(
            f"{config.data[0]} has one label ({labels[0]}): a classifier needs at least two"
        )
    return _to_dataset(texts, ids, labels, str(path)), labels


def _check_splits(
    splits: Splits, stratified: bool, required: tuple[str, ...] = build.SPLITS
) -> None:
    hint = "" if stratified else "; try --stratify or more data"
    for name in required:
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


def _paper_splits(config: DataConfig, required: tuple[str, ...]) -> Splits:
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
    _check_splits(splits, config.stratify, required)
    return splits


def _multi_source_splits(config: DataConfig, required: tuple[str, ...]) -> Splits:
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
        list(BINARY_LABELS),
        config.text_prep,
        reports,
    )
    _check_splits(splits, stratified=True, required=required)
    return splits


def load_splits(config: DataConfig, required: tuple[str, ...] = build.SPLITS) -> Splits:
    """Train/validation/test exactly as the original project split them (see module docstring).
    `required`: the splits that must hold rows of every class (evaluate needs only the one it
    scores, so that a recipe of validation-only sources can be scored)."""
    if config.multi_source:
        return _multi_source_splits(config, required)
    if config.protocol == "paper":
        return _paper_splits(config, required)
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
    authors_folder = Path(config.data[0]).is_dir()
    drop = config.deduplicate if config.deduplicate is not None else not authors_folder
    splits = _deduplicate(splits, drop)
    _check_splits(splits, config.stratify, required)
    return splits


def _deduplicate(splits: Splits, drop: bool) -> Splits:
    """Each normalised text once, in its most held-out split (within a split, its first row), as
    several sources are built: rows only leave a split, none moves, so the cut stays the seed's.
    Without `drop` the same rows are counted and kept."""
    seen: dict[str, str] = {}
    kept: dict[str, list[int]] = {}
    duplicates = leaks = 0
    for name in ("test", "validation", "train"):
        kept[name] = []
        for index, text in enumerate(splits[name]["text"]):
            key = build.duplicate_key(text)
            if key in seen:
                duplicates += seen[key] == name
                leaks += seen[key] != name
                continue
            seen[key] = name
            kept[name].append(index)
    overlap = {"duplicates": duplicates, "held_out_elsewhere": leaks, "dropped": drop}
    if not drop:
        return dataclasses.replace(splits, overlap=overlap)
    parts = {name: splits[name].select(kept[name]) for name in ("train", "validation", "test")}
    return dataclasses.replace(splits, **parts, overlap=overlap)


def model_inputs(dataset: datasets.Dataset) -> list[str]:
    """The texts a model is scored on: as published (`raw_text`, several-source data), so each
    model prepares them the way it was trained to, exactly as when it is served."""
    column = "raw_text" if "raw_text" in dataset.column_names else "text"
    return list(dataset[column])

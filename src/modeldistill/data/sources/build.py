"""Several sources -> one binary train/validation/test split, de-duplicated and leak-free.

Per source: read the rows as published, map each original label onto hate / not_hate (a label the
map does not name is an error, not a silent default), fix the split (the official one, or a
stratified 80/10/10 by seed, or hate_speech18's original cut), prepare the text the way serving
will. Then, across all sources at once, drop exact and normalised duplicates so that a text is kept
once, in the most held-out split it appears in (test before validation before train): no test text
can then be trained or tuned on. Caps, counterfactual copies and weights apply last, to training
rows only.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from modeldistill.data.sources.loaders import LOADERS
from modeldistill.data.sources.recipe import SourceSpec
from modeldistill.errors import UserError
from modeldistill.labels import BINARY_LABELS, HATE
from modeldistill.synthetic.identity import IDENTITIES, mentioned_groups, swap_identity
from modeldistill.text import TextPrep

SPLITS = ("train", "validation", "test")
_PRIORITY = {"test": 0, "validation": 1, "train": 2}
_HANDLE_OR_URL = re.compile(r"(?:<user>|@\w+|(?:https?://|www\.)\S+|\bhttp\b)", re.IGNORECASE)
_RETWEET = re.compile(r"^\W*rt\b", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")


def duplicate_key(text: str) -> str:
    """Texts that differ only in case, spacing, punctuation, user mentions, links or a retweet
    marker are the same text to a reader, and to a model after tokenising."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _HANDLE_OR_URL.sub(" ", text)
    text = _RETWEET.sub(" ", text)
    return _NON_WORD.sub(" ", text).strip()


@dataclass
class Row:
    text: str
    label: str
    source: str
    original_label: str
    split: str
    group: str = ""
    raw_text: str = ""  # as published: what a user would send; models apply their own preparation


@dataclass
class SourceReport:
    read: int = 0
    empty: int = 0
    dropped_by_label_map: int = 0
    duplicates: int = 0  # kept once: same text in the same split
    held_out_elsewhere: int = 0  # removed because the text is in a more held-out split
    capped: int = 0
    counterfactual: int = 0  # training rows added with another group's words (label kept)
    hard_negatives: int = 0  # extra repeats of non-hateful training rows that name a group
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> count


def _seeded_split(labels: list[str], seed: int, held_out: float, stratify: bool) -> list[str]:
    """train/validation/test per row: `held_out` of the rows, then halved, as data.py cuts a
    single source (datasets' train_test_split, so hate_speech18 gets the original rows)."""
    import datasets

    names = sorted(set(labels))
    features = datasets.Features(
        {"i": datasets.Value("int64"), "y": datasets.ClassLabel(names=names)}
    )
    table = datasets.Dataset.from_dict(
        {"i": list(range(len(labels))), "y": [names.index(label) for label in labels]},
        features=features,
    )
    # Stratifying needs a few rows of each class in every split; a tiny class is split by chance.
    smallest = min(Counter(labels).values())
    by = "y" if stratify and len(names) > 1 and smallest >= 10 else None
    try:
        first = table.train_test_split(test_size=held_out, seed=seed, stratify_by_column=by)
        second = first["test"].train_test_split(test_size=0.5, seed=seed, stratify_by_column=by)
    except ValueError as error:
        raise UserError(f"cannot split {len(labels)} rows: {error}") from None
    assignment = [""] * len(labels)
    for split, part in (
        ("train", first["train"]),
        ("validation", second["train"]),
        ("test", second["test"]),
    ):
        for index in part["i"]:
            assignment[index] = split
    return assignment


def _source_rows(
    spec: SourceSpec, seed: int, held_out: float, prep: TextPrep, report: SourceReport
) -> list[Row]:
    loader = LOADERS[spec.loader]
    path = Path(spec.path)
    if loader.needs_path and not path.exists():
        raise UserError(f"source {spec.name!r}: {path} not found")
    raw = loader.read(
        path, {"text_column": spec.text_column, "label_column": spec.label_column, "seed": seed}
    )
    report.read = len(raw.texts)
    if not raw.texts:
        raise UserError(f"source {spec.name!r} ({path}) has no rows")
    unmapped = sorted(set(raw.labels) - set(spec.label_map))
    if unmapped:
        raise UserError(
            f"source {spec.name!r}: label(s) {', '.join(map(repr, unmapped))} not in its label map "
            f"{spec.label_map}; map each to hate, not_hate or null in a recipe file"
        )
    mapped = [spec.label_map[label] for label in raw.labels]
    if loader.split_policy == "original":
        split = _seeded_split(raw.labels, seed, held_out, stratify=False)
    elif loader.split_policy == "official" and raw.split is not None:
        split = raw.split
    elif loader.split_policy == "validation":
        split = ["validation"] * len(mapped)
    else:
        split = [""] * len(mapped)
        kept = [i for i, label in enumerate(mapped) if label is not None]
        if kept:
            for index, value in zip(
                kept, _seeded_split([mapped[i] for i in kept], seed, held_out, True), strict=True
            ):
                split[index] = value
    rows = []
    for index, text in enumerate(raw.texts):
        if mapped[index] is None:
            report.dropped_by_label_map += 1
            continue
        prepared = prep(str(text).strip())
        if not duplicate_key(prepared):
            report.empty += 1
            continue
        group = raw.groups[index] if raw.groups is not None else ""
        rows.append(
            Row(
                prepared,
                mapped[index],
                spec.name,
                raw.labels[index],
                split[index],
                str(group),
                raw_text=str(text).strip(),
            )
        )
    if not rows:
        raise UserError(f"source {spec.name!r} ({path}) has no usable rows after its label map")
    return rows


def _deduplicate(rows: list[Row], reports: dict[str, SourceReport]) -> list[Row]:
    """Keep each normalised text once, in its most held-out split; within a split the first one."""
    keys = [duplicate_key(row.text) for row in rows]
    best: dict[str, int] = {}
    for index, (key, row) in enumerate(zip(keys, rows, strict=True)):
        current = best.get(key)
        if current is None or _PRIORITY[row.split] < _PRIORITY[rows[current].split]:
            best[key] = index
    kept = []
    for index, (key, row) in enumerate(zip(keys, rows, strict=True)):
        winner = best[key]
        if winner == index:
            kept.append(row)
        elif rows[winner].split == row.split:
            reports[row.source].duplicates += 1
        else:
            reports[row.source].held_out_elsewhere += 1
    return kept


def _repeat(rows: list[Row], times: float, rng: random.Random) -> list[Row]:
    """`rows` counted `times` times: whole repeats, then a seeded sample for the fraction."""
    repeated = rows * int(times)
    fraction = times - int(times)
    if fraction:
        repeated += rng.sample(rows, round(fraction * len(rows)))
    return repeated


def _counterfactuals(
    train: list[Row], copies: int, taken: set[str], rng: random.Random
) -> list[Row]:
    """Per training row that names exactly one identity group, `copies` rows naming other groups
    instead, label kept. A copy that equals a text already kept (in any split: no held-out text may
    be trained on) is dropped."""
    keys = [identity.key for identity in IDENTITIES]
    added = []
    for row in train:
        named = mentioned_groups(row.text)
        if len(named) != 1:
            continue  # two groups ("Jews and Muslims") would swap into nonsense
        (source,) = named
        for target in rng.sample([key for key in keys if key != source], copies):
            text = swap_identity(row.text, source, target)
            key = duplicate_key(text)
            if key in taken:
                continue
            taken.add(key)
            raw = swap_identity(row.raw_text, source, target) if row.raw_text else ""
            added.append(replace(row, text=text, raw_text=raw, group=target))
    return added


def _cap_and_weight(
    rows: list[Row], specs: list[SourceSpec], seed: int, reports: dict[str, SourceReport]
) -> list[Row]:
    rng = random.Random(seed)
    result = [row for row in rows if row.split != "train"]
    taken = {duplicate_key(row.text) for row in rows}
    for spec in specs:
        train = [row for row in rows if row.split == "train" and row.source == spec.name]
        if spec.max_train_rows and len(train) > spec.max_train_rows:
            reports[spec.name].capped = len(train) - spec.max_train_rows
            train = rng.sample(train, spec.max_train_rows)
        if spec.counterfactual:
            copies = _counterfactuals(train, spec.counterfactual, taken, rng)
            reports[spec.name].counterfactual = len(copies)
            train += copies
        if spec.hard_negative_weight > 1:
            hard = [row for row in train if row.label != HATE and mentioned_groups(row.text)]
            extra = _repeat(hard, spec.hard_negative_weight - 1, rng)
            reports[spec.name].hard_negatives = len(extra)
            train += extra
        result += _repeat(train, spec.weight, rng)
    return result


def build_rows(
    specs: list[SourceSpec], seed: int, held_out: float, prep: TextPrep
) -> tuple[list[Row], dict[str, SourceReport]]:
    if not specs:
        raise UserError("no data source given")
    reports = {spec.name: SourceReport() for spec in specs}
    rows: list[Row] = []
    for spec in specs:
        rows += _source_rows(spec, seed, held_out, prep, reports[spec.name])
    rows = _deduplicate(rows, reports)
    rows = _cap_and_weight(rows, specs, seed, reports)
    for name, report in reports.items():
        counts = Counter((row.split, row.label) for row in rows if row.source == name)
        report.rows = {
            split: {label: counts.get((split, label), 0) for label in BINARY_LABELS}
            for split in SPLITS
        }
    return rows, reports


def to_dataset(rows: list[Row]):
    import datasets

    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=list(BINARY_LABELS)),
            "source": datasets.Value("string"),
            "original_label": datasets.Value("string"),
            "group": datasets.Value("string"),
            "raw_text": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "text": [row.text for row in rows],
            "label": [BINARY_LABELS.index(row.label) for row in rows],
            "source": [row.source for row in rows],
            "original_label": [row.original_label for row in rows],
            "group": [row.group for row in rows],
            "raw_text": [row.raw_text for row in rows],
        },
        features=features,
    )


def check_no_leak(splits) -> None:
    """No normalised test or validation text appears in a split that is trained or tuned on."""
    keys = {name: {duplicate_key(text) for text in splits[name]["text"]} for name in SPLITS}
    for held, other in (("test", "train"), ("test", "validation"), ("validation", "train")):
        shared = keys[held] & keys[other]
        if shared:
            raise AssertionError(
                f"{len(shared)} {held} text(s) also in {other}: {sorted(shared)[:3]}"
            )


__all__ = ["HATE", "build_rows", "check_no_leak", "duplicate_key", "to_dataset"]

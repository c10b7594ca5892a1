"""The data stage's settings (`DataConfig`, the `data` flags) and the splits it hands on (`Splits`)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modeldistill.data.sources.recipe import is_recipe, read_text_prep
from modeldistill.errors import UserError
from modeldistill.paths import SHARED_DATA
from modeldistill.settings import option, require
from modeldistill.text import TextPrep

if TYPE_CHECKING:
    import datasets

DEFAULT_DATA = str(SHARED_DATA / "hate_speech18")


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
    emoji_names: bool | None = option(
        None,
        "turn emoji into their English names (the same is done when serving the model; default: "
        "what the recipe's `text_prep:` says, else off)",
    )
    deduplicate: bool | None = option(
        None,
        "one source: drop repeated texts and those also in a more held-out split (test before "
        "validation before train), as several sources always do (default: on, except for the "
        "hate_speech18 authors' folder, whose original 8,755/1,094/1,095 cut is reproduced and "
        "its duplicates only counted)",
    )

    @property
    def multi_source(self) -> bool:
        """Several sources (or a recipe file): one binary hate/not_hate task over all of them."""
        return len(self.data) > 1 or is_recipe(self.data[0])

    @property
    def text_prep(self) -> TextPrep:
        """How texts are prepared: a recipe file's `text_prep:` (several sources are cleaned
        unless it says otherwise), then --emoji-names when given."""
        recorded: dict[str, bool] = {}
        for value in self.data:
            if is_recipe(value) and Path(value).is_file():
                recorded |= read_text_prep(Path(value))
        emoji = self.emoji_names if self.emoji_names is not None else recorded.get("emoji_names")
        return TextPrep(
            clean=recorded.get("clean", self.multi_source) if self.multi_source else False,
            emoji_names=bool(emoji),
            deobfuscate=recorded.get("deobfuscate", False),
        )

    def as_model_was_trained(self, model_dir: Path) -> DataConfig:
        """These settings with the emoji preparation the model's config.json records, unless
        --emoji-names was given: scoring a model builds the rows it was trained and tested on."""
        if self.emoji_names is not None:
            return self
        try:
            config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self  # not a model folder: the loader says so with its own message
        block = config.get("modeldistill") if isinstance(config, dict) else None
        recorded = (block or {}).get("text_prep") if isinstance(block, dict) else None
        if not isinstance(recorded, dict) or "emoji_names" not in recorded:
            return self
        return dataclasses.replace(self, emoji_names=bool(recorded["emoji_names"]))

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
    # One source: repeated texts and texts also in a more held-out split, and whether they were
    # dropped (`--deduplicate`) or only counted.
    overlap: dict | None = None

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
        if self.overlap is not None:
            result["overlap"] = self.overlap
        if self.sources is not None:
            result["sources"] = {
                name: dataclasses.asdict(report) for name, report in self.sources.items()
            }
        return result

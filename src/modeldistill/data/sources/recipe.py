"""The data recipe: which sources one run trains on, each with its loader, label map, weight and cap.

    modeldistill data --data hate_speech18 --data davidson2017 --data hatexplain
    modeldistill data --data recipes/general.yaml

A recipe file (YAML or JSON) looks like:

    sources:
      - loader: hate_speech18            # path defaults to ../shared/data/<loader>
      - loader: davidson2017
        max_train_rows: 8000             # seeded sample of the training rows, after de-duplication
      - loader: table
        name: my_posts
        path: data/posts.csv
        text_column: body
        label_map: {toxic: hate, clean: not_hate, spam: null}   # null drops the row
        weight: 2                        # training rows repeated (fractions sample)
        counterfactual: 1                # per training row naming one group, copies naming others
        hard_negative_weight: 2          # non-hateful training rows naming a group, repeated
    text_prep:                           # how every text is prepared (for training and serving)
      clean: true                        # default true: several sources are always cleaned
      emoji_names: true                  # default false; `--emoji-names` overrides it
      deobfuscate: true                  # default false; lookalike letters, leetspeak... undone

A `--data` value names a loader (its shared folder), a shared folder, a table file, or a recipe file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from modeldistill.data.sources.loaders import HATE, LOADERS, NOT_HATE
from modeldistill.errors import UserError
from modeldistill.paths import SHARED_DATA

RECIPE_SUFFIXES = (".yaml", ".yml", ".json")
TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")
_KEYS = {
    "loader",
    "name",
    "path",
    "label_map",
    "weight",
    "max_train_rows",
    "counterfactual",
    "hard_negative_weight",
    "text_column",
    "label_column",
}


@dataclass
class SourceSpec:
    loader: str
    name: str = ""
    path: str = ""
    label_map: dict[str, str | None] = field(default_factory=dict)
    weight: float = 1.0
    max_train_rows: int = 0
    # Counterfactual copies (group words swapped, label kept) per training row naming one group.
    counterfactual: int = 0
    # How many times a non-hateful training row that names a group counts (on top of `weight`).
    hard_negative_weight: float = 1.0
    text_column: str = "text"
    label_column: str = "label"

    def __post_init__(self) -> None:
        if self.loader not in LOADERS:
            raise UserError(
                f"unknown source loader {self.loader!r}: choose one of {', '.join(LOADERS)}"
            )
        self.name = self.name or self.loader
        if not self.path and self.loader == "table":
            raise UserError(f"source {self.name!r}: the table loader needs a path")
        if LOADERS[self.loader].needs_path:
            self.path = self.path or str(SHARED_DATA / self.loader)
        if not self.label_map:
            self.label_map = dict(LOADERS[self.loader].label_map)
        self.label_map = {str(key): value for key, value in self.label_map.items()}
        bad = {
            key: value
            for key, value in self.label_map.items()
            if value not in (HATE, NOT_HATE, None)
        }
        if bad:
            raise UserError(
                f"source {self.name!r}: label_map values must be hate, not_hate or null, got {bad}"
            )
        if not self.weight > 0:
            raise UserError(f"source {self.name!r}: weight must be positive, got {self.weight}")
        if self.max_train_rows < 0:
            raise UserError(f"source {self.name!r}: max_train_rows must be >= 0")
        if isinstance(self.counterfactual, bool) or not isinstance(self.counterfactual, int):
            raise UserError(f"source {self.name!r}: counterfactual must be a whole number")
        if not 0 <= self.counterfactual <= 8:
            raise UserError(
                f"source {self.name!r}: counterfactual must be 0 to 8 copies, got {self.counterfactual}"
            )
        if not isinstance(self.hard_negative_weight, (int, float)) or not (
            self.hard_negative_weight >= 1
        ):
            raise UserError(
                f"source {self.name!r}: hard_negative_weight must be at least 1, "
                f"got {self.hard_negative_weight}"
            )

    def to_dict(self) -> dict:
        return {
            "loader": self.loader,
            "name": self.name,
            "path": self.path,
            "label_map": self.label_map,
            "weight": self.weight,
            "max_train_rows": self.max_train_rows,
            "counterfactual": self.counterfactual,
            "hard_negative_weight": self.hard_negative_weight,
            "text_column": self.text_column,
            "label_column": self.label_column,
        }


def _spec_from_mapping(entry: object, where: str) -> SourceSpec:
    if not isinstance(entry, dict):
        raise UserError(f"{where}: each source must be a mapping with at least `loader`")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}"
        )
    if "loader" not in entry:
        raise UserError(f"{where}: a source needs `loader` ({', '.join(LOADERS)})")
    try:
        return SourceSpec(**entry)
    except TypeError as error:
        raise UserError(f"{where}: {error}") from None


TEXT_PREP_KEYS = ("clean", "emoji_names", "deobfuscate")


def _payload(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read recipe {path}: {error}") from None
    try:
        if path.suffix == ".json":
            payload = json.loads(text)
        else:
            import yaml

            payload = yaml.safe_load(text)
    except (ValueError, Exception) as error:  # yaml.YAMLError and json's ValueError
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"recipe {path} is not valid {path.suffix.lstrip('.').upper()}: {first}"
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("sources"), list):
        raise UserError(f"recipe {path} must be a mapping with a `sources:` list")
    if not payload["sources"]:
        raise UserError(f"recipe {path} names no source")
    extra = sorted(set(payload) - {"sources", "text_prep"})
    if extra:
        raise UserError(f"recipe {path}: unknown top-level key(s) {', '.join(extra)}")
    return payload


def read_text_prep(path: Path) -> dict[str, bool]:
    """The recipe's `text_prep:` settings ({} when it has none): recorded in the recipe so that
    `data` and `evaluate` build the same rows as training without repeating a flag."""
    prep = _payload(path).get("text_prep") or {}
    if not isinstance(prep, dict):
        raise UserError(
            f"recipe {path}: `text_prep:` must be a mapping ({', '.join(TEXT_PREP_KEYS)})"
        )
    unknown = sorted(set(prep) - set(TEXT_PREP_KEYS))
    if unknown:
        raise UserError(
            f"recipe {path}: unknown text_prep key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(TEXT_PREP_KEYS)}"
        )
    bad = sorted(key for key, value in prep.items() if not isinstance(value, bool))
    if bad:
        raise UserError(f"recipe {path}: text_prep {', '.join(bad)} must be true or false")
    return dict(prep)


def read_recipe(path: Path) -> list[SourceSpec]:
    """The sources a recipe file names; relative paths are read from the file's folder."""
    payload = _payload(path)
    specs = []
    for index, entry in enumerate(payload["sources"], start=1):
        spec = _spec_from_mapping(entry, f"recipe {path}, source {index}")
        if spec.path and not Path(spec.path).is_absolute() and "path" in entry:
            spec.path = str((path.parent / spec.path).resolve())
        specs.append(spec)
    return specs


def _spec_from_value(value: str) -> SourceSpec:
    if value in LOADERS and value not in ("table",):
        return SourceSpec(loader=value)
    path = Path(value)
    if path.is_dir():
        if path.name in LOADERS:
            return SourceSpec(loader=path.name, path=str(path))
        if (path / "annotations_metadata.csv").is_file():
            return SourceSpec(loader="hate_speech18", name=path.name, path=str(path))
        raise UserError(
            f"{path}: not a known source folder; name its loader in a recipe file "
            f"(loaders: {', '.join(LOADERS)})"
        )
    if path.suffix in TABLE_SUFFIXES:
        if not path.is_file():
            raise UserError(f"data file not found: {path}")
        return SourceSpec(loader="table", name=path.stem, path=str(path))
    raise UserError(
        f"unknown source {value!r}: give a loader name ({', '.join(n for n in LOADERS if n != 'table')}), "
        "a source folder, a .csv/.jsonl/.parquet file or a recipe file"
    )


def is_recipe(value: str) -> bool:
    path = Path(value)
    if path.suffix in (".yaml", ".yml"):
        return True
    if path.suffix == ".json" and path.is_file():
        # A JSON table is a list of rows; a recipe is a mapping with `sources`.
        try:
            return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        except (ValueError, UnicodeDecodeError):
            return True
    return False


def specs_from_values(values: list[str]) -> list[SourceSpec]:
    """The sources that several `--data` values (or one recipe file) name."""
    specs: list[SourceSpec] = []
    for value in values:
        if is_recipe(value):
            if not Path(value).is_file():
                raise UserError(f"recipe file not found: {value}")
            specs += read_recipe(Path(value))
        else:
            specs.append(_spec_from_value(value))
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"source(s) named twice: {', '.join(repeated)} (give each a distinct name)")
    return specs

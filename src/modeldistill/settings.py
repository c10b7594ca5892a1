"""Typed stage configs: dataclass fields become CLI flags, and the resolved config is saved as JSON.

Each stage module defines its own dataclass (fields with `help=` metadata, checks in
`__post_init__`); the helpers here turn it into argparse flags and back, so a flag, its default
and its help text are written once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from modeldistill.errors import UserError

T = TypeVar("T")


def option(default: Any, help: str, **extra: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    """A dataclass field that carries its CLI help text."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata={"help": help, **extra}
        )
    return dataclasses.field(default=default, metadata={"help": help, **extra})


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(the scalar type, whether None is allowed) for annotations like `int | None`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def add_arguments(
    parser: argparse.ArgumentParser, config_cls: type, skip: tuple[str, ...] = ()
) -> None:
    """Add one `--flag` per dataclass field (underscores become dashes)."""
    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        if field.name in skip or field.metadata.get("cli") is False:
            continue
        flag = "--" + field.name.replace("_", "-")
        kind, _ = _base_type(hints[field.name])
        default = (
            field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        )
        help_text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
            continue
        if field.metadata.get("repeat"):
            # Repeating the flag adds a value; without it the field keeps its default.
            parser.add_argument(
                flag,
                action="append",
                default=None,
                metavar=field.name.upper(),
                help=f"{help_text} (default: {','.join(map(str, default)) or 'none'})",
            )
            continue
        if typing.get_origin(kind) in (list, tuple):
            item_type = typing.get_args(kind)[0]
            parser.add_argument(
                flag,
                type=_comma_list(item_type),
                default=default,
                metavar=field.name.upper(),
                help=f"{help_text} (comma-separated; default: {','.join(map(str, default)) or 'none'})",
            )
            continue
        parser.add_argument(
            flag,
            type=Path if kind is Path else kind,
            default=default,
            choices=field.metadata.get("choices"),
            help=f"{help_text} (default: {default})",
        )


def _comma_list(item_type: type):
    def parse(text: str) -> list:
        items = [part.strip() for part in text.split(",") if part.strip()]
        try:
            return [item_type(part) for part in items]
        except ValueError as error:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of {item_type.__name__}"
            ) from error

    return parse


def from_args(config_cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build the config from parsed flags; its __post_init__ checks raise UserError on bad values."""
    names = {field.name for field in dataclasses.fields(config_cls)}
    values = {
        name: getattr(args, name)
        for name in names
        if hasattr(args, name) and getattr(args, name) is not None
    }
    values.update(overrides)
    return config_cls(**values)


def to_jsonable(config: Any) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        return value

    return {key: convert(value) for key, value in dataclasses.asdict(config).items()}


def save_config(config: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config": type(config).__name__, **to_jsonable(config)}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def require(condition: bool, message: str) -> None:
    """Config validation that reads as a sentence in __post_init__."""
    if not condition:
        raise UserError(message)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers and `taskset` narrow),
    the default thread and worker count of every stage."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1

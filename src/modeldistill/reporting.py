"""Markdown tables, the one shape every generated text (bench, the experiment's report, the model
card) prints its figures in, and the one way a missing figure is shown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MISSING = "–"


def figure(value: float | None, digits: int) -> str:
    """A number with `digits` decimals, or the dash that stands for a figure not measured."""
    return MISSING if value is None else f"{value:.{digits}f}"


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[bool] = ()
) -> str:
    """A GitHub-flavoured table; columns flagged in `numeric` are right-aligned."""
    align = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def markdown_environment(folder: Path) -> Any:
    """The Jinja2 environment every Markdown text is rendered with (the model card, the reports):
    no HTML escaping (it would print "&" and "`" of the figures as entities), a value the data
    lacks fails the render instead of printing as an empty cell, block tags leave no blank lines.
    Jinja2 comes with the train extra; importing it here keeps the core install free of it."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )

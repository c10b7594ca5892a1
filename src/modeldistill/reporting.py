"""Markdown tables, the one shape every generated text (bench, the experiment's report, the model
card) prints its figures in, and the one way a missing figure is shown."""

from __future__ import annotations

from collections.abc import Sequence

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

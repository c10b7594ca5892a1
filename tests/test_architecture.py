"""The package's shape, as docs/architecture.md documents it: no import circle, imports only
downwards between stages, no module over one screen of purpose, one list of backend names."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from helpers import load_script
from modeldistill.cli import STAGES
from modeldistill.inference.backends import BACKENDS

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "src" / "modeldistill"
MAX_LINES = 450
# The shared leaves at the top of the package; each stage is a subpackage.
LEAVES = {"errors", "labels", "settings", "paths", "text", "artifacts", "reporting"}
# What each part may import besides the leaves (and itself). Imports run from stages down to the
# libraries they use: inference knows nothing of training, serving nothing of the build stages.
ALLOWED = {
    "errors": set(),
    "labels": {"errors"},
    "settings": {"errors"},
    "paths": {"errors"},
    "text": set(),
    "reporting": set(),
    # run_config.json holds the train settings: the one leaf that reads a stage's config module.
    "artifacts": {"errors", "labels", "settings", "train.config"},
    "train.config": {"errors", "settings", "paths"},
    "synthetic": {"labels"},
    "data": {"synthetic"},
    "inference": {"data"},  # bench --data scores a split's texts
    # the bias measurement finds group mentions with the identity lexicon
    "evaluate": {"data", "inference", "synthetic"},
    "check": {"synthetic", "inference", "evaluate"},  # the check reports evaluate's bias figures
    "train": {"train.config", "data", "evaluate"},
    "export": {"data", "evaluate", "inference", "check"},
    "predict": {"inference"},
    "serve": {"inference"},
    "cli": {"errors"},
    "modeldistill": set(),
    "__main__": {"cli"},
}


ARCHITECTURE = load_script("architecture_doc")
import_graph = ARCHITECTURE.import_graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in order:
            visit(node)
    return found


def part(module: str) -> str:
    """The leaf or stage a module belongs to ('data' for modeldistill.data.sources.build)."""
    if module == "modeldistill":
        return module
    name = module.removeprefix("modeldistill.")
    return name if name == "train.config" else name.split(".")[0]


def test_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle():
    assert cycles(import_graph()) == []


def test_imports_follow_the_documented_layering():
    wrong = []
    for module, targets in import_graph().items():
        source = part(module)
        for target in targets:
            goal = part(target)
            shared_leaf = goal in LEAVES and source not in LEAVES
            if goal != source and goal not in ALLOWED[source] and not shared_leaf:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_no_module_imports_a_stage_command():
    # Only modeldistill.cli reaches the stage commands, by name, when one is asked for.
    importers = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if target.endswith(".cli") and target != "modeldistill.cli" and part(module) != part(target)
    ]
    assert importers == []


def test_no_private_name_is_imported_across_modules():
    private = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modeldistill"):
                private += [
                    f"{path.name}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.endswith("__")
                ]
    assert private == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_outgrows_a_screen_of_purpose(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def _backend_flag(command: str) -> argparse.Action | None:
    import importlib

    module_name, add_arguments, _, _ = STAGES[command]
    parser = argparse.ArgumentParser()
    getattr(importlib.import_module(module_name), add_arguments)(parser)
    action = next((a for a in parser._actions if "--backend" in a.option_strings), None)
    return action


@pytest.mark.parametrize("command", ["check", "evaluate", "predict", "serve"])
def test_every_backend_flag_offers_what_the_classifier_loads(command):
    action = _backend_flag(command)
    assert action is not None and action.default == "auto"
    # Either argparse offers exactly BACKENDS, or the help names each and the config checks it.
    if action.choices is not None:
        assert tuple(action.choices) == BACKENDS
    else:
        assert all(name in action.help for name in BACKENDS)


def test_the_architecture_page_matches_the_code():
    # `python scripts/architecture_doc.py` rewrites it after a module is added, moved or renamed.
    assert (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8") == (
        ARCHITECTURE.render_page()
    )

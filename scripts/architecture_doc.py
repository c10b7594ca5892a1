"""Write docs/architecture.md from the code: the modules with the first line of each docstring, the
imports between stages as they are, and the hand-written text of scripts/reports/architecture.md.j2.

    python scripts/architecture_doc.py            # rewrite docs/architecture.md
    python scripts/architecture_doc.py --check    # exit 1 if it differs from the code

tests/test_architecture.py renders it too and fails when the committed page has fallen behind.
"""

from __future__ import annotations

import argparse
import ast
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports.render import render  # noqa: E402 - beside the script, not installed

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "src" / "modeldistill"
OUT = REPO_ROOT / "docs" / "architecture.md"


def modules() -> dict[str, Path]:
    """Dotted module name -> file, packages under their own name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("modeldistill", *parts))] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside a function alike (a
    function-level import hides a circle; it does not remove it)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modeldistill"):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in known else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("modeldistill")}
        graph[name] = {t for t in targets if t in known and t not in (name, "modeldistill")}
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each module's floor: 0 for one that imports no package module, else one above the highest
    floor it imports (the graph has no circle; the test checks that first)."""

    @cache
    def floor(name: str) -> int:
        return 1 + max((floor(t) for t in graph[name]), default=-1)

    return {name: floor(name) for name in graph}


def part(module: str) -> str:
    """The shared leaf or stage subpackage a module belongs to."""
    name = module.removeprefix("modeldistill").lstrip(".")
    return name.split(".")[0] or "modeldistill"


def summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return first.replace("|", "\\|")


def context() -> dict:
    graph = import_graph()
    known = modules()
    floor_of = floors(graph)
    rows = [
        {
            "module": name.removeprefix("modeldistill."),
            "file": str(path.relative_to(PACKAGE)),
            "floor": floor_of[name],
            "summary": summary(path),
        }
        for name, path in known.items()
        if name != "modeldistill"
    ]
    arrows: dict[str, set[str]] = {}
    for name, targets in graph.items():
        arrows.setdefault(part(name), set()).update(
            part(t) for t in targets if part(t) != part(name)
        )
    return {
        "rows": rows,
        "parts": [
            {"name": name, "imports": sorted(arrows[name])}
            for name in sorted(
                arrows, key=lambda n: (max(floor_of[m] for m in graph if part(m) == n), n)
            )
            if name != "modeldistill"
        ],
        "module_count": len(known),
        "arrow_count": sum(len(t) for t in graph.values()),
        "floor_count": 1 + max(floor_of.values()),
    }


def render_page() -> str:
    return render("architecture.md.j2", **context())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args()
    page = render_page()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.is_file() else ""
        if current != page:
            print(f"{OUT} is out of date: run python scripts/architecture_doc.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(page, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

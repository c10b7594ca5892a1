"""Print `name==floor` for dependencies named on the command line, read from pyproject.toml's
`name>=floor` entries, so that `make test-floors` installs exactly the floors the project claims.

    python scripts/floors.py torch transformers > floors.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# A dependency string such as "uvicorn[standard]>=0.29" (the floor is what follows >=).
ENTRY = re.compile(r'"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([^",;<\s]+)')


def floors(text: str) -> dict[str, str]:
    return {name.lower(): version for name, _, version in ENTRY.findall(text)}


def main(names: list[str]) -> int:
    known = floors(PYPROJECT.read_text(encoding="utf-8"))
    missing = [name for name in names if name.lower() not in known]
    if missing:
        print(
            f"floors.py: no `>=` floor in pyproject.toml for {', '.join(missing)}", file=sys.stderr
        )
        return 2
    print("\n".join(f"{name}=={known[name.lower()]}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

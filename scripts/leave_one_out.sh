#!/usr/bin/env bash
# Leave-one-source-out: for each source of recipes/general.yaml, fine-tune the teacher on all the
# other sources and score it on the left-out source's test split, beside the hate_speech18-only
# model (models/hate_speech18, the experiment's student) on the same split.
# Neither model has seen the left-out source. On this 2-core CPU the full recipe per source is too
# slow, so this trains the teacher stage only, for LOSO_EPOCHS epochs on at most LOSO_ROWS rows.
#   bash scripts/leave_one_out.sh           # SOURCES, LOSO_EPOCHS, LOSO_ROWS, OUT override
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-recipes/general.yaml}
OUT=${OUT:-runs/loso}
BASELINE=${BASELINE:-models/hate_speech18}
LOSO_EPOCHS=${LOSO_EPOCHS:-1}
LOSO_ROWS=${LOSO_ROWS:-12000}
SOURCES=${SOURCES:-hate_speech18 davidson2017 hatexplain hatemojibuild toxigen_statements}
md() { .venv/bin/python -m modeldistill "$@"; }
mkdir -p "$OUT"

for source in $SOURCES; do
  dir="$OUT/$source"
  mkdir -p "$dir"
  # Two recipes from the general one: every source but this one, and this one alone.
  .venv/bin/python - "$DATA" "$source" "$dir" <<'PY'
import sys
from pathlib import Path

import yaml

recipe, left_out, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
sources = yaml.safe_load(recipe.read_text(encoding="utf-8"))["sources"]
for entry in sources:  # paths in the new files are read from their own folder
    if "path" in entry:
        entry["path"] = str((recipe.parent / entry["path"]).resolve())
without = [s for s in sources if s.get("name", s["loader"]) != left_out]
alone = [s for s in sources if s.get("name", s["loader"]) == left_out]
assert alone, f"{left_out} is not in {recipe}"
for name, chosen in (("without.yaml", without), ("alone.yaml", alone)):
    (out / name).write_text(yaml.safe_dump({"sources": chosen}, sort_keys=False), encoding="utf-8")
PY
  [ -f "$dir/teacher/metrics.json" ] ||
    md train --method teacher --data "$dir/without.yaml" --emoji-names --epochs "$LOSO_EPOCHS" \
      --max-train-samples "$LOSO_ROWS" --no-progress --out "$dir/teacher"
  # Its threshold is tuned on the validation split of the sources it was trained on.
  [ -f "$dir/export/inference.json" ] ||
    md export "$dir/teacher" --out "$dir/export" --data "$dir/without.yaml" --emoji-names >/dev/null
  md evaluate "$dir/export" --data "$dir/alone.yaml" --emoji-names --json \
    --output "$dir/eval-left-out.json" >/dev/null
  md evaluate "$BASELINE" --data "$dir/alone.yaml" --emoji-names --json \
    --output "$dir/eval-baseline.json" >/dev/null
done

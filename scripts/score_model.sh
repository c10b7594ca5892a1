#!/usr/bin/env bash
# Score one exported model as every candidate of issue #19 is scored, into one folder of run files:
# the validation split, the identity templates' validation sentences and the held-out identity
# frames (what recipe changes are chosen on), the general test split (pooled and per source),
# hate_speech18's original 1,095-row test split (hate vs rest) and the behavioural check.
#   bash scripts/score_model.sh models/default runs/shipped    # today's model, for ship_decision.py
# scripts/general_recipe.sh calls it on each seed's export. VALIDATION_DATA, TEST_DATA, HS18 override.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bash scripts/score_model.sh MODEL_FOLDER OUT_FOLDER" >&2; exit 2; }
MODEL=$1
OUT=$2
# The shipped model is judged on the next recipe's validation split, as every candidate since.
VALIDATION_DATA=${VALIDATION_DATA:-recipes/general-next.yaml}
# The shipped model's recipe: a recipe that adds sources is not scored on its own extra rows.
TEST_DATA=${TEST_DATA:-recipes/general.yaml}
HS18=${HS18:-../shared/data/hate_speech18}
md() { .venv/bin/python -m modeldistill "$@"; }
mkdir -p "$OUT"

md evaluate "$MODEL" --data "$VALIDATION_DATA" --emoji-names --split validation --json \
  --output "$OUT/eval-validation.json" >/dev/null
md evaluate "$MODEL" --data recipes/identity-validation.yaml --split validation --json \
  --output "$OUT/eval-identity-validation.json" >/dev/null
md evaluate "$MODEL" --data recipes/identity-heldout.yaml --split validation --json \
  --output "$OUT/eval-identity-heldout.json" >/dev/null
md evaluate "$MODEL" --data "$TEST_DATA" --emoji-names --json --output "$OUT/eval-general.json" >/dev/null
md evaluate "$MODEL" --data "$HS18" --hate-vs-rest --json --output "$OUT/eval-hs18.json" >/dev/null
# exit 1 = a check target missed; its figures are what the ship rule reads
md check "$MODEL" --json --out "$OUT/check.json" >/dev/null || true

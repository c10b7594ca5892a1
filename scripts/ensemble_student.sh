#!/usr/bin/env bash
# One change against a recipe: distil the odd student from the mean logits of several seeds'
# teachers (scripts/general_recipe.sh, SEED=1234, 42, 7) instead of the first seed's alone.
# The student's layers, seed and every other setting are the first seed's; scored like the recipe.
#   bash scripts/ensemble_student.sh   # SEEDS, RUNS, OUT, DATA, TEST_DATA, VALIDATION_DATA override
# Issue #19's run on the more recipe (two teachers, judged on the next recipe's validation split):
#   DATA=recipes/general-next-more.yaml VALIDATION_DATA=recipes/general-next.yaml SEEDS="1234 42" \
#     RUNS=runs/general-next-more-teachers OUT=runs/general-next-more-ensemble/seed1234 \
#     bash scripts/ensemble_student.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-recipes/general.yaml}
SEEDS=${SEEDS:-1234 42 7}
# where the seeds' runs are (RUNS/seed1234/teacher...), and the test split they are compared on
RUNS=${RUNS:-runs/general}
TEST_DATA=${TEST_DATA:-recipes/general.yaml}
# the validation split it is judged on: the compared recipe's (see scripts/general_recipe.sh)
VALIDATION_DATA=${VALIDATION_DATA:-$DATA}
OUT=${OUT:-$RUNS/ensemble}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
md() { .venv/bin/python -m modeldistill "$@"; }
read -r first others <<<"$SEEDS"
ensemble=()
for seed in $others; do ensemble+=(--ensemble "$RUNS/seed$seed/teacher"); done
mkdir -p "$OUT"

[ -f "$OUT/odd/metrics.json" ] ||
  md train --method odd --teacher "$RUNS/seed$first/teacher" "${ensemble[@]}" \
    --data "$DATA" --emoji-names --seed "$first" --no-progress --epochs "$STUDENT_EPOCHS" \
    --temperature 2 --class-weighting balanced --out "$OUT/odd"
[ -f "$OUT/export/model.int8.onnx" ] ||
  md export "$OUT/odd" --out "$OUT/export" --int8 --no-keep-fp32 --data "$DATA" --emoji-names \
    --name hate-speech-general-minilm-odd3-ensemble
VALIDATION_DATA="$VALIDATION_DATA" TEST_DATA="$TEST_DATA" bash scripts/score_model.sh "$OUT/export" "$OUT"

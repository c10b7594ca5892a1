#!/usr/bin/env bash
# The general recipe behind docs/generalisation.md and models/default, one seed, on the CPU:
# fine-tune MiniLM on the union of the sources in recipes/general.yaml, distil the odd half-depth
# student from it, export int8 with the threshold tuned on validation, then score it (per-source
# test split, hate_speech18's original split, the behavioural check) and time it.
#   bash scripts/general_recipe.sh                 # SEED, OUT, DATA, TEACHER_EPOCHS... override
# Every step resumes: a folder that already holds its result is not trained again.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-1234}
DATA=${DATA:-recipes/general.yaml}
OUT=${OUT:-runs/general/seed$SEED}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
HS18=${HS18:-../shared/data/hate_speech18}
# The test split every candidate is compared on: the shipped model's recipe, so that a recipe
# that adds sources (recipes/general-next.yaml) is not scored on its own extra rows.
TEST_DATA=${TEST_DATA:-recipes/general.yaml}
# The validation split a recipe is judged on: its own, or the recipe it is compared with, so that a
# source it adds does not favour it (recipes/general-next-more.yaml is judged on general-next.yaml's).
VALIDATION_DATA=${VALIDATION_DATA:-$DATA}
# KEEP_FP32=1 keeps model.onnx beside the int8 file, for scripts/int8_agreement.py and int8_screen.py.
[ "${KEEP_FP32:-0}" = 1 ] && FP32_FLAG=--keep-fp32 || FP32_FLAG=--no-keep-fp32
EXTRA=${EXTRA:-}  # one change at a time for ablations, e.g. EXTRA="--class-weighting none"
md() { .venv/bin/python -m modeldistill "$@"; }
COMMON="--data $DATA --emoji-names --seed $SEED --no-progress $EXTRA"
mkdir -p "$OUT"

[ -f "$OUT/teacher/metrics.json" ] ||
  md train --method teacher $COMMON --epochs "$TEACHER_EPOCHS" --out "$OUT/teacher"
[ -f "$OUT/odd/metrics.json" ] ||
  md train --method odd --teacher "$OUT/teacher" $COMMON --epochs "$STUDENT_EPOCHS" \
    --temperature 2 --class-weighting balanced --out "$OUT/odd"
[ -f "$OUT/export/model.int8.onnx" ] ||
  md export "$OUT/odd" --out "$OUT/export" --int8 "$FP32_FLAG" --data "$DATA" --emoji-names \
    --name hate-speech-general-minilm-odd3

# Scores (scripts/score_model.sh: validation, identity sentences, test, hate_speech18, check),
# and the teacher on the same test split.
VALIDATION_DATA="$VALIDATION_DATA" TEST_DATA="$TEST_DATA" HS18="$HS18" \
  bash scripts/score_model.sh "$OUT/export" "$OUT"
[ -f "$OUT/teacher-eval-general.json" ] ||
  md evaluate "$OUT/teacher" --data "$TEST_DATA" --emoji-names --json \
    --output "$OUT/teacher-eval-general.json" >/dev/null

# The hate_speech18-only model (the experiment's student, shipped before the general model) on the
# same three, once: the baseline of docs/generalisation.md and of scripts/leave_one_out.sh.
# BASELINE=0 skips it (a recipe variant that needs only its own scores).
[ "${BASELINE:-1}" = 1 ] || exit 0
BASE=${BASE:-models/hate_speech18}
BASE_OUT=${BASE_OUT:-runs/hs18-default}
mkdir -p "$BASE_OUT"
[ -f "$BASE_OUT/eval-general.json" ] ||
  md evaluate "$BASE" --data "$DATA" --emoji-names --json --output "$BASE_OUT/eval-general.json" >/dev/null
[ -f "$BASE_OUT/eval-hs18.json" ] ||
  md evaluate "$BASE" --data "$HS18" --hate-vs-rest --json --output "$BASE_OUT/eval-hs18.json" >/dev/null
[ -f "$BASE_OUT/check.json" ] || md check "$BASE" --json --out "$BASE_OUT/check.json" >/dev/null || true
mkdir -p runs/general
[ -f runs/general/data.json ] || md data --data "$DATA" --emoji-names --json >runs/general/data.json

#!/usr/bin/env bash
# The real-data experiment behind docs/results.md, in the order it was run. Every step resumes:
# a method whose folder already holds metrics.json is not trained again.
#   bash scripts/reproduce.sh              # DATA and RUNS may be overridden from the environment
# On a 2-core CPU: teacher ≈ 12 min, each half-depth student ≈ 7 min, LoRA ≈ 10 min.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/hate_speech18}
RUNS=${RUNS:-runs}
md() { .venv/bin/modeldistill "$@"; }

# 1. The original's recipe with a teacher fine-tuned first: teacher, odd, even, LoRA (seed 1234).
md run --data "$DATA" --out "$RUNS/seed1234" --seed 1234 --resume --no-progress

# 2. The paper's protocol: binary, authors' balanced sampled_train / sampled_test.
md run --data "$DATA" --protocol paper --out "$RUNS/paper" --methods teacher,odd,even --resume --no-progress

# 3. Two more seeds for the students and LoRA; the fine-tuned teacher is shared.
for seed in 42 7; do
  md run --data "$DATA" --out "$RUNS/seed$seed" --seed "$seed" --methods teacher,odd,even,lora \
    --finetuned-teacher "$RUNS/seed1234/teacher" --resume --no-progress
done

# 4. One change at a time on the odd student (seed 1234), each against step 1's odd row.
T="--finetuned-teacher $RUNS/seed1234/teacher --methods odd --resume --no-progress --seed 1234"
md run --data "$DATA" --out "$RUNS/ablation-t2" --temperature 2 $T
md run --data "$DATA" --out "$RUNS/ablation-balanced" --class-weighting balanced $T
md run --data "$DATA" --out "$RUNS/ablation-hidden" --weight-hidden 1 $T
md run --data "$DATA" --out "$RUNS/ablation-lora-all" --methods lora --lora-targets query,key,value,dense \
  --resume --no-progress --seed 1234

# 5. Tables with mean ± std over seeds, baselines, and the paper-protocol table.
.venv/bin/python scripts/summarize.py --runs "$RUNS" --data "$DATA" --out docs/results.md

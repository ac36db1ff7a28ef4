#!/usr/bin/env bash
# Re-makes every figure of experiments/r1-zero/README.md (deterministic; run from the repository
# root after the build). OUT holds the runs; the committed base model is experiments/r1-zero/base.
set -euo pipefail
AHA=${AHA:-./build/aha}
OUT=${OUT:-runs/r1-zero}
mkdir -p "$OUT"
# The runs and fine-tuned models below are this script's own: a rerun starts them over (aha train
# and aha sft refuse to write over an earlier run or model).
for d in rl control student-rl student-direct-rl student-distilled student-direct-distilled; do
  rm -rf "${OUT:?}/$d"
done
# Pretraining data: mod10_chain's train prompts (six labelled operations); every completion answers
# in <answer></answer>, and a seeded 8% of them first write the work inside the think block
# ("3,a*9=7,b+4=1,...</think><answer>0</answer>"), in steps of 512 examples.
# Teacher and control: hidden 64, 3,000 steps; the students: hidden 32 (half width), 1,400 steps;
# 3 layers each.
PRETRAIN=(pretrain --task mod10_chain --noise 0 --batch 512 --max-new-tokens 48
  --completion '</think><answer>{answer}</answer>'
  --worked-completion '{work}</think><answer>{answer}</answer>')
t() { local name=$1; shift; local t0=$SECONDS; /usr/bin/time -f "%e s wall, %U s user, %S s sys" \
  "$@" > "$OUT/$name.log" 2>&1; echo "$name: $((SECONDS - t0)) s"; tail -n 3 "$OUT/$name.log"; }

if [ "${REMAKE_BASE:-0}" = 1 ]; then
  t pretrain-base "$AHA" "${PRETRAIN[@]}" --steps 3000 --worked-fraction 0.08 --hidden 64 \
    --out experiments/r1-zero/base
fi
t pretrain-direct "$AHA" "${PRETRAIN[@]}" --steps 3000 --worked-fraction 0 --hidden 64 \
  --out "$OUT/base-direct"
t pretrain-student "$AHA" "${PRETRAIN[@]}" --steps 1400 --worked-fraction 0.08 --hidden 32 \
  --out "$OUT/student-base"
t pretrain-student-direct "$AHA" "${PRETRAIN[@]}" --steps 1400 --worked-fraction 0 --hidden 32 \
  --out "$OUT/student-direct"

# R1-Zero: GRPO from the base; the control: the same run from the base that never saw a worked chain.
t rl "$AHA" train experiments/r1-zero/config.toml --run-dir "$OUT/rl" --set run.progress=false
t control "$AHA" train experiments/r1-zero/config.toml --run-dir "$OUT/control" \
  --set model.path="\"$OUT/base-direct\"" --set run.progress=false

# Distillation: the half-width student fine-tuned on the RL run's correct samples, against the
# same student trained by GRPO directly; once from the student pretrained like the base (8%
# worked), once from the student that never saw a worked computation.
t distil "$AHA" sft --model "$OUT/student-base" --from-db "$OUT/rl" --min-reward 1 \
  --out "$OUT/student-distilled" --epochs 1 --batch 32 --lr 1e-3
t student-rl "$AHA" train experiments/r1-zero/config.toml --run-dir "$OUT/student-rl" \
  --set model.path="\"$OUT/student-base\"" --set run.progress=false
t distil-direct "$AHA" sft --model "$OUT/student-direct" --from-db "$OUT/rl" --min-reward 1 \
  --out "$OUT/student-direct-distilled" --epochs 12 --batch 32 --lr 1e-3
t student-direct-rl "$AHA" train experiments/r1-zero/config.toml \
  --run-dir "$OUT/student-direct-rl" --set model.path="\"$OUT/student-direct\"" \
  --set run.steps=1200 --set run.eval_every=100 --set run.progress=false  # as long as distil-direct

# Held-out accuracy with and without the chain of thought (same 200 prompts, 4 samples each).
for m in experiments/r1-zero/base "$OUT/rl/final-model" "$OUT/base-direct" "$OUT/control/final-model" \
         "$OUT/student-base" "$OUT/student-distilled" "$OUT/student-rl/final-model" \
         "$OUT/student-direct" "$OUT/student-direct-distilled" "$OUT/student-direct-rl/final-model"; do
  echo "== $m"
  "$AHA" eval --model "$m" --task mod10_chain --max-new-tokens 48 | tail -n 1
  "$AHA" eval --model "$m" --task mod10_chain_nothink --tasks-file experiments/r1-zero/tasks.toml \
    --max-new-tokens 48 | tail -n 1
done

# Per step: mean completion length, share of completions that write a worked computation (text
# inside the think block), accuracy.
for run in rl control student-rl student-direct-rl; do
  echo "== $run"
  sqlite3 -header -column "$OUT/$run/rollouts.db" "SELECT step, round(avg(num_tokens), 1) AS len,
    round(avg(completion NOT GLOB '</think>*'), 3) AS worked, round(avg(correct), 3) AS acc
    FROM samples WHERE step % 10 = 0 OR step = 1 GROUP BY step ORDER BY step"
  sqlite3 "$OUT/$run/rollouts.db" "SELECT step, round(value, 3) FROM evals ORDER BY step"
done

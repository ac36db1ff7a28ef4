#!/usr/bin/env bash
# Throughput of the data-parallel learner on this machine: the same run with 1 learner rank and
# with 2 MPI ranks (mpirun), alternated ROUNDS times so both see the same machine load; prints
# per-step medians of the learner's wall time (t_train), its CPU time (the slowest rank's:
# t_train_cpu, which shows the split of the work even on a loaded machine), the time inside
# collectives (t_comm) and the whole step, read back from each run's database.
# Usage: bash experiments/slurm/bench_ranks.sh [ROUNDS] [extra --set args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
shift || true
aha=${AHA:-build/aha}
out=$(mktemp -d /tmp/aha-bench-ranks.XXXX)
sets=(--set rollout.prompts_per_step=64 --set rollout.group_size=8 --set run.steps=6
      --set tasks.eval_prompts=4 --set tasks.eval_samples=1 --set run.eval_every=0
      --set run.checkpoint_every=0 "$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for r in $(seq 1 "$rounds"); do
  "$aha" train --run-dir "$out/one-$r" "${sets[@]}" >/dev/null
  mpirun --oversubscribe --bind-to none -np 2 "$aha" train --run-dir "$out/two-$r" "${sets[@]}" >/dev/null
done
printf '%-6s %-6s %10s %10s %10s %10s %10s %12s\n' ranks round t_train_s cpu_s t_comm_s comm_share step_s train_tok/s
for r in $(seq 1 "$rounds"); do
  for kind in one two; do
    # Medians over steps 2.. (step 1 warms up).
    sqlite3 "$out/$kind-$r/rollouts.db" "
      WITH s AS (SELECT step, t_train, json_extract(metrics, '\$.t_comm') AS t_comm,
                        json_extract(metrics, '\$.t_train_cpu') AS cpu,
                        t_gen + t_reward + t_train + t_sync AS t_step,
                        len_mean * (SELECT count(*) FROM samples WHERE samples.step = steps.step) AS tokens
                 FROM steps WHERE step > 1)
      SELECT (SELECT t_train FROM s ORDER BY t_train LIMIT 1 OFFSET (SELECT count(*) / 2 FROM s)),
             (SELECT t_comm FROM s ORDER BY t_comm LIMIT 1 OFFSET (SELECT count(*) / 2 FROM s)),
             (SELECT cpu FROM s ORDER BY cpu LIMIT 1 OFFSET (SELECT count(*) / 2 FROM s)),
             (SELECT t_step FROM s ORDER BY t_step LIMIT 1 OFFSET (SELECT count(*) / 2 FROM s)),
             (SELECT avg(tokens) FROM s)" |
      awk -F'|' -v k="$kind" -v r="$r" '{n = (k == "one") ? 1 : 2;
        printf "%-6d %-6d %10.3f %10.3f %10.4f %9.1f%% %10.3f %12.0f\n", n, r, $1, $3, $2, 100 * $2 / $1, $4, $5 / $1}'
  done
done
echo "runs in $out"

#!/bin/bash
# Publish time (t_sync: the learner's weights until every rollout worker holds them) of 100m
# weights, side by side in one run: the previous aha (AHA_BEFORE: the wire only, protocol 2),
# this aha over the wire (rollout.weight_handoff = false), and this aha with the handoff; two
# worker threads, then two worker processes. From the repository root, after
#   ./build/aha init --config 100m --out /tmp/m100 --seed 1
#   AHA_BEFORE=/path/to/previous/aha bash experiments/weight-handoff/publish_time.sh
set -u
common="--set model.path=\"${MODEL:-/tmp/m100}\" --set tasks.tasks_file=\"$PWD/experiments/base-arith/tasks.toml\" --set tasks.names=[\"tiny_add\"] --set rollout.prompts_per_step=2 --set rollout.group_size=2 --set rollout.max_new_tokens=2 --set tasks.eval_prompts=0 --set run.eval_every=0 --set run.checkpoint_every=0 --set run.steps=6 --set run.progress=false"
for round in 1 2; do
for mode in threads processes; do
  for v in before wire handoff; do
    aha=${AHA:-./build/aha}; set=""
    [ $v = before ] && aha=${AHA_BEFORE:?the previous aha binary}
    [ $v = wire ] && set="--set rollout.weight_handoff=false"
    extra="--set rollout.workers=2"; [ $mode = processes ] && extra="--workers 2"
    d=${OUT:-/tmp}/hb2-$mode-$v; rm -rf $d
    $aha train --run-dir $d $common $set $extra > $d.log 2>&1 || { echo FAIL $mode $v; tail -3 $d.log; }
    echo "$round $mode $v median t_sync steps 2-6: $(sqlite3 $d/rollouts.db 'select t_sync from steps where step>=2 order by t_sync' | sed -n 3p)  all: $(sqlite3 $d/rollouts.db 'select group_concat(printf("%.3f", t_sync), " ") from steps')"
  done
done
done

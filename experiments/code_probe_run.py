#!/usr/bin/env python3
"""Scores experiments/code_probe.jsonl with `aha reward score --checker code` and prints every
disagreement (FP: a wrong program scored 1; FN: a right program scored below 1) and the counts
per format group.

  python3 experiments/code_probe_run.py [path/to/aha] [probe.jsonl] [--threads N]
"""
import collections
import json
import subprocess
import sys
import tempfile

args = [a for a in sys.argv[1:] if not a.startswith("--")]
threads = "2"
if "--threads" in sys.argv:
    threads = sys.argv[sys.argv.index("--threads") + 1]
    args = [a for a in args if a != threads]
aha = args[0] if args else "./build/aha"
path = args[1] if len(args) > 1 else "experiments/code_probe.jsonl"
rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
meta = ("expected", "group", "variant", "source")
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps({k: v for k, v in r.items() if k not in meta}) + "\n")
out = subprocess.run([aha, "reward", "score", "--checker", "code", "--input", f.name,
                      "--threads", threads], capture_output=True, text=True).stdout
scored = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
assert len(scored) == len(rows), (len(scored), len(rows))
fp = fn = 0
per = collections.defaultdict(lambda: [0, 0, 0])
for r, s in zip(rows, scored):
    got = (s.get("reward") or 0) >= 1.0
    per[r["group"]][0] += 1
    if got == r["expected"]:
        continue
    if got:
        fp += 1
        per[r["group"]][1] += 1
    else:
        fn += 1
        per[r["group"]][2] += 1
    print(f"{'FP' if got else 'FN'} [{r['group']}] {r['source']} {r['task_id'] if 'task_id' in r else ''} "
          f"{r['variant']}: {s.get('reason') or s.get('error')} | {r['completion'][:160]!r}")
for g, (n, p, q) in sorted(per.items()):
    if p or q:
        print(f"  {g}: {n} rows, {p} FP, {q} FN")
wrong = sum(not r["expected"] for r in rows)
print(f"{len(rows)} rows ({wrong} wrong): {fp + fn} disagree, {fp} FP, {fn} FN")

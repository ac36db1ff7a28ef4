#!/usr/bin/env python3
"""Scores a labelled probe set with `aha reward score --checker C` and prints every disagreement
(FP: a wrong answer scored 1; FN: a right answer scored below 1) and the counts per group.

  python3 experiments/probe_run.py math experiments/math_probe7.jsonl [path/to/aha] [--threads N]
  python3 experiments/probe_run.py code experiments/code_probe.jsonl   # code_probe_make.py writes it

A probe row is the checker's row plus "expected" (true: a right answer) and "group"; "variant" and
"source" (code probes) are labels too. Nothing else of the row is read here.
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
    args.remove(threads)
if len(args) < 2:
    sys.exit(__doc__)
checker, path = args[0], args[1]
aha = args[2] if len(args) > 2 else "./build/aha"
rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
meta = ("expected", "group", "variant", "source")
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps({k: v for k, v in r.items() if k not in meta}) + "\n")
out = subprocess.run([aha, "reward", "score", "--checker", checker, "--input", f.name,
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
    label = " ".join(str(r[k]) for k in ("source", "task_id", "variant") if k in r)
    print(f"{'FP' if got else 'FN'} [{r['group']}] {label} {r['completion'][:160]!r} vs "
          f"{r.get('answer', '')!r} -> {s.get('extracted')!r} ({s.get('reason') or s.get('error')})")
for g, (n, p, q) in sorted(per.items()):
    print(f"  {g}: {n} rows, {p} FP, {q} FN")
wrong = sum(not r["expected"] for r in rows)
print(f"{len(rows)} rows ({wrong} wrong): {fp + fn} disagree, {fp} FP, {fn} FN")

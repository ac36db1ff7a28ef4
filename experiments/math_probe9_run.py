#!/usr/bin/env python3
"""Scores experiments/math_probe9.jsonl with `aha reward score --checker math` and prints every
disagreement (FP: a wrong answer scored 1; FN: a right answer scored 0) and the counts per group.

  python3 experiments/math_probe9_run.py [path/to/aha] [probe.jsonl]
"""
import collections
import json
import subprocess
import sys
import tempfile

aha = sys.argv[1] if len(sys.argv) > 1 else "./build/aha"
path = sys.argv[2] if len(sys.argv) > 2 else "experiments/math_probe9.jsonl"
rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps({"completion": r["completion"], "answer": r["answer"]}) + "\n")
out = subprocess.run([aha, "reward", "score", "--checker", "math", "--input", f.name],
                     capture_output=True, text=True, check=True).stdout
scored = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
assert len(scored) == len(rows), (len(scored), len(rows))
fp = fn = 0
per = collections.defaultdict(lambda: [0, 0, 0])
for r, s in zip(rows, scored):
    got = s["reward"] >= 1.0
    per[r["group"]][0] += 1
    if got == r["expected"]:
        continue
    kind = "FP" if got else "FN"
    if got:
        fp += 1
        per[r["group"]][1] += 1
    else:
        fn += 1
        per[r["group"]][2] += 1
    print(f"{kind} [{r['group']}] {r['completion']!r} vs {r['answer']!r} -> {s.get('extracted')!r} "
          f"({s.get('reason', '')})")
for g, (n, p, q) in sorted(per.items()):
    print(f"  {g}: {n} pairs, {p} FP, {q} FN")
wrong = sum(not r["expected"] for r in rows)
print(f"{len(rows)} pairs ({wrong} wrong): {fp + fn} disagree, {fp} FP, {fn} FN")

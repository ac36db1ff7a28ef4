"""The rows of a labelled math probe (experiments/math_probe*_make.py): each generator adds its
rows here and writes them as JSONL on stdout, the format probe_run.py scores."""
import json
import sys

rows = []


def add(group, comp, gold, exp, note=""):
    rows.append({"group": group, "completion": comp, "answer": gold, "expected": exp, "note": note})


def pair(group, template, gold, right, wrong, note=""):
    """template holds '@' where the value goes: with `right` it is correct, with `wrong` not."""
    add(group, template.replace("@", right), gold, True, note)
    add(group, template.replace("@", wrong), gold, False, note)


def write():
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    print(len(rows), "rows,", sum(not r["expected"] for r in rows), "wrong", file=sys.stderr)

#!/usr/bin/env python3
"""Compares the math checker with PyPI math-verify on tests/fixtures/reward/math_pairs.jsonl.

Usage (math-verify lives in its own virtual environment, never a dependency of aha):
  python3 -m venv /work/venv-mathverify && /work/venv-mathverify/bin/pip install math-verify
  build/aha reward score --checker math --input tests/fixtures/reward/math_pairs.jsonl > /tmp/aha.jsonl
  /work/venv-mathverify/bin/python experiments/math_verify_compare.py /tmp/aha.jsonl
Prints agreement of each checker with the expected verdicts, their agreement with each other, and
every pair where math-verify and the expected verdict differ.
"""
import json
import re
import sys

from math_verify import parse, verify


def gold_for_math_verify(answer):
    """The gold as math-verify expects it: LaTeX inside $...$ (its documented usage), the number
    after "####" for a GSM8K solution, a sentence as it is."""
    if "####" in answer:
        return answer.split("####")[-1].strip()
    if re.search(r"(?<!\\)\$", answer) or "\\boxed" in answer or re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}", answer):
        return answer
    return "$" + answer + "$"


def mv_verdict(completion, answer):
    try:
        gold = parse(gold_for_math_verify(answer))
        pred = parse(completion)
        return bool(gold) and bool(pred) and bool(verify(gold, pred))
    except Exception:  # a crash of the verifier counts as "not correct"
        return False


def main():
    rows = [json.loads(l) for l in open(sys.argv[1])]
    n = len(rows)
    aha_ok = mv_ok = both_same = 0
    aha_fp = mv_fp = negatives = 0
    diffs = []
    per_cat = {}
    for r in rows:
        exp = r["expected"]
        got_aha = r.get("reward") == 1.0
        got_mv = mv_verdict(r["completion"], r["answer"])
        aha_ok += got_aha == exp
        mv_ok += got_mv == exp
        both_same += got_aha == got_mv
        negatives += not exp
        aha_fp += got_aha and not exp
        mv_fp += got_mv and not exp
        c = per_cat.setdefault(r["category"], [0, 0, 0])
        c[0] += 1
        c[1] += got_aha == exp
        c[2] += got_mv == exp
        if got_mv != exp or got_aha != exp:
            diffs.append((r["category"], r["completion"], r["answer"], exp, got_aha, got_mv))
    print(f"pairs: {n} ({n - negatives} correct, {negatives} wrong)")
    print(f"aha math checker agrees with expected: {aha_ok}/{n} = {aha_ok / n:.1%}, "
          f"false positives {aha_fp}/{negatives}")
    print(f"math-verify agrees with expected:      {mv_ok}/{n} = {mv_ok / n:.1%}, "
          f"false positives {mv_fp}/{negatives}")
    print(f"aha and math-verify agree:             {both_same}/{n} = {both_same / n:.1%}")
    print("\ncategory         pairs  aha  math-verify")
    for cat, (k, a, m) in per_cat.items():
        print(f"{cat:16s} {k:5d} {a:4d} {m:6d}")
    print("\ndisagreements (category | completion | answer | expected | aha | math-verify):")
    for d in diffs:
        print(" | ".join([d[0], repr(d[1][:80]), repr(d[2][:60]), str(d[3]), str(d[4]), str(d[5])]))


if __name__ == "__main__":
    main()

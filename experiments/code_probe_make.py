#!/usr/bin/env python3
"""Builds experiments/code_probe.jsonl: canonical HumanEval / MBPP solutions (right) and mutants of
them (wrong: a flipped comparison, an off-by-one, a wrong return) wrapped in the formats reasoning
models produce, plus a small C++ fixture of our own. Deterministic (fixed sample, fixed seed).

Each row is the dataset row plus "completion", "expected" (the verdict of a careful grader),
"group" (the format) and "variant" (right / wrong / the mutation). The verdict is not guessed: it
is the result of running the program a careful grader reads out of the completion (the code the
answer gives, loaded as a module, its main guard not run, stdout ignored) against the row's tests
with plain Python, outside any sandbox. The product never reads these files.

  python3 experiments/code_probe_make.py [--data /work/shared/data] [--out experiments/code_probe.jsonl]

Grader decisions (experiments/reward.md, "Code checker: held-out formats"):
- top-level asserts of the model's own run when the module loads (as in the HumanEval and MBPP
  harnesses): a wrong self-test fails a right solution; that is the model's false claim.
- a LeetCode `class Solution` when the tests call a plain function is wrong (nothing the tests
  call exists); with a module-level wrapper that calls it, right.
- a completion cut inside the code is judged as cut (usually wrong); cut after the code (the
  closing fence missing) is the code.
- a completion cut inside <think> (no </think>) has no answer, whatever its draft; so has one whose
  only code is inside <think> ("</think> The function above is my answer."). Their rows carry no
  program (the grader reads none) and are wrong.
- prose around code without fences is not part of the program; code that does not compile
  stays a SyntaxError with prose around it.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HE_IDS = [0, 2, 4, 7, 12, 13, 16, 23, 24, 28, 30, 34, 35, 40, 43, 46, 52, 55, 60, 63]
MBPP_IDS = [1, 2, 3, 11, 14, 17, 19, 20, 24, 31, 40, 47, 56, 62, 77, 88, 101, 115, 150, 250]

# ---------------------------------------------------------------- reference runner (plain Python)
RUNNER = r'''
import json, sys, types, io, contextlib
cfg = json.load(open(sys.argv[1]))
mod = types.ModuleType("solution")
g = mod.__dict__
sys.modules["solution"] = mod
ok = False
try:
    with contextlib.redirect_stdout(io.StringIO()):
        sys.stdin = io.StringIO("")
        exec(compile(cfg["program"], "solution.py", "exec"), g)
        if cfg["kind"] == "humaneval":
            t = {}
            exec(cfg["test"], t)
            t["check"](g[cfg["entry"]])
        else:
            t = dict(g)
            exec(cfg["setup"], t)
            for a in cfg["tests"]:
                exec(a, t)
    ok = True
except BaseException:
    ok = False
print("PASS" if ok else "FAIL")
'''


def run_ref(program, row):
    cfg = {"program": program}
    if "entry_point" in row:
        cfg.update(kind="humaneval", test=row["test"], entry=row["entry_point"])
    else:
        cfg.update(kind="mbpp", setup=row.get("test_setup_code", ""), tests=row["test_list"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        p = subprocess.run([sys.executable, "-c", RUNNER, f.name], capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        return p.stdout.strip() == "PASS"
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.unlink(f.name)


# ---------------------------------------------------------------- mutants
MUTATIONS = [
    ("flip_cmp", r"(?<![<>=!])<=(?!=)", ">"), ("flip_cmp", r"(?<![<>=!])>=(?!=)", "<"),
    ("flip_cmp", r"(?<![<>=!-])<(?![<=])", ">="), ("flip_cmp", r"(?<![<>=!-])>(?![>=])", "<="),
    ("flip_cmp", r"==", "!="), ("flip_cmp", r"!=", "=="),
    ("off_by_one", r"\+ 1\b", "+ 2"), ("off_by_one", r"- 1\b", "- 2"),
    ("off_by_one", r"range\(([^()]*?)\)", r"range(\1 - 1)"),
    ("wrong_return", r"return True\b", "return False"), ("wrong_return", r"return False\b", "return True"),
    ("wrong_return", r"return (\w+)\s*$", r"return not \1"),
    ("off_by_one", r"\b0\b", "1"),
    ("wrong_return", r"return (len\()", r"return 1 + \1"), ("flip_cmp", r" if (\w+) in ", r" if \1 not in "),
    ("wrong_return", r"\.lower\(\)", ""), ("flip_cmp", r" & ", " | "),
]


def mutants(code):
    """Single-site mutants of code, in a fixed order, outside the first docstring line."""
    out = []
    for kind, pat, rep in MUTATIONS:
        for m in re.finditer(pat, code, flags=re.M):
            line_start = code.rfind("\n", 0, m.start()) + 1
            line = code[line_start:code.find("\n", m.start()) if "\n" in code[m.start():] else None]
            if line.lstrip().startswith(("#", '"', "'", ">>>")):
                continue
            new = code[:m.start()] + re.sub(pat, rep, code[m.start():m.end() + 40], count=1, flags=re.M) \
                + code[m.end() + 40:]
            out.append((kind, new))
    return out


# ---------------------------------------------------------------- the programs of a row
def he_parts(row):
    prompt = row["prompt"]
    # The signature without the docstring: the def line(s) of the entry point.
    m = re.search(r"^def " + re.escape(row["entry_point"]) + r"\b.*?:\s*$", prompt, re.M | re.S)
    sig_start = m.start()
    sig_end = prompt.find("\n", m.start())
    while not prompt[:sig_end].rstrip().endswith(":"):
        sig_end = prompt.find("\n", sig_end + 1)
    head = prompt[:sig_start]  # imports and helpers before the entry point
    sig = prompt[sig_start:sig_end + 1]
    return head, sig


def fence(code, lang="python", tick="```"):
    return f"{tick}{lang}\n{code.rstrip(chr(10))}\n{tick}"


def usage_call(row):
    if "entry_point" in row:
        m = re.search(r">>> (" + re.escape(row["entry_point"]) + r"\(.*\))\s*$", row["prompt"], re.M)
        if m:
            return m.group(1)
        m = re.search(r"candidate(\(.*?\))\s*==", row["test"])
        return row["entry_point"] + m.group(1) if m else None
    m = re.match(r"assert\s+(?:set\()?(\w+\(.*\))\s*==", row["test_list"][0])
    return m.group(1) if m else None


def self_asserts(row, right):
    """Asserts of the model's own, from the row's first test; right or with a wrong expected value."""
    if "entry_point" in row:
        m = re.search(r"assert candidate(\(.*\)) == (.*)$", row["test"], re.M)
        if not m:
            return None
        call = row["entry_point"] + m.group(1)
        return f"assert {call} == {m.group(2)}" if right else f"assert {call} == 'zz'"
    t = row["test_list"][0]
    if right:
        return t
    m = re.match(r"(assert .*==)(.*)$", t)
    return m.group(1) + " 'zz'" if m else None


def wrap_formats(row, full, body, call, kind):
    """(group, completion, program the grader runs) for one program (full code; HumanEval: body)."""
    he = "entry_point" in row
    name = row["entry_point"] if he else re.search(r"^def (\w+)", full, re.M) and \
        [n for n in re.findall(r"^def (\w+)", full, re.M) if re.search(r"\b" + n + r"\s*\(", row["test_list"][0])]
    if not he:
        name = name[0] if name else None
    prog = (row["prompt"] + body) if he else full
    F = []
    F.append(("fence_python", fence(full), full))
    F.append(("fence_py", fence(full, "py"), full))
    F.append(("fence_Python", fence(full, "Python"), full))
    F.append(("fence_python3", fence(full, "python3"), full))
    F.append(("fence_bare", fence(full, ""), full))
    F.append(("fence_tilde", fence(full, "python", "~~~"), full))
    F.append(("fence_4ticks", fence(full, "python", "````"), full))
    F.append(("prose_around", "Here is my solution.\n\n" + fence(full) +
              "\n\nThe function runs in linear time. Let me know if you need anything else!", full))
    F.append(("no_fence_plain", full, full))
    F.append(("no_fence_prose_around", "Here is my solution:\n\n" + full.rstrip("\n") +
              "\n\nThis function works by checking each element once.\n", full))
    expl = "\n\nExplanation:\n1. We go through the input once.\n2. We return as soon as we know.\n"
    if call:
        expl += f"\nFor example:\n    >>> {call}\n"
    F.append(("no_fence_explained", full.rstrip("\n") + expl + "\nIt's linear in the input size.\n",
              full))
    broken = re.sub(r"^(def \w+\(.*?\).*?):([ \t]*)$", r"\1\2", full, count=1, flags=re.M | re.S)
    if broken != full:  # the colon of a def line missing: a SyntaxError, with or without prose
        F.append(("no_fence_prose_broken", "Here is my solution:\n\n" + broken.rstrip("\n") +
                  "\n\nThis function works by checking each element once.\n", broken))
    if call:
        F.append(("example_usage_block", "## Approach\nWe scan the input once.\n\n## Code\n" + fence(full) +
                  "\n\n### Example usage\n" + fence(f"print({call})"), full))
        F.append(("example_usage_inline", fence(full + f"\n\n# Example usage\nprint({call})\n"),
                  full + f"\n\n# Example usage\nprint({call})\n"))
        F.append(("main_guard", fence(full + f'\n\nif __name__ == "__main__":\n    print({call})\n    x = input()\n'),
                  full))
    # print debugging inside every function body (first statement after the def line).
    dbg = re.sub(r"^(def \w+\(.*?\).*?:[ \t]*\n)", lambda m: m.group(1) + '    print("DEBUG: called")\n',
                 full, flags=re.M | re.S)
    dbg = re.sub(r"^(    )(return\b.*)$", lambda m: m.group(1) + 'print("DEBUG: returning")\n' + m.group(0),
                 dbg, flags=re.M)
    if dbg != full:
        F.append(("print_debug", fence(dbg), dbg))
    F.append(("crlf", fence(full).replace("\n", "\r\n") + "\r\n", full))
    F.append(("trailing_ws", "```python   \n" + "\n".join(l + "  " for l in full.split("\n")) + "\n```  \n", full))
    if "    " in full:
        tabbed = re.sub(r"^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), full, flags=re.M)
        F.append(("tabs", fence(tabbed), tabbed))
    F.append(("fence_unclosed", "Here you go:\n```python\n" + full.rstrip("\n") + "\n", full))
    lines = full.rstrip("\n").split("\n")
    cut = "\n".join(lines[:max(1, (len(lines) * 2) // 3)]) + "\n"
    F.append(("cut_mid_code", "```python\n" + cut, cut))
    F.append(("numbered_list", "1. Read the input.\n2. Compute the result:\n\n" + fence(full) +
              "\n\n3. Return it.", full))
    indented = "\n".join(("   " + l) if l.strip() else l for l in fence(full).split("\n"))
    F.append(("list_indented_fence", "Steps:\n\n1. Write the function:\n\n" + indented +
              "\n\n2. Run the tests.", full))
    F.append(("pre_code", '<pre><code class="language-python">' + full.rstrip("\n") + "</code></pre>", full))
    esc = full.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    F.append(("pre_code_escaped", "<pre><code>" + esc + "</code></pre>", full))
    F.append(("code_tag", "Solution:\n<code>\n" + full + "</code>", full))
    for right_assert in (True, False):
        a = self_asserts(row, right_assert)
        if a:
            F.append(("self_assert_" + ("right" if right_assert else "wrong"),
                      fence(full + "\n\n# Tests\n" + a + "\nprint('All tests passed!')\n"),
                      full + "\n\n# Tests\n" + a + "\n"))
    # A separate test block after the code, with a wrong assert: not part of the solution.
    a = self_asserts(row, False)
    if a:
        F.append(("separate_test_block", fence(full) + "\n\nTests:\n" + fence(a), full))
    # Split: everything before the called function's def in one block, the rest in a second one.
    if name:
        m = re.search(r"^def " + re.escape(name) + r"\b", full, re.M)
        if m and full[:m.start()].strip() and not he:
            F.append(("split_blocks", "First the helpers:\n" + fence(full[:m.start()]) +
                      "\nThen the function:\n" + fence(full[m.start():]), full))
    # Imports inside the function.
    imp = [l for l in full.split("\n") if re.match(r"(import|from) \w", l)]
    if imp and name:
        rest = "\n".join(l for l in full.split("\n") if l not in imp)
        inner = re.sub(r"^(def " + re.escape(name) + r"\(.*?\).*?:[ \t]*\n)",
                       lambda m: m.group(1) + "".join("    " + l + "\n" for l in imp), rest,
                       count=1, flags=re.M | re.S)
        F.append(("imports_inside", fence(inner), inner))
    # LeetCode class: wrong without a wrapper; right with a module-level wrapper.
    if name:
        cls = "class Solution:\n" + "\n".join(("    " + l) if l.strip() else l for l in full.split("\n"))
        cls = re.sub(r"^    def (\w+)\(", r"    def \1(self, ", cls, flags=re.M)
        cls = cls.replace("(self, )", "(self)")
        cls = re.sub(r"\b(?<!def )(?<!\.)(" + "|".join(re.findall(r"^def (\w+)", full, re.M)) + r")\(",
                     r"self.\1(", cls)
        cls = re.sub(r"def self\.", "def ", cls)
        F.append(("leetcode_class", fence(cls), cls))
        wrapper = cls + f"\n\ndef {name}(*args):\n    return Solution().{name}(*args)\n"
        F.append(("leetcode_class_wrapper", fence(wrapper), wrapper))
    if he:  # HumanEval: the completion follows the prompt, as the model saw it
        F = [(g, c, row["prompt"] + p) for g, c, p in F]
    return F


def he_formats(row, body, call):
    head, sig = he_parts(row)
    prompt = row["prompt"]
    full = prompt + body
    F = wrap_formats(row, full, body, call, "he")
    # cut_mid_code for HumanEval: the whole prompt + part of the body is what runs.
    F.append(("he_body_raw", body, prompt + body))
    F.append(("he_body_fenced", fence(body), prompt + body))
    F.append(("he_body_fenced_prose", "Here is the completed function body:\n\n" + fence(body) +
              "\n\nIt handles the empty case too.", prompt + body))
    F.append(("he_sig_no_docstring", fence(head + sig + body), head + sig + body))
    F.append(("he_sig_no_imports", fence(sig + body), prompt + sig + body))
    F.append(("he_prompt_then_prose", full.rstrip("\n") + "\n\nThis works because we check every pair.\n",
              full))
    return F


def cpp_rows():
    """A small C++ fixture of our own: stdin/stdout and a test main; right and wrong."""
    io_ref = {"language": "cpp", "tests": [{"input": "3\n1 5 2\n", "output": "5\n"},
                                            {"input": "4\n-1 -7 -3 -2\n", "output": "-1\n"}]}
    io_right = ("#include <iostream>\nusing namespace std;\nint main() {\n    int n; cin >> n;\n"
                "    long best = 0; bool first = true;\n    for (int i = 0; i < n; i++) { long x; cin >> x;"
                " if (first || x > best) best = x; first = false; }\n    cout << best << endl;\n    return 0;\n}\n")
    io_wrong = io_right.replace("x > best", "x < best")
    tm_ref = {"language": "cpp", "test": "#include <cassert>\n#include <vector>\nint main() {\n"
              "    assert(count_even({1, 2, 3, 4}) == 2);\n    assert(count_even({}) == 0);\n"
              "    assert(count_even({-2, 7}) == 1);\n}\n"}
    tm_right = ("#include <vector>\nusing namespace std;\n\nint count_even(const vector<int>& v) {\n"
                "    int c = 0;\n    for (int x : v)\n        if (x % 2 == 0) c++;\n    return c;\n}\n")
    tm_wrong = tm_right.replace("x % 2 == 0", "x % 2 == 0 && x > 0")
    demo_main = ('\n#include <iostream>\nint main() {\n    std::cout << count_even({1, 2, 3}) << std::endl;\n'
                 '    return 0;\n}\n')
    out = []
    for ref, right, wrong, tag in ((io_ref, io_right, io_wrong, "io"), (tm_ref, tm_right, tm_wrong, "main")):
        for variant, code, ok in (("right", right, True), ("wrong", wrong, False)):
            F = [("cpp_fence_cpp", fence(code, "cpp"), ok), ("cpp_fence_cplusplus", fence(code, "c++"), ok),
                 ("cpp_fence_Cpp", fence(code, "C++"), ok), ("cpp_fence_bare", fence(code, ""), ok),
                 ("cpp_fence_tilde", fence(code, "cpp", "~~~"), ok),
                 ("cpp_prose_around", "Here is the C++ solution:\n\n" + fence(code, "cpp") +
                  "\n\nCompile with g++ -O2.", ok),
                 ("cpp_no_fence", code, ok),
                 ("cpp_think_draft", "<think>\nFirst attempt:\n" + fence(wrong if ok else right, "cpp") +
                  "\nHmm, let me reconsider.\n</think>\n\nFinal solution:\n" + fence(code, "cpp"), ok),
                 ("cpp_crlf", fence(code, "cpp").replace("\n", "\r\n"), ok),
                 ("cpp_unclosed", "```cpp\n" + code, ok),
                 ("cpp_list_indented", "1. Code:\n\n" + "\n".join(("   " + l) if l.strip() else l
                                                               for l in fence(code, "cpp").split("\n")), ok),
                 ("cpp_think_cut", "<think>\nDraft:\n" + fence(code, "cpp") + "\nNow check n = 0", False),
                 ("cpp_think_only_referred", "<think>\n" + fence(code, "cpp") + "\nLooks right.\n</think>\n"
                  "\nThe program above is my answer.", False)]
            if tag == "main":
                F.append(("cpp_with_demo_main", fence(code + demo_main, "cpp"), ok))
                F.append(("cpp_split_blocks", "Includes:\n" + fence("#include <vector>\nusing namespace std;", "cpp")
                          + "\nFunction:\n" + fence(code.split("\n\n", 1)[1], "cpp"), ok))
            for g, comp, exp in F:
                out.append(dict(ref, completion=comp, expected=exp, group=g, variant=variant,
                                source="cpp-" + tag))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default="experiments/code_probe.jsonl")
    a = ap.parse_args()
    he = {i: json.loads(l) for i, l in enumerate(open(os.path.join(a.data, "humaneval_first82.jsonl")))}
    mb = {json.loads(l)["task_id"]: json.loads(l) for l in open(os.path.join(a.data, "mbpp.jsonl"))}
    rows = []
    for src, ids, table in (("he", HE_IDS, he), ("mbpp", MBPP_IDS, mb)):
        for i in ids:
            row = table[i]
            if src == "he":
                right = row["canonical_solution"]
                base = {k: row[k] for k in ("task_id", "prompt", "test", "entry_point")}
                assert run_ref(row["prompt"] + right, row), row["task_id"]
            else:
                right = row["code"].replace("\r\n", "\n")
                base = {k: row[k] for k in ("task_id", "test_list", "test_setup_code")}
                assert run_ref(right, row), row["task_id"]
            wrong = None
            for kind, m in mutants(right):
                if run_ref((row["prompt"] + m) if src == "he" else m, row) is False:
                    try:
                        compile((row["prompt"] + m) if src == "he" else m, "m", "exec")
                    except SyntaxError:
                        continue
                    wrong = (kind, m)
                    break
            if wrong is None:
                print("no failing mutant for", row["task_id"], file=sys.stderr)
                continue
            call = usage_call(row)
            for variant, code in (("right", right), (wrong[0], wrong[1])):
                if src == "he":
                    forms = he_formats(row, code, call)
                else:
                    forms = wrap_formats(row, code, None, call, "mbpp")
                    forms.append(("mbpp_crlf_canonical", fence(code.replace("\n", "\r\n")), code))
                # Reasoning with an earlier draft (the other program) before the answer.
                other = wrong[1] if variant == "right" else right
                ofull = (row["prompt"] + other) if src == "he" else other
                cfull = (row["prompt"] + code) if src == "he" else code
                forms.append(("think_draft", "<think>\nLet me write a first version:\n" + fence(ofull) +
                              "\nWait, I should double check this against the examples.\n</think>\n\n" +
                              "Here is the solution:\n" + fence(cfull), cfull))
                forms.append(("think_no_open", "Okay, the task asks for a function.\n" + fence(ofull) +
                              "\nHmm.\n</think>\n\n" + fence(cfull), cfull))
                # Cut at max_tokens inside the reasoning, the program drafted there (no answer).
                forms.append(("think_cut", "<think>\nLet me write it:\n" + fence(cfull) +
                              "\nNow let me check the edge cases. For an empty input the", None))
                forms.append(("think_cut_unfenced", "<think>\nOkay, so the function is:\n\n" + cfull +
                              "\nLet me trace the first example", None))
                # The program only inside the reasoning, referred to after it (no answer).
                forms.append(("think_only_referred", "<think>\nLet me write it:\n" + fence(cfull) +
                              "\nThat handles the examples.\n</think>\n\nThe function above is my answer.",
                              None))
                for g, comp, prog in forms:
                    exp = run_ref(prog, row) if prog is not None else False
                    rows.append(dict(base, completion=comp, expected=exp, group=g, variant=variant,
                                     source=src))
    rows += cpp_rows()
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    n_right = sum(r["expected"] for r in rows)
    print(f"{len(rows)} rows ({n_right} right, {len(rows) - n_right} wrong) -> {a.out}")


if __name__ == "__main__":
    main()

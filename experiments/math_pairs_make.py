#!/usr/bin/env python3
"""Writes tests/fixtures/reward/math_pairs.jsonl: hand-written (completion, answer, expected) pairs
for the math checker, by category. Run from the repository root; the output is committed."""
import json
import sys

rows = []


def add(cat, completion, answer, expected, note=""):
    rows.append({"category": cat, "completion": completion, "answer": answer,
                 "expected": expected, "note": note})


def box(x, lead="Putting it together, the result is"):
    return f"{lead} $\\boxed{{{x}}}$."


# ---- boxed MATH-500-style answers
for a, p, e in [
    ("\\frac{14}{3}", "\\frac{14}{3}", True), ("\\frac{14}{3}", "\\dfrac{14}{3}", True),
    ("\\frac{14}{3}", "4\\frac{2}{3}", True), ("\\frac{14}{3}", "\\frac{3}{14}", False),
    ("3\\sqrt{13}", "3\\sqrt{13}", True), ("3\\sqrt{13}", "\\sqrt{117}", True),
    ("3\\sqrt{13}", "\\sqrt{39}", False), ("\\text{(C)}", "\\text{(C)}", True),
    ("\\text{(C)}", "C", True), ("\\text{(C)}", "(D)", False), ("p - q", "p-q", True),
    ("p - q", "q - p", False), ("6 - 5i", "6-5i", True), ("6 - 5i", "-5i+6", True),
    ("6 - 5i", "6+5i", False), ("\\frac{243}{625}", "\\frac{243}{625}", True),
    ("\\frac{243}{625}", "0.3888", True), ("\\frac{243}{625}", "0.389", False),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left(3,\\frac{\\pi}{2}\\right)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi)", False),
    ("10", "10", True), ("10", "11", False), ("-2", "-2", True), ("-2", "2", False),
    ("\\$32,348", "32348", True), ("\\$32,348", "\\$32,349", False),
    ("27,\\!000", "27000", True), ("27,\\!000", "2700", False),
    ("\\sqrt{51}", "\\sqrt{51}", True), ("\\sqrt{51}", "51^{1/2}", True),
    ("\\sqrt{51}", "7.14", False), ("2220", "2220", True), ("2220", "2,220", True),
    ("\\frac{1}{2}", "\\frac12", True), ("\\frac{1}{2}", "1/2", True), ("\\frac{1}{2}", "2", False),
    ("x^2+7x+10", "(x+2)(x+5)", True), ("x^2+7x+10", "(x+2)(x+6)", False),
    ("\\text{Evelyn}", "\\text{Evelyn}", True), ("\\text{Evelyn}", "\\text{Bob}", False),
    ("90^\\circ", "90", True), ("90^\\circ", "\\frac{\\pi}{2}", False),
]:
    add("boxed", box(p), a, e)

# ---- GSM8K: worked solutions with "#### N" as the reference
gsm = [
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72"),
    ("Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nShe earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10", "10"),
    ("In total she needs 100 - 50 - 30 - 15 = <<100-50-30-15=5>>5.\n#### 5", "5"),
    ("He runs 3*3=<<3*3=9>>9 sprints, so 9*60=<<9*60=540>>540 meters.\n#### 540", "540"),
    ("The total is 1,200 + 300 = <<1200+300=1500>>1500 dollars.\n#### 1,500", "1500"),
]
for ref, n in gsm:
    v = int(n)
    add("gsm8k", f"<think>Let me compute step by step.</think> The answer is {n}.", ref, True)
    add("gsm8k", f"First we find the parts, then add. #### {n}", ref, True)
    add("gsm8k", f"So the total comes to {v + 1}.", ref, False)
    add("gsm8k", f"<answer>{n}</answer>", ref, True)
    add("gsm8k", f"<answer>{v - 1}</answer>", ref, False)
    add("gsm8k", f"The answer is {v:,} dollars.", ref, True)

# ---- LaTeX outside \boxed{}: inline, \( \), \[ \], display $$
for comp, a, e in [
    ("Therefore $x = \\frac13$.", "\\frac{1}{3}", True),
    ("Therefore $x = \\frac13$.", "13", False),
    ("So the value is $\\frac{1}{3}$.", "\\frac{1}{3}", True),
    ("So the value is $\\frac{1}{3}$.", "3", False),
    ("The side length is $\\sqrt3$.", "\\sqrt{3}", True),
    ("The side length is $\\sqrt3$.", "3", False),
    ("We conclude $x \\in [-2,7]$.", "[-2,7]", True),
    ("We conclude $x \\in [-2,7]$.", "7", False),
    ("The area is \\(12\\pi\\).", "12\\pi", True),
    ("The area is \\(12\\pi\\).", "12", False),
    ("Hence\n\\[ y = 2x + 3 \\]", "2x+3", True),
    ("Hence\n\\[ y = 2x + 3 \\]", "3", False),
    ("Finally $$ \\frac{7}{8} $$", "\\frac78", True),
    ("Finally $$ \\frac{7}{8} $$", "8", False),
    ("The probability is $\\dfrac{5}{36}$.", "\\frac{5}{36}", True),
    ("The probability is $\\dfrac{5}{36}$.", "36", False),
    ("It equals $2^{10}$.", "1024", True),
    ("It equals $2^{10}$.", "10", False),
    ("The roots are $x=2$ and $x=3$.", "2, 3", True),
    ("The roots are $x=2$ and $x=3$.", "3", False),
    ("Thus the sum is $-\\frac{3}{2}$.", "-\\frac{3}{2}", True),
    ("Thus the sum is $-\\frac{3}{2}$.", "\\frac{3}{2}", False),
    ("We get $a_{10} = 512$.", "512", True),
    ("We get $a_{10} = 512$.", "10", False),
    ("So $\\cos\\theta = \\frac{\\sqrt{2}}{2}$.", "\\frac{\\sqrt2}{2}", True),
    ("So $\\cos\\theta = \\frac{\\sqrt{2}}{2}$.", "2", False),
    ("The distance is \\(\\sqrt{13}\\) units.", "\\sqrt{13}", True),
    ("The distance is \\(\\sqrt{13}\\) units.", "13", False),
    ("The answer is $\\frac{9}{4}$.", "\\frac{9}{4}", True),
    ("The answer is $\\frac{9}{4}$.", "2.25", True),
    ("The answer is $\\frac{9}{4}$.", "4", False),
    ("After simplifying, $f(2) = 17$.", "17", True),
    ("After simplifying, $f(2) = 17$.", "2", False),
    ("The slope is $m=-\\tfrac{1}{4}$.", "-\\frac14", True),
    ("The slope is $m=-\\tfrac{1}{4}$.", "4", False),
    ("Hence the minimum is \\[\\frac{3\\sqrt{3}}{2}.\\]", "\\frac{3\\sqrt{3}}{2}", True),
    ("Hence the minimum is \\[\\frac{3\\sqrt{3}}{2}.\\]", "2", False),
    ("It costs $5 and then $6 more, 11 in total.", "11", True),
    ("The perimeter is $P = 4s = 24$.", "24", True),
    ("The perimeter is $P = 4s = 24$.", "4", False),
    ("The perimeter is $4s = 24$.", "24", False),  # policy: "4s = 24" may as well ask for s
]:
    add("latex", comp, a, e)

# ---- the last number must not be read out of LaTeX or words
for comp, a, e in [
    ("the value is \\frac{1}{2}", "2", False),
    ("we take x^2", "2", False),
    ("so the result is x2", "2", False),
    ("the result is 2x", "2", False),
    ("the 3rd term", "3", False),
    ("it is \\sqrt{3}", "3", False),
    ("it is 10^{3}", "3", False),
    ("I counted 12 apples and 15 pears so 27", "27", True),
    ("I counted 12 apples and then 15 pears", "12", False),
    ("total: 4,500", "4500", True),
    ("total: 4,500", "500", False),
    ("we find 3.75 hours", "3.75", True),
    ("we find 3.75 hours", "75", False),
    ("a_5 equals nothing known", "5", False),
    ("so the answer is -7", "-7", True),
    ("so the answer is -7", "7", False),
    ("The expression \\frac{n(n+1)}{2} gives the sum", "2", False),
    ("this is case B2 of the problem", "2", False),
    ("roughly 42", "42", False),  # an estimate, like "about 12" (qualifiers)
    ("roughly 42.5", "42.5", True),  # a rounded decimal gold may be answered "roughly"
    ("The value: 0.125", "\\frac{1}{8}", True),
    ("so x equals \\frac13 here", "13", False),
    ("so x equals \\sqrt3 here", "3", False),
    ("the cube root \\sqrt[3]{2} appears", "3", False),
]:
    add("last_number", comp, a, e)

# ---- exact numbers: no floating point between integers, decimals, fractions
for a, p, e in [
    ("1000000000", "1000000001.0", False), ("1000000000", "1000000000.0", True),
    ("1000000000", "999999999", False), ("123456789012345678901234567890", "123456789012345678901234567891", False),
    ("123456789012345678901234567890", "123456789012345678901234567890", True),
    ("1e5000", "1e9999", False), ("1e5000", "1e5000", True), ("1e5000", "10e4999", True),
    ("0.1", "0.10000000001", False), ("0.1", "\\frac{1}{10}", True), ("\\frac{1}{3}", "0.3333333", True),
    ("\\frac{1}{3}", "0.33", False), ("\\frac{2}{3}", "0.666667", True), ("\\frac{2}{3}", "0.67", False),
    ("5", "4.9999999", False), ("5", "5.0000001", False), ("5", "5.000", True), ("-0.5", "-\\frac{1}{2}", True),
    ("-0.5", "\\frac{-1}{2}", True), ("2.5", "\\frac{5}{2}", True), ("2.5", "2\\frac12", True),
    ("7", "07", True), ("7", "7.01", False), ("3.14159", "\\pi", False), ("\\pi", "3.14", False),
    ("\\sqrt{2}", "1.41421356237", True), ("\\sqrt{2}", "1.4142", False), ("1.5\\times10^{3}", "1500", True),
    ("1.5\\times10^{3}", "150", False), ("2^{64}", "18446744073709551616", True),
    ("2^{64}", "18446744073709551615", False), ("\\frac{10}{4}", "\\frac{5}{2}", True),
    ("\\frac{10}{4}", "\\frac{5}{3}", False), ("0", "-0", True), ("0", "0.0001", False),
    ("10!", "3628800", True), ("10!", "3628801", False), ("\\frac{1}{7}", "0.142857", True),
    ("\\frac{1}{7}", "0.142858", False), ("12", "12.", True), ("100", "1e2", True),
]:
    add("exact", box(p), a, e)

# ---- polynomials and symbolic identity (no acceptance by agreement at sample points)
for a, p, e in [
    ("x^2-1", "(x-1)(x+1)", True), ("x^2-1", "(x-1)^2", False),
    ("x^3", "x^3+(x-0.37)(x+1.19)(x-2.03)", False),
    ("x", "x+x(x-0.37)(x+1.19)(x-2.03)", False),
    ("2x+1", "2x+1+(x-0.37)(x+1.19)(x-2.03)(x-0.543)", False),
    ("(a+b)^2", "a^2+2ab+b^2", True), ("(a+b)^2", "a^2+b^2", False),
    ("(a+b)^3", "a^3+3a^2b+3ab^2+b^3", True), ("(a+b)^3", "a^3+3a^2b+3ab^2+b^2", False),
    ("\\frac{x^2-4}{x-2}", "x+2", True), ("\\frac{x^2-4}{x-2}", "x-2", False),
    ("\\frac{1}{x}+\\frac{1}{y}", "\\frac{x+y}{xy}", True), ("\\frac{1}{x}+\\frac{1}{y}", "\\frac{2}{x+y}", False),
    ("3x^2y", "3yx^2", True), ("3x^2y", "3xy^2", False), ("x^{10}-1", "(x^5-1)(x^5+1)", True),
    ("x^{10}-1", "(x^5-1)^2", False), ("\\frac{n(n+1)}{2}", "\\frac{n^2+n}{2}", True),
    ("\\frac{n(n+1)}{2}", "\\frac{n^2+1}{2}", False), ("2^n", "2^n", True), ("2^n", "n^2", False),
    ("\\sqrt{x}\\sqrt{x}", "x", True), ("4x^4-4x^2+1", "(2x^2-1)^2", True),
    ("4x^4-4x^2+1", "(2x^2+1)^2", False), ("k^2+k", "k(k+1)", True), ("k^2+k", "k(k-1)", False),
]:
    add("symbolic", box(p), a, e)

# ---- trigonometry, logarithms, roots
for a, p, e in [
    ("1", "\\sin^2 x+\\cos^2 x", True), ("\\sin 2x", "2\\sin x\\cos x", True),
    ("\\cos 2x", "\\cos^2 x-\\sin^2 x", True), ("\\cos 2x", "1-2\\sin^2 x", True),
    ("\\cos 2x", "1-\\sin^2 x", False), ("\\tan x", "\\frac{\\sin x}{\\cos x}", True),
    ("\\sin 3x", "3\\sin x-4\\sin^3 x", True), ("\\sin 3x", "3\\sin x-3\\sin^3 x", False),
    ("\\frac{\\sqrt{3}}{2}", "\\sin\\frac{\\pi}{3}", True), ("\\frac{1}{2}", "\\cos\\frac{\\pi}{3}", True),
    ("\\frac{1}{2}", "\\sin\\frac{\\pi}{3}", False), ("3", "\\log_2 8", True), ("3", "\\log_2 9", False),
    ("2\\ln 2", "\\ln 4", True), ("2\\ln 2", "\\ln 5", False), ("\\frac{\\pi}{4}", "\\arctan 1", True),
    ("4\\sqrt{2}", "\\sqrt{32}", True), ("4\\sqrt{2}", "\\sqrt{16}", False), ("\\sqrt[3]{54}", "3\\sqrt[3]{2}", True),
    ("\\sqrt[3]{54}", "2\\sqrt[3]{3}", False), ("e^{2}", "e\\cdot e", True), ("e^2", "2e", False),
]:
    add("trig_log", box(p), a, e)

# ---- qualifiers and words around a number
for comp, a, e in [
    ("$\\boxed{81 \\text{ or more}}$", "81", False),
    ("$\\boxed{\\text{at least } 5}$", "5", False),
    ("The answer is about 12.", "12", False),
    ("The answer is approximately 3.14.", "\\pi", False),
    ("The answer is 81 or more.", "81", False),
    ("The answer is at most 7.", "7", False),
    ("$\\boxed{12 \\text{ or fewer}}$", "12", False),
    ("$\\boxed{5 \\text{ more than } x}$", "5", False),
    ("$\\boxed{18 \\text{ eggs}}$", "18", True),
    ("$\\boxed{18\\text{ miles}}$", "18", True),
    ("$\\boxed{18\\textnormal{ miles}}$", "18", True),
    ("$\\boxed{3 \\text{ hours}}$", "3", True),
    ("$\\boxed{\\$25}$", "25", True),
    ("$\\boxed{25 \\text{ dollars}}$", "25", True),
    ("$\\boxed{40\\text{ cm}^2}$", "40", True),
    ("$\\boxed{7 \\text{ and } 9}$", "7", False),
    ("$\\boxed{\\text{not } 4}$", "4", False),
    ("$\\boxed{\\text{none}}$", "0", False),
    ("$\\boxed{\\text{no solution}}$", "\\text{no solution}", True),
    ("$\\boxed{\\text{five}}$", "5", True), ("$\\boxed{\\text{six}}$", "5", False),  # number words: see number_words
    ("$\\boxed{5 x}$", "5", False), ("$\\boxed{5 \\text{ times } x}$", "5", False),
]:
    add("qualifier", comp, a, e)

# ---- several answers that conflict
for comp, a, e in [
    ("The answer is 81 or 82.", "81", False),
    ("$\\boxed{81 \\text{ or } 82}$", "81", False),
    # a retraction marker between two boxes makes the later one the answer (self_correction below)
    ("First guess $\\boxed{3}$, then on reflection $\\boxed{4}$.", "4", True),
    ("First guess $\\boxed{3}$, then on reflection $\\boxed{4}$.", "3", False),
    ("We get $\\boxed{5}$. Double checking: $\\boxed{5}$.", "5", True),
    ("$\\boxed{2}$ or $\\boxed{-2}$", "2", False),
    ("Either $x=1$ or $x=2$.", "1", False),
    ("$\\boxed{1, 2}$", "1", False),
    ("$\\boxed{7}$ ... wait, $\\boxed{8}$", "8", True), ("$\\boxed{7}$ ... wait, $\\boxed{8}$", "7", False),
    ("<answer>3 or 4</answer>", "3", False),
    ("$\\boxed{\\frac12}$ and $\\boxed{0.5}$", "\\frac{1}{2}", True),
    ("$\\boxed{10}$ and also $\\boxed{10.0}$", "10", True),
    ("The answer is 12, or maybe 13.", "12", False),
    ("$\\boxed{A}$ $\\boxed{B}$", "A", False),
    ("$\\boxed{x=4}$ and $\\boxed{x=5}$", "4", False),
]:
    add("conflict", comp, a, e)

# ---- self-corrections: the last committed answer wins; a retraction marker discards what precedes
# it ("wait, no", "actually, it's", "correction:", "41 — no, 42", "not 41 but 42"); after "wait",
# "hmm" or "let me check" only a boxed or stated answer replaces it. Never "no more", "no 42s".
for comp, a, e in [
    ("The answer is 41. Wait, no: 42.", "42", True), ("The answer is 41. Wait, no: 42.", "41", False),
    ("The answer is 41. No wait, it's 42.", "42", True), ("The answer is 41. No wait, it's 42.", "41", False),
    ("The answer is 41. Actually, it's 42.", "42", True), ("The answer is 41. Actually, it's 42.", "41", False),
    ("So the total is 41. Correction: 42.", "42", True), ("So the total is 41. Correction: 42.", "41", False),
    ("The answer is 41. I made an arithmetic error: the answer is 42.", "42", True),
    ("The answer is 41. I made an arithmetic error: the answer is 42.", "41", False),
    ("The answer is 41. Let me recompute: $6 \\times 7 = 42$.", "42", True),
    ("The answer is 41. Let me recompute: $6 \\times 7 = 42$.", "41", False),
    ("The answer is 41. Hmm, that's wrong; 6 times 7 is 42.", "42", True),
    ("The answer is 41. Hmm, that's wrong; 6 times 7 is 42.", "41", False),
    ("The answer is 41. On second thought, it is 42.", "42", True),
    ("The answer is 41. On second thought, it is 42.", "41", False),
    ("$\\boxed{41}$. Wait, no: $\\boxed{42}$.", "42", True), ("$\\boxed{41}$. Wait, no: $\\boxed{42}$.", "41", False),
    ("The answer is \\boxed{41}. Hmm, let me double-check: $6 \\cdot 7 = 42$, so the answer is \\boxed{42}.", "42", True),
    ("The answer is \\boxed{41}. Hmm, let me double-check: $6 \\cdot 7 = 42$, so the answer is \\boxed{42}.", "41", False),
    ("The answer is not 41 but 42.", "42", True), ("The answer is not 41 but 42.", "41", False),
    ("The answer is not $41$, but $42$.", "42", True), ("The answer is not $41$, but $42$.", "41", False),
    ("The answer is 41 \u2014 no, 42.", "42", True), ("The answer is 41 \u2014 no, 42.", "41", False),
    ("The total is 41 \u2013 no, 42 dollars.", "42", True), ("The total is 41 \u2013 no, 42 dollars.", "41", False),
    ("I first thought the answer is 12, but actually it is 13.", "13", True),
    ("She pays $41. Actually, she pays $42 after tax.", "42", True),
    ("She pays $41. Actually, she pays $42 after tax.", "41", False),
    ("$x = 41$. No, wait: $x = 42$.", "42", True), ("$x = 41$. No, wait: $x = 42$.", "41", False),
    ("So we get $\\frac{1}{2}$. Hmm, that's not right; the probability is $\\frac{1}{3}$.", "\\frac13", True),
    ("So we get $\\frac{1}{2}$. Hmm, that's not right; the probability is $\\frac{1}{3}$.", "\\frac12", False),
    ("**Answer: 41**\n\nOops, I misread the question. It asks for the total, which is 42.", "42", True),
    ("**Answer: 41**\n\nOops, I misread the question. It asks for the total, which is 42.", "41", False),
    ("<answer>41</answer> Wait, no: <answer>42</answer>", "42", True),
    ("<answer>41</answer> Wait, no: <answer>42</answer>", "41", False),
    # not retractions: emphasis, an affirmation, "no" as a word, a value ruled out after the answer,
    # a re-check without a new committed answer
    ("The answer is 41, no more and no less.", "41", True), ("The answer is 41, no more and no less.", "42", False),
    ("The answer is 41. Wait, no, 41 is right.", "41", True), ("The answer is 41. Wait, no, 41 is right.", "42", False),
    ("The answer is 41. Wait, no, that's right.", "41", True),
    ("There are no 42s in the list, so the count is 41.", "41", True),
    ("There are no 42s in the list, so the count is 41.", "42", False),
    ("The answer is 42, not 41.", "42", True), ("The answer is 42, not 41.", "41", False),
    ("The answer is 42. Wait, let me check this with 6 groups of 7.", "42", True),
    ("The answer is 42. Wait, let me check this with 6 groups of 7.", "7", False),
    ("The answer is \\boxed{42}. Let me verify with 6 groups of 7.", "42", True),
    ("The answer is \\boxed{42}. (A common mistake is to add: 3 + 4 = 7, but that's wrong.)", "42", True),
    ("The answer is \\boxed{42}. (A common mistake is to add: 3 + 4 = 7, but that's wrong.)", "7", False),
    ("The answer is 42. Actually, this problem was easy: only 3 steps.", "42", True),
    ("The answer is 42. Actually, this problem was easy: only 3 steps.", "3", False),
    ("The answer is 42. No waiting is needed.", "42", True),
    ("The answer is 41 but actually 42.", "42", True), ("The answer is 41 but actually 42.", "41", False),
    # a number in a remark after the marker is no new answer; only one that closes the text is
    ("The answer is 42. I made a mistake in step 2 earlier (wrote 3 for 4), but it does not change the result.", "42", True),
    ("The answer is 42. I made a mistake in step 2 earlier (wrote 3 for 4), but it does not change the result.", "4", False),
    ("The answer is 42. Actually, 42 = 6 * 7.", "42", True), ("The answer is 42. Actually, 42 = 6 * 7.", "7", False),
    ("<think>41? Wait, no: 43.</think> The answer is \\boxed{42}.", "42", True),
    ("<think>41? Wait, no: 43.</think> The answer is \\boxed{42}.", "43", False),
    # "no" after an ellipsis, an opening bracket or "hmm"; a dash and "wait" right before a number
    ("The answer is 41... no, 42.", "42", True), ("The answer is 41... no, 42.", "41", False),
    ("The answer is 41 (no, 42).", "42", True), ("The answer is 41 (no, 42).", "41", False),
    ("The answer is 41. Hmm, no \u2013 42.", "42", True), ("The answer is 41. Hmm, no \u2013 42.", "41", False),
    ("The answer is 41 \u2013 wait, 42.", "42", True), ("The answer is 41 \u2013 wait, 42.", "41", False),
    ("The answer is 42 \u2013 wait, is it 6 \u00d7 7? Yes.", "42", True),
    ("The answer is 42 \u2013 wait, is it 6 \u00d7 7? Yes.", "7", False),
    ("We tried 1, 2, 3... no, none worked. The answer is 4.", "4", True),
    ("We tried 1, 2, 3... no, none worked. The answer is 4.", "3", False),
]:
    add("self_correction", comp, a, e)

# ---- scientific notation and Unicode signs in prose: one number, never its mantissa; the minus
# sign "\u2212" is a minus; superscripts are exponents
for comp, a, e in [
    ("The population grows to 1.5 x 10^6.", "1500000", True), ("The population grows to 1.5 x 10^6.", "1.5", False),
    ("The population grows to 1.5 \u00d7 10^6.", "1500000", True),
    ("The population grows to 1.5 \u00d7 10^6.", "1.5", False),
    ("It is 2x10^3 grams.", "2000", True), ("It is 2x10^3 grams.", "2", False),
    ("It is 2 \u00d7 10^(-3).", "0.002", True), ("It is 2 \u00d7 10^(-3).", "2", False),
    ("The number is 3.14 \u00d7 10^-2.", "0.0314", True), ("The number is 3.14 \u00d7 10^-2.", "3.14", False),
    ("The population grows to 1.5e6.", "1500000", True), ("The number is 3.14E-2.", "0.0314", True),
    ("The number is 3.14E-2.", "3.14", False),
    ("It weighs 6.02 \u00d7 10\u00b2\u00b3 units.", "6.02\\times10^{23}", True),
    ("It weighs 6.02 \u00d7 10\u00b2\u00b3 units.", "6.02", False),
    ("It weighs 6.02 \u00d7 10\u00b2\u00b3 units.", "6.02\\times10^{6}", False),
    ("The answer is 2\u207b\u00b9.", "\\frac12", True), ("The answer is 2\u207b\u00b9.", "2", False),
    ("The answer is $x\u2074 + 1$.", "x^4+1", True), ("The answer is $x\u2074 + 1$.", "x+1", False),
    ("The area is 25 m\u00b2.", "25", True), ("The area is 25 m\u00b2.", "2", False),
    ("The temperature dropped to \u22125 degrees.", "-5", True),
    ("The temperature dropped to \u22125 degrees.", "5", False),
    ("The result is \u22123/4.", "-\\frac34", True), ("The result is \u22123/4.", "\\frac34", False),
    ("The answer is 1/3 \u2248 0.333.", "\\frac13", True), ("The answer is 1/3 \u2248 0.333.", "0.3", False),
]:
    add("sci_unicode", comp, a, e)

# ---- a percent in prose keeps its sign (12.5% is 0.125, never 125); a restatement after "i.e." is cut
for comp, a, e in [
    ("So the percentage is 12.5%.", "0.125", True), ("So the percentage is 12.5%.", "12.5", True),
    ("So the percentage is 12.5%.", "125", False), ("So the percentage is 12.5%.", "0.0125", False),
    ("The sales rose by 5% this year.", "0.05", True), ("The sales rose by 5% this year.", "0.5", False),
    ("The answer is 1/2, i.e. 0.5.", "0.5", True), ("The answer is 1/2, i.e. 0.5.", "0.2", False),
    ("The answer is 50% (i.e., 0.5).", "0.5", True), ("The answer is 50% (i.e., 0.5).", "5", False),
]:
    add("percent_restate", comp, a, e)

# ---- normalisation: \left/\right, fractions, text, percent, separators, decimal commas
for a, p, e in [
    ("(1,2)", "\\left(1,2\\right)", True), ("[0,1)", "\\left[0,1\\right)", True),
    ("[0,1)", "\\left[0,1\\right]", False), ("\\frac{3}{4}", "\\cfrac{3}{4}", True),
    ("\\frac{3}{4}", "\\tfrac34", True), ("\\frac{3}{4}", "\\frac43", False), ("\\frac{1}{3}", "\\frac13", True),
    ("\\frac{1}{3}", "\\frac{13}{1}", False), ("15", "15\\text{ miles}", True), ("15", "15\\textnormal{ miles}", True),
    ("15", "15\\mbox{ km}", True), ("15", "16\\text{ miles}", False), ("25\\%", "25", True), ("25\\%", "0.25", True),
    ("25\\%", "25\\%", True), ("25\\%", "2.5", False), ("25", "0.25", False), ("1000000", "1 000 000", True),
    ("1000000", "1\\,000\\,000", True), ("1000000", "1{,}000{,}000", True), ("1000000", "100 000", False),
    ("1234.5", "1{,}234.5", True), ("3.14", "3,14", True), ("3.14", "3{,}14", True), ("3.14", "3,15", False),
    ("0.5", "0,5", True), ("12", "12.0", True), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("45^\\circ", "45^{\\circ}", True), ("45^\\circ", "45\\degree", True), ("45", "45°", True), ("45^\\circ", "46", False),
    ("\\$1.50", "1.5", True), ("\\$1.50", "1.05", False), ("-3", "−3", True), ("6", "\\displaystyle 6", True),
    ("x+1", "x\\!+\\!1", True), ("\\frac{\\pi}{2}", "\\frac{1}{2}\\pi", True), ("2\\pi", "2 \\times \\pi", True),
    ("2\\pi", "\\pi", False), ("\\textbf{(B)}", "B", True), ("\\mathrm{Monday}", "\\text{Monday}", True),
]:
    add("normalise", box(p), a, e)

# ---- relations: \geq vs >=, sides swapped, \neq
for a, p, e in [
    ("x \\geq 5", "x >= 5", True), ("x \\geq 5", "5 \\leq x", True), ("x \\geq 5", "x \\ge 5", True),
    ("x \\geq 5", "x > 5", False), ("x \\geq 5", "x \\leq 5", False), ("x \\geq 5", "[5, \\infty)", True),
    ("x > 5", "(5,\\infty)", True), ("x > 5", "5 < x", True), ("x < -1", "x < -1", True), ("x < -1", "x \\le -1", False),
    ("x \\neq 3", "x != 3", True), ("x \\neq 3", "x \\ne 3", True), ("x \\neq 3", "3 \\neq x", True), ("x \\neq 3", "x = 3", False),
    ("-2 < x \\leq 5", "(-2, 5]", True), ("-2 < x \\leq 5", "(-2,5)", False), ("(-2, 5]", "-2 < x \\le 5", True),
    ("(-2, 5]", "5 \\geq x > -2", True), ("x \\le 0", "x \\leq 0", True), ("x \\le 0", "y \\leq 0", False),
    ("x \\geq \\frac{1}{2}", "x \\geq 0.5", True), ("x \\geq \\frac{1}{2}", "x \\geq 0.4", False),
    ("x \\in [-2,7]", "[-2,7]", True), ("x \\in [-2,7]", "[-2,7)", False),
]:
    add("relation", box(p), a, e)

# ---- assignments and equation chains: the final side answers
for comp, a, e in [
    ("$\\boxed{k = \\frac13}$", "\\frac{1}{3}", True), ("$\\boxed{k = \\frac13}$", "3", False),
    ("$\\boxed{x = 5+5+1 = 11}$", "11", True), ("$\\boxed{x = 5+5+1 = 11}$", "5", False),
    ("So $n = 2 \\cdot 3 = 6$.", "6", True), ("So $n = 2 \\cdot 3 = 6$.", "3", False),
    ("$\\boxed{a=3}$", "3", True), ("$\\boxed{a=3}$", "4", False),
    ("$\\boxed{y = 2x + 1}$", "y = 2x+1", True), ("$\\boxed{y = 2x + 1}$", "y = 2x-1", False),
    ("$\\boxed{2x+1}$", "y = 2x+1", True), ("$\\boxed{x^2 + y^2 = 25}$", "x^2+y^2=25", True),
    ("$\\boxed{x^2 + y^2 - 25 = 0}$", "x^2+y^2=25", True), ("$\\boxed{x^2 + y^2 = 5}$", "x^2+y^2=25", False),
    ("$\\boxed{f(3) = 10}$", "10", True), ("$\\boxed{(x,y) = (2,3)}$", "(2,3)", True),
    ("$\\boxed{(x,y) = (2,3)}$", "(3,2)", False), ("$\\boxed{m = 4 = 2^2}$", "4", True),
    ("$\\boxed{p = \\frac{2}{4} = \\frac{1}{2}}$", "\\frac12", True),
    ("$\\boxed{x^2 = 5}$", "5", False), ("$\\boxed{2x = 10}$", "10", False),
    ("$\\boxed{x + y = 7}$", "7", False), ("$\\boxed{\\text{Area} = 12}$", "12", True),
    ("$\\boxed{4! = 24}$", "24", True), ("$\\boxed{p = \\frac{2}{4} = \\frac{1}{3}}$", "\\frac12", False),
]:
    add("chain", comp, a, e)

# ---- sets and several answers: separate boxes, "and", braces
for comp, a, e in [
    ("The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3", True),
    ("The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "\\{2,3\\}", True),
    ("The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "2, 4", False),
    ("$\\boxed{3, 2}$", "2, 3", True), ("$\\boxed{\\{-1, 1\\}}$", "1, -1", True),
    ("$\\boxed{\\{-1, 1\\}}$", "1", False), ("$\\boxed{2 \\text{ and } 3}$", "2,3", True),
    ("$\\boxed{2 \\text{ and } 3}$", "2,3,4", False), ("$\\boxed{x=1, x=2}$", "1,2", True),
    ("$\\boxed{1,2,3}$", "1,2", False), ("$\\boxed{1,2}$", "1,2,2", False),
    ("$\\boxed{-3}$, $\\boxed{0}$, $\\boxed{3}$", "-3, 0, 3", True),
    ("$\\boxed{-3}$, $\\boxed{0}$, $\\boxed{3}$", "-3, 3", False),
    ("The roots are $\\boxed{\\frac12, -1}$.", "-1, \\frac{1}{2}", True),
    ("The roots are $x = 4$ and $x = -4$.", "\\pm 4", True),
    ("$\\boxed{\\{a, b\\}}$", "\\{b, a\\}", True), ("$\\boxed{\\{1,2\\}}$", "(1,2)", False),
    ("$\\boxed{\\{1,2\\} \\cup \\{3\\}}$", "\\{1,2\\}\\cup\\{3\\}", True),
    ("$\\boxed{\\emptyset}$", "\\emptyset", True), ("$\\boxed{\\emptyset}$", "0", False),
]:
    add("sets", comp, a, e)

# ---- matrices
M = "\\begin{pmatrix} %s \\end{pmatrix}"
for a, p, e in [
    (M % "1 & 2 \\\\ 3 & 4", M % "1&2\\\\3&4", True), (M % "1 & 2 \\\\ 3 & 4", M % "1&2\\\\4&3", False),
    (M % "1 & 2 \\\\ 3 & 4", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", True),
    (M % "1 & 2 \\\\ 3 & 4", M % "1&2&3&4", False), (M % "\\frac12 \\\\ 3", M % "0.5\\\\3", True),
    (M % "\\frac12 \\\\ 3", M % "0.5\\\\4", False), (M % "2 \\\\ -1", M % "2\\\\-1", True),
    (M % "2 \\\\ -1", M % "-1\\\\2", False), (M % "\\sqrt{8} & 0 \\\\ 0 & 1", M % "2\\sqrt2&0\\\\0&1", True),
    (M % "1 & 0 \\\\ 0 & 1", M % "1&0\\\\0&1\\\\0&0", False), (M % "x & 1 \\\\ 0 & x", M % "x&1\\\\0&x", True),
    (M % "x & 1 \\\\ 0 & x", M % "x&0\\\\1&x", False), (M % "1 \\\\ 2 \\\\ 3", "(1,2,3)", False),
    (M % "-\\frac{1}{3} \\\\ \\frac{2}{3}", M % "-1/3\\\\2/3", True), (M % "6 & 7", M % "6&7", True),
]:
    add("matrix", box(p), a, e)

# ---- \pm
for a, p, e in [
    ("\\pm 3", "3, -3", True), ("\\pm 3", "3", False), ("1 \\pm \\sqrt{2}", "1+\\sqrt2, 1-\\sqrt2", True),
    ("1 \\pm \\sqrt{2}", "1+\\sqrt2", False), ("1+\\sqrt{2}, 1-\\sqrt{2}", "1 \\pm \\sqrt{2}", True),
    ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}", True),
    ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1+\\sqrt5}{2}", False),
    ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{1+\\sqrt5}{2}, \\frac{1-\\sqrt5}{2}", False),
    ("-1 \\pm 2i", "-1+2i, -1-2i", True), ("-1 \\pm 2i", "1 \\pm 2i", False), ("\\pm 3", "\\pm3", True),
    ("2 \\pm 1", "1, 3", True),
]:
    add("pm", box(p), a, e)

# ---- intervals and tuples
for a, p, e in [
    ("(1,2)", "(1, 2)", True), ("(1,2)", "(2,1)", False), ("(1,2)", "[1,2]", False), ("(1,2]", "(1,2]", True),
    ("(-\\infty, 3)", "(-\\infty,3)", True), ("(-\\infty, 3)", "(-\\infty,3]", False),
    ("(-\\infty, 3)", "(\\infty,3)", False), ("[2,\\infty)", "\\left[2,\\infty\\right)", True),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty,-1)\\cup(1,\\infty)", True),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(1,\\infty)\\cup(-\\infty,-1)", True),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty,-1]\\cup(1,\\infty)", False),
    ("(3, -\\frac12)", "(3,-0.5)", True), ("(3, -\\frac12)", "(-0.5,3)", False), ("(1,2,3)", "(1,2,3)", True),
    ("(1,2,3)", "(1,2)", False), ("\\left( \\frac{1}{2}, \\frac{\\sqrt{3}}{2} \\right)", "(0.5, \\frac{\\sqrt3}{2})", True),
    ("(0, 1]", "0 < x \\leq 1", True), ("[0, 1]", "0 \\le x \\le 1", True), ("[0, 1]", "0 < x < 1", False),
    ("(2, 5)", "(2,5", False), ("(a, b)", "(a,b)", True), ("(a, b)", "(b,a)", False), ("\\mathbb{R}", "(-\\infty,\\infty)", True),
    ("(-\\infty, \\infty)", "\\mathbb{R}", True), ("[-1,1]", "[-1, 1)", False),
]:
    add("interval", box(p), a, e)

# ---- a reference that is itself a sentence or a solution
for comp, a, e in [
    ("$\\boxed{12}$", "The answer is 12.", True), ("$\\boxed{13}$", "The answer is 12.", False),
    ("$\\boxed{\\frac{1}{4}}$", "So the probability is $\\frac{1}{4}$.", True),
    ("$\\boxed{4}$", "So the probability is $\\frac{1}{4}$.", False),
    ("$\\boxed{7}$", "Adding gives 3+4 = 7, so there are 7 marbles left in the jar.", True),
    ("$\\boxed{4}$", "Adding gives 3+4 = 7, so there are 7 marbles left in the jar.", False),
    ("$\\boxed{\\sqrt{5}}$", "The distance between the points is $\\sqrt{5}$ units.", True),
    ("$\\boxed{5}$", "The distance between the points is $\\sqrt{5}$ units.", False),
    ("$\\boxed{x=3}$", "Solving the linear equation we find that x equals $3$.", True),
    ("$\\boxed{-3}$", "Solving the linear equation we find that x equals $3$.", False),
    ("The answer is $24$.", "There are $4! = 24$ ways to arrange them.", True),
    ("The answer is $4$.", "There are $4! = 24$ ways to arrange them.", False),
    ("$\\boxed{2, 3}$", "The roots are $2$ and $3$.", True), ("$\\boxed{2}$", "The roots are $2$ and $3$.", False),
    ("$\\boxed{100}$", "Hence the final answer is: 100", True),
]:
    add("reference_text", comp, a, e)

# ---- answer tags, "the answer is", misc extraction
for comp, a, e in [
    ("<think>2+2=4</think><answer>4</answer>", "4", True), ("<think>2+2=4</think><answer>5</answer>", "4", False),
    ("<answer>$\\frac{3}{5}$</answer>", "\\frac35", True), ("<answer>\\boxed{0.6}</answer>", "\\frac35", True),
    ("<answer>The answer is 9</answer>", "9", True), ("Final answer: $-12$", "-12", True),
    ("Final answer: $-12$", "12", False), ("The final answer is $\\boxed{(2,-1)}$", "(2,-1)", True),
    ("The answer is: 3.5 meters.", "3.5", True), ("The answer is 3.5. Next we check 4.", "3.5", True),
    ("I am not sure.", "5", False), ("", "5", False), ("\\boxed{}", "5", False), ("\\boxed{5", "5", False),
    ("The answer is \\frac{5}{2}.", "2.5", True), ("The answer is 50%.", "50\\%", True),
    ("The answer is 50%.", "0.5", True), ("The answer is 50\\%.", "\\frac12", True),
    ("The answer is 50%.", "5", False), ("The answer is 0.5.", "50", False),
    ("Answer: B", "B", True), ("Answer: B", "C", False),
    ("<think>maybe $\\boxed{3}$? no.</think> So the answer is $\\boxed{4}$.", "4", True),
    ("<think>maybe $\\boxed{3}$? no.</think> So the answer is $\\boxed{4}$.", "3", False),
    ("<think>it is $\\boxed{4}$</think>", "4", True),
    ("We have $x = 3$ apples in each box, so in total 12", "12", True),
    ("We have $x = 3$ apples in each box, so in total 12", "3", False),
]:
    add("extraction", comp, a, e)

# ---- pathological answers: refused quickly, never equal
for p in ["9^{9^{9}}", "(a+b+c+d+e+f+g+h)^{64}-(a+b+c+d+e+f+g+h)^{63}",
          "\\frac{(a+b+c+d+e)^{60}}{(a+b+c+d+e+1)^{60}}", "(x+y+z+w)^{64}(x-y)^{64}", "1000!^{1000}",
          "e^{e^{e^{e^{64}}}}", "2^{2^{2^{2^{2^{2}}}}}", "(x+1)^{1000000}", "100000!", "\\sqrt{" * 30 + "2" + "}" * 30]:
    add("pathological", box(p), "1", False)

# ---- numbers set apart by a space: never a product; "2 1/3" is a mixed number
for comp, a, e in [
    (box("1 0"), "0", False), (box("3 4"), "12", False), (box("2 1/2"), "1", False),
    (box("2 1/2"), "\\frac52", True), ("The answer is 2 1/3 cups.", "\\frac73", True),
    ("The answer is 2 1/3 cups.", "\\frac23", False), ("She used 2 1/3 cups of flour.", "\\frac73", True),
    ("She used 2 1/3 cups of flour.", "\\frac13", False), (box("2 4/3"), "\\frac{10}{3}", False),
    (box("-1 1/2"), "-1.5", True),
]:
    add("spacing", comp, a, e)

# ---- prose, punctuation and emphasis around an answer given in words
for comp, a, e in [
    ("The answer is 12, since 3 times 4 is 12.", "12", True),
    ("The answer is 13, since 3 times 4 is 12.", "12", False),
    ("The answer is 12, which is the number of eggs.", "12", True),
    ("The answer is 12 because $3 \\cdot 4 = 12$.", "12", True),
    ("So the answer is 12 (after removing the broken ones).", "12", True),
    ("So the answer is 11 (after removing the broken ones).", "12", False),
    ("The answer is $40,$ as computed.", "40", True), ("The answer is $41,$ as computed.", "40", False),
    ("The answer is $40$;", "40", True),
    ("**Final Answer:** 42", "42", True), ("**Final Answer**: 42", "42", True),
    ("**Final Answer:** 24", "42", False), ("The answer is **42**.", "42", True),
    ("The answer is **24**.", "42", False), ("The correct option is **B**.", "B", True),
    ("The correct option is **D**.", "B", False), ("The correct answer is 7.", "7", True),
    ("The answer is $18 per day.", "#### 18", True), ("The answer is $19 per day.", "#### 18", False),
    ("The answer is 3 and 4.", "3", False),
    ("The answer is not 42, because 41 is.", "42", False),
    ("The answer is 12 because $x = 7$.", "12", True), ("The answer is 12 because $x = 7$.", "7", False),
    ("I first thought the answer is 12, but actually it is 13.", "12", False),
    ("The answer is 12, then subtract 2 to get 10.", "12", False),
    ("The answer is 5 for part (a) and 7 for part (b).", "5", False),
    ("The answer is 5 if n is odd and 6 otherwise.", "5", False),
    ("The answer is 5 at most.", "5", False), ("The answer is 5, at least.", "5", False),
    ("The answer is $9$ at $x = 3$.", "9", True),
    ("The answer is $\\frac{1}{2}$, which is the probability.", "\\frac12", True),
]:
    add("trailing", comp, a, e)

# ---- units after constants, compound units, temperatures; nested boxes
for comp, a, e in [
    (box("60 \\text{ km/h}"), "60", True), (box("60 \\text{ km/h}"), "50", False),
    (box("9.8 \\, \\mathrm{m/s^2}"), "9.8", True), (box("36\\pi \\text{ cm}^2"), "36\\pi", True),
    (box("36\\pi\\ \\text{cm}^2"), "36\\pi", True), (box("34\\pi \\text{ cm}^2"), "36\\pi", False),
    (box("2\\sqrt{3} \\text{ meters}"), "2\\sqrt3", True), (box("2\\sqrt{2} \\text{ meters}"), "2\\sqrt3", False),
    (box("30^\\circ\\text{C}"), "30", True), (box("30^{\\circ} F"), "30", True), (box("31^\\circ C"), "30", False),
    (box("x \\text{ cm}"), "5", False), (box("5x \\text{ cm}"), "5", False),
    (box("\\boxed{42}"), "42", True), (box("\\boxed{41}"), "42", False),
]:
    add("units", comp, a, e)

# ---- a choice letter with its value; rounded golds answered "approximately"
for comp, a, e in [
    (box("(B) 12"), "B", True), (box("(C) 12"), "B", False), (box("\\textbf{(B) } 12"), "\\textbf{(B)}", True),
    (box("\\textbf{(C) } 12"), "\\textbf{(B)}", False), (box("(B) 12 \\text{ or } (C) 13"), "B", False),
    (box("(B) \\text{ and } (C)"), "B", False), ("The answer is (B) $\\frac{1}{2}$.", "B", True),
    ("The area is $\\approx 28.27$.", "28.27", True), ("The area is $\\approx 28.28$.", "28.27", False),
    ("The area is $A = \\pi r^2 \\approx 28.27$.", "28.27", True),
    ("The area is $A = \\pi r^2 \\approx 28.27$.", "9\\pi", False),
    ("The answer is approximately 3.14.", "3.14", True), ("The answer is approximately 3.15.", "3.14", False),
    ("The answer is approximately 12.", "12", False), (box("\\approx 1.41"), "\\sqrt{2}", False),
    (box("x \\approx 12"), "12", False),
]:
    add("choice_approx", comp, a, e)

# ---- structures written another way: a set of one, named coordinates, relations joined by "or",
# an equation with its sides moved, a value written first
for comp, a, e in [
    (box("\\{42\\}"), "42", True), (box("\\{41\\}"), "42", False), (box("42"), "\\{42\\}", True),
    (box("\\{42, 43\\}"), "42", False),
    (box("x=1, y=2"), "(1,2)", True), (box("x=2, y=1"), "(1,2)", False), (box("x=1, x=2"), "(1,2)", False),
    (box("x=1, y=2, z=3"), "(1,2)", False), ("The point is $(1, 2)$.", "x=1, y=2", True),
    (box("x < 3 \\text{ or } x > 5"), "(-\\infty,3)\\cup(5,\\infty)", True),
    (box("x < 3 \\text{ or } x > 6"), "(-\\infty,3)\\cup(5,\\infty)", False),
    (box("x < 3 \\text{ or } y > 5"), "(-\\infty,3)\\cup(5,\\infty)", False),
    (box("x \\le 3 \\text{ or } x > 5"), "(-\\infty,3)\\cup(5,\\infty)", False),
    (box("(-\\infty,3)\\cup(5,\\infty)"), "x<3 \\text{ or } x>5", True),
    (box("2x - y + 3 = 0"), "y=2x+3", True), (box("2x + 3 = y"), "y=2x+3", True),
    (box("2x - y - 3 = 0"), "y=2x+3", False),
    (box("7 = x"), "7", True), (box("8 = x"), "7", False), (box("7 = y"), "x=7", False),
    (box("|x| > 1"), "(-\\infty,-1)\\cup(1,\\infty)", True), (box("|x| \\ge 1"), "(-\\infty,-1)\\cup(1,\\infty)", False),
    (box("|x| < 3"), "(-3,3)", True), (box("|x| < 3"), "(0,3)", False),
]:
    add("structure_forms", comp, a, e)

# ---- notations: \pm inside a fraction, binomials, congruences, empty sets, repeating decimals,
# degrees in trigonometry, Unicode, a spaced x as times, words in any case, plain-text points
for comp, a, e in [
    ("The roots are $x = \\frac{-1 + \\sqrt{5}}{2}$ and $x = \\frac{-1 - \\sqrt{5}}{2}$.",
     "\\frac{-1\\pm\\sqrt5}{2}", True),
    ("The roots are $x = \\frac{-1 \\pm \\sqrt{5}}{2}$.", "\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}", True),
    ("The roots are $x = \\frac{1 \\pm \\sqrt{5}}{2}$.", "\\frac{-1\\pm\\sqrt5}{2}", False),
    ("The number of ways is $\\binom{5}{2}$.", "10", True), ("The number of ways is $\\dbinom{5}{3}$.", "5", False),
    ("The number of ways is $\\binom{5}{2} = 10$.", "\\binom{5}{2}", True), (box("\\binom{n}{2}"), "10", False),
    ("So $n \\equiv 3 \\pmod{7}$.", "3", True), ("So $n \\equiv 3 \\pmod{7}$.", "7", False),
    ("Answer: $\\varnothing$", "\\emptyset", True), ("Answer: $\\{\\}$", "\\emptyset", True),
    ("Answer: $\\{0\\}$", "\\emptyset", False), ("Answer: all real numbers", "(-\\infty,\\infty)", True),
    ("Answer: all real numbers except 0", "(-\\infty,\\infty)", False),
    ("Answer: $0.\\overline{3}$", "\\frac13", True), ("Answer: $0.\\overline{6}$", "\\frac13", False),
    ("Answer: $1.\\overline{27}$", "\\frac{14}{11}", True), ("Answer: $0.1\\overline{6}$", "\\frac16", True),
    ("Answer: $0.\\overline{16}$", "\\frac16", False),
    ("Answer: $\\sin 30^\\circ$", "\\frac12", True), ("Answer: $\\tan 45^{\\circ}$", "1", True),
    ("Answer: $\\sin 45^\\circ$", "\\frac12", False), ("Answer: $30^\\circ$", "30", True),
    ("The answer is 6\u221a2.", "6\\sqrt2", True), ("The answer is 6\u221a3.", "6\\sqrt2", False),
    ("The answer is \u221a2/2.", "\\frac{\\sqrt2}2", True), ("The answer is x\u00b2.", "x^2", True),
    ("The answer is 10\u00b3.", "1000", True), ("The answer is 10\u00b2.", "1000", False),
    ("The answer is 1.5 x 10^3.", "1500", True), ("The answer is 1.5 x 10^4.", "1500", False),
    ("The answer is 2 x 3 = 6.", "6", True), ("The answer is 5 - 3 = 2 apples.", "2", True),
    ("The answer is 5 - 3 = 2 apples.", "5", False),
    ("Answer: \\text{Yes}", "\\text{yes}", True), ("Answer: No", "\\text{yes}", False),
    ("Answer: TRUE", "\\text{True}", True), ("Answer: a", "A", False),
    ("The vertex is at (2, -3).", "(2,-3)", True), ("The vertex is at (2, -3).", "-3", False),
    ("The vertex is at (2, 3).", "(2,-3)", False),
    ("Therefore\n\\[\nx = 5\n\\]\nThis satisfies equation (1).", "5", True),
    ("Therefore\n\\[\nx = 5\n\\]\nThis satisfies equation (1).", "1", False),
    ("The answer is $\\langle 1, 2 \\rangle$.", "(1,2)", True),
    ("The answer is $\\langle 2, 1 \\rangle$.", "(1,2)", False),
]:
    add("notation", comp, a, e)

# ---- named values compare by name; function values, lengths and angles as chain heads
for a, p, e in [
    ("a=2, b=3", "b=3, a=2", True), ("a=2, b=3", "a=3, b=2", False), ("a=2, b=3", "2, 3", True),
    ("a=2, b=3", "3, 2", False), ("x=1, x=2", "x=2, x=1", True),
    ("\\frac{x-3}{2}", "f^{-1}(x) = \\frac{x-3}{2}", True), ("\\frac{x-3}{2}", "f^{-1}(x) = \\frac{x+3}{2}", False),
    ("6x+1", "f'(x) = 6x + 1", True), ("6x+1", "f'(x) = 6x - 1", False), ("7", "g(f(2)) = 7", True),
    ("7", "g(f(2)) = 8", False), ("12", "|AB| = 12", True), ("12", "\\overline{AB} = 12", True),
    ("12", "m\\angle ABC = 12^\\circ", True), ("13", "\\angle A = 12^\\circ", False),
    ("5", "x^2 - 20 = 5", False), ("(1,2)", "\\{(1,2)\\}", True), ("(1,2)", "\\{(2,1)\\}", False),
    ("5", "5 \\text{ sq. units}", True), ("40", "40 \\text{ km/hr}", True), ("41", "40 \\text{ km/hr}", False),
]:
    add("named", box(p), a, e)

# ---- "the answer is" that gives no answer, or gives it on the next lines; ratios and times
for comp, a, e in [
    ("To see whether the answer is correct, substitute back. We get 42.", "42", True),
    ("To see whether the answer is correct, substitute back. We get 41.", "42", False),
    ("The answer is as follows:\n\n$$42$$", "42", True), ("The answer is as follows:\n\n41", "42", False),
    ("The final answer is:\n\n42\n\nLet me know if you need more.", "42", True),
    ("The answer is not 42.", "42", False),
    ("42 is the answer, not 41.", "42", True), ("42 is the answer, not 41.", "41", False),
    ("Therefore, $x = 5$ is our final answer.", "5", True), ("So (B) is the correct answer.", "B", True),
    ("So (C) is the correct answer.", "B", False), ("I think 7 is the answer. But the answer is 8.", "7", False),
    ("The ratio is 3:4.", "3:4", True), ("The ratio is 3:4.", "4", False), ("The time is 2:30.", "2:30", True),
    ("The time is 2:30.", "30", False), ("The ratio is 4:3.", "3:4", False),
]:
    add("answer_is", comp, a, e)

# ---- a gold choice with its value; an exact answer followed by its approximation
for comp, a, e in [
    (box("D"), "\\textbf{(D) }\\frac{3}{2}", True), (box("1.5"), "\\textbf{(D) }\\frac{3}{2}", True),
    (box("\\frac23"), "\\textbf{(D) }\\frac{3}{2}", False), (box("C"), "\\textbf{(D) }\\frac{3}{2}", False),
    (box("(C) \\frac32"), "\\textbf{(D) }\\frac{3}{2}", False),
    ("The answer is option D.", "D", True), ("The answer is option C.", "D", False),
    ("The answer is: D) 3/2", "D", True), ("The answer is: C) 3/2", "D", False),
    ("So the answer is B: 12", "B", True), ("So the answer is B: 12", "C", False),
    (box("\\frac{\\sqrt{3}}{2}\\approx 0.866"), "\\frac{\\sqrt3}2", True),
    (box("\\frac{\\sqrt{3}}{2}\\approx 0.866"), "0.866", True),
    (box("\\frac{\\sqrt{2}}{2}\\approx 0.707"), "\\frac{\\sqrt3}2", False),
    (box("x \\approx 0.866"), "\\frac{\\sqrt3}2", False),
    (box("\\text{The answer is } 5"), "5", True), (box("\\text{The answer is } 6"), "5", False),
]:
    add("choice_value", comp, a, e)

# ---- display math written as a derivation; colour, emphasis, currency, Unicode fractions
for comp, a, e in [
    ("We solve:\n$$\\begin{aligned}\n2x + 3 &= 13 \\\\\nx &= 5\n\\end{aligned}$$", "5", True),
    ("We solve:\n$$\\begin{aligned}\n2x + 3 &= 13 \\\\\nx &= 5\n\\end{aligned}$$", "13", False),
    ("\\[ \\therefore x = 5 \\]", "5", True), ("\\[ \\therefore x = 6 \\]", "5", False),
    ("\\[ 2x = 10 \\implies x = 5 \\]", "5", True), ("\\[ 2x = 10 \\implies x = 5 \\]", "10", False),
    ("\\[ x = 5 \\quad \\text{(answer)} \\]", "5", True), ("$\\text{Answer: } 40$", "40", True),
    ("$\\text{Answer: } 41$", "40", False), ("The answer is $\\color{red}{40}$.", "40", True),
    ("The answer is $\\textcolor{red}{41}$.", "40", False), ("The answer is $\\underline{40}$.", "40", True),
    ("The answer is $\\boxed{\\color{blue}40}$.", "40", True), ("The answer is $\\nicefrac{1}{2}$.", "\\frac12", True),
    ("The answer is USD 12.50.", "12.5", True), ("The answer is \u20ac12.50.", "12.5", True),
    ("The answer is \u00a312.40.", "12.5", False), ("The answer is 12 \u00bd.", "12.5", True),
    ("The answer is \u00be.", "0.75", True), ("The answer is \u00bc.", "0.75", False),
]:
    add("display", comp, a, e)

# ---- math after "where", "at", "for each", "since" or an approximation qualifies the answer before it
for comp, a, e in [
    ("So the total is $42$ for each $n$.", "42", True), ("So the total is $41$ for each $n$.", "42", False),
    ("Hence the sum is $\\frac{3}{4}$, where $a = 1$.", "\\frac34", True),
    ("Hence the sum is $\\frac{3}{4}$, where $a = 1$.", "1", False),
    ("So the remainder is $3$ (since $10 = 3 \\cdot 3 + 1$).", "3", True),
    ("So the remainder is $3$ (since $10 = 3 \\cdot 3 + 1$).", "1", False),
    ("The maximum value is $\\frac{9}{4}$ at $x = \\frac{3}{2}$.", "\\frac94", True),
    ("The maximum value is $\\frac{9}{4}$ at $x = \\frac{3}{2}$.", "\\frac32", False),
    ("Thus the answer is $9$, attained at $x=3$.", "9", True), ("Thus the answer is $9$, attained at $x=3$.", "3", False),
    ("The probability is $\\frac{1}{6}$ $(\\approx 0.167)$.", "\\frac16", True),
    ("The probability is $\\frac{1}{6}$ $(\\approx 0.167)$.", "0.167", False),
    ("We can write $f(2)$ as $\\frac{1}{2}$.", "\\frac12", True),
    ("Therefore $x = 5$. (We assumed $x > 0$.)", "5", True), ("Therefore $x = 5$. (We assumed $x > 0$.)", "0", False),
    ("The answer is $\\frac{1}{6}$ (which is about $0.167$).", "\\frac16", True),
    ("The answer is $\\frac{1}{6}$ (which is about $0.167$).", "0.167", False),
    ("We have $x$ apples, so the total is ($5$).", "5", True),
    ("Answer: Let me compute. 3+4 = 7. So we get 7", "7", True),
]:
    add("qualified_math", comp, a, e)

# ---- words that change a number's value are never units
for comp, a, e in [
    (box("1.2 \\text{ million}"), "1200000", True), (box("1.2 \\text{ million}"), "1.2", False),
    ("The population is 1.2 million people.", "1200000", True), ("The population is 1.2 million people.", "1.2", False),
    (box("5 \\text{ squared}"), "5", False), (box("3 \\text{ factorial}"), "3", False),
    (box("2 \\text{ dozen}"), "2", False), (box("3 \\text{ quarters}"), "3", False),
    (box("2.5 \\text{ billion dollars}"), "2500000000", True), (box("5 \\text{ cm}"), "5", True),
    ("The answer is 2 pi.", "2\\pi", True), ("The answer is 3 pi.", "2\\pi", False),
    ("The answer is 2*sqrt(3).", "2\\sqrt3", True), ("The answer is sqrt(3).", "2\\sqrt3", False),
]:
    add("scale_words", comp, a, e)

# ---- qualifiers outside the math or around the last number
for comp, a, e in [
    ("The answer is $5$ at most.", "5", False), ("The answer is $81$ or more.", "81", False),
    ("So we need at least $5$.", "5", False), ("We need at least 5 people.", "5", False),
    ("We need 5 or more people.", "5", False), ("It adds up to 5.", "5", True),
    ("The answer is approximately $5$.", "5", False), ("The answer is approximately $3.14$.", "3.14", True),
    ("So we need $5$ people.", "5", True), ("We need 5 people.", "5", True),
]:
    add("qualifier", comp, a, e)

# ---- references wrapped in math delimiters or Markdown bold
for comp, a, e in [
    (box("0.5"), "\\(\\frac12\\)", True), (box("0.6"), "\\(\\frac12\\)", False),
    (box("0.5"), "\\[\\frac{1}{2}\\]", True), (box("(1,2)"), "\\((1, 2)\\)", True),
    (box("(2,1)"), "\\((1, 2)\\)", False), (box("5"), "**5**", True), (box("6"), "**5**", False),
]:
    add("reference_text", comp, a, e)

# ---- one value said several ways ("0.5 or 50%", "1/2 (0.5)", "3/4, or 0.75") is that value; when
# the alternatives differ ("0.5 or 0.6", "2 or -2", "1/4 (20%)") it stays a list, and "2 (3)" is no product
for comp, a, e in [
    ("The answer is 0.5 or 50%.", "0.5", True), ("The answer is 0.5 or 50%.", "\\frac12", True),
    ("The answer is 0.5 or 50%.", "50\\%", True), ("The answer is 0.5 or 60%.", "0.5", False),
    ("The answer is 0.5 or 0.6.", "0.5", False), ("The answer is 2 or -2.", "2", False),
    ("The answer is 0.5 or 50.", "0.5", False), ("The answer is 50 or 50%.", "0.5", True),
    ("The answer is 1/2 (0.5).", "\\frac12", True), ("The answer is 1/2 (0.6).", "\\frac12", False),
    ("The answer is 1/2 (0.5).", "0.25", False), ("The answer is 2 (3).", "6", False),
    ("The answer is 2 (3).", "2", False), ("The answer is 3/4, or 0.75.", "\\frac34", True),
    ("The answer is 3/4, or 0.8.", "\\frac34", False),
    ("The probability is $\\frac{1}{2}$ (i.e. 50%).", "\\frac12", True),
    ("The probability is $\\frac{1}{2}$ (i.e. 60%).", "\\frac12", False),
    ("The answer is 12 (twelve).", "12", True), ("The answer is 13 (thirteen).", "12", False),
    ("The answer is $\\frac{3}{4}$ or $0.75$.", "\\frac34", True),
    ("The answer is $\\frac{3}{4}$ or $0.7$.", "\\frac34", False),
    ("$\\boxed{0.5 \\text{ or } 50\\%}$", "0.5", True), ("$\\boxed{0.5 \\text{ or } 0.05\\%}$", "0.5", False),
    ("So the chance is 1/4 (25%).", "\\frac14", True), ("So the chance is 1/4 (20%).", "\\frac14", False),
    ("The answer is 1.5 or 3/2.", "\\frac32", True), ("The answer is 1/3 or 0.33.", "\\frac13", False),
    ("The answer is $\\sqrt{2}$ or $2^{1/2}$.", "\\sqrt2", True), ("The answer is $\\sqrt{2}$ or $1.41$.", "\\sqrt2", False),
    ("So we need 4 (4) boxes.", "4", True), ("So we need 4 (5) boxes.", "4", False),
    ("The answer is 0.5, 50%, or 1/2.", "\\frac12", True), ("The answer is 0.5, 50%, or 1/3.", "\\frac12", False),
    ("By equation (2), the total is 42.", "42", True), ("By equation (2), the total is 42.", "2", False),
    ("The answer is 16 (4^2).", "16", True), ("The answer is 16 (4^2).", "4", False),
    ("The answer is 4 (2 + 3).", "4", False), ("The answer is 4 (2 + 3).", "5", False),
    ("The answer is 12 (3 \u00d7 4).", "12", True), ("The answer is 12 (3 \u00d7 5).", "12", False),
    ("The answer is 10 (or 10.0).", "10", True), ("The answer is 10 (or 11).", "10", False),
    ("The answer is $\\sin 30^\\circ$.", "\\frac12", True),
    # in math: "(or $2.5$)", "(i.e. $0.5$)" after the answer restate it; "x = ..." said twice
    ("The answer is $\\frac{5}{2}$ (or $2.5$).", "2.5", True), ("The answer is $\\frac{5}{2}$ (or $3.5$).", "2.5", False),
    ("The answer is $\\frac{5}{2}$ (or $3.5$).", "3.5", False),
    ("So $x = \\frac{1}{2}$ (i.e. $0.5$).", "\\frac12", True), ("So $x = \\frac{1}{2}$ (i.e. $0.6$).", "\\frac12", False),
    ("So $x = 2$ or $x = 2.0$.", "2", True), ("So $x = 2$ or $y = 2$.", "2", False), ("So $x = 2$ or $x = -2$.", "2", False),
    ("$\\boxed{x = 2, y = 2}$", "2", False), ("The answer is 2 1/2 (2.5).", "\\frac52", True),
    ("He ate 2 1/2 (3.5) pizzas.", "2.5", False), ("The probability is 3/8 or 37.5%.", "0.375", True),
    ("The probability is 3/8 or 37%.", "0.375", False),
]:
    add("restatement", comp, a, e)

# ---- an en or em dash written as a minus sign before a number; a dash between numbers is a range
# or a subtraction, one between clauses is punctuation
for comp, a, e, *note in [
    ("The answer is \u2013 5.", "-5", True), ("The answer is \u2013 5.", "5", False),
    ("So we get x = \u20133.", "-3", True), ("So we get x = \u20133.", "3", False),
    ("The temperature dropped to \u20135 degrees.", "-5", True), ("The temperature dropped to \u20135 degrees.", "5", False),
    ("The answer is \u20147.", "-7", True), ("The answer is \u20147.", "7", False),
    ("$\\boxed{\u20134}$", "-4", True), ("$\\boxed{\u20134}$", "4", False),
    ("The answer is: \u20132", "-2", True), ("The change is \u2013 12 dollars.", "-12", True),
    ("The slope is \u20131/2.", "-\\frac12", True), ("The slope is \u20131/2.", "\\frac12", False),
    ("The answer is (\u20133, 4).", "(-3,4)", True), ("The answer is (\u20133, 4).", "(3,4)", False),
    ("Read pages 3\u20135.", "5", False,
     "a bare rising range leaves the answer open (round 6 review): neither end alone, and never -5"),
    ("The last page she read is 5 (pages 3\u20134 yesterday, then 5).", "5", True),
    ("Read pages 3\u20135.", "-5", False),
    ("We computed 10\u20135 = 5.", "5", True), ("We computed 10\u20135 = 5.", "-5", False),
    ("We found the value \u2013 after some work \u2013 to be 5.", "5", True),
    ("We found the value \u2013 after some work \u2013 to be 5.", "-5", False),
    ("The difference was 7 \u2013 a big gap.", "7", True), ("The difference was 7 \u2013 a big gap.", "-7", False),
    ("The result is 12\u2014a dozen.", "12", True), ("The numbers \u2014 5 and 7 \u2014 sum to 12.", "12", True),
    # a dash before words after the answer starts a remark
    ("The answer is 5 \u2014 the smallest prime greater than 3.", "5", True),
    ("The answer is 5 \u2014 the smallest prime greater than 3.", "3", False),
    ("The answer is 5 -- the smallest prime.", "5", True), ("The answer is 5 -- the smallest prime.", "-5", False),
    ("The answer is -3 or \u20133.", "-3", True), ("The answer is 3 or \u20133.", "3", False),
    ("He has 5 \u2013 2 = 3 left.", "3", True), ("He has 5 \u2013 2 = 3 left.", "-2", False),
]:
    add("dash_minus", comp, a, e, *note)

# ---- "7 more cookies", "7 fewer", "7 more apples than Bob" answer "how many more"; never a bound
# ("5 or more", "7 more or less") or an expression ("7 more than x", "7 more than twice the number")
for comp, a, e in [
    ("The answer is 7 more cookies.", "7", True), ("The answer is 8 more cookies.", "7", False),
    ("The answer is 7 fewer.", "7", True), ("The answer is 7 more apples than Bob.", "7", True),
    ("The answer is 7 more apples than Bob.", "8", False), ("She has $\\boxed{7 \\text{ more cookies}}$.", "7", True),
    ("The answer is 3 fewer students.", "3", True), ("The answer is 3 fewer students.", "4", False),
    ("The answer is 5 or more.", "5", False), ("The answer is 7 more or less.", "7", False),
    ("The answer is 7 more than x.", "7", False), ("The answer is 7 more than twice the number.", "7", False),
    ("The answer is 20 more minutes than before.", "20", True), ("The answer is 2 fewer than half.", "2", False),
]:
    add("comparison_unit", comp, a, e)

# ---- "X is wrong/incorrect, the (correct) answer is Y" gives Y; "X is incorrect because ..." alone
# gives nothing new
for comp, a, e in [
    ("\\boxed{5} is wrong, the answer is 6", "6", True), ("\\boxed{5} is wrong, the answer is 6", "5", False),
    ("41 is incorrect; the correct answer is 42.", "42", True), ("41 is incorrect; the correct answer is 42.", "41", False),
    ("$\\boxed{5}$ is incorrect. The correct answer is $\\boxed{6}$.", "6", True),
    ("$\\boxed{5}$ is incorrect. The correct answer is $\\boxed{6}$.", "5", False),
    ("My previous answer of $\\boxed{5}$ was wrong; the answer is 6.", "6", True),
    ("My previous answer of $\\boxed{5}$ was wrong; the answer is 6.", "5", False),
    ("The answer is \\boxed{42}. Option B, 41, is incorrect because 41 is odd.", "42", True),
    ("The answer is \\boxed{42}. Option B, 41, is incorrect because 41 is odd.", "41", False),
    ("\\boxed{42}. Note 41 is incorrect.", "42", True), ("\\boxed{42}. Note 41 is incorrect.", "41", False),
    ("The answer is \\boxed{42}. A student claiming 42 is wrong would say the answer is 41.", "42", True),
    ("The answer is \\boxed{42}. A student claiming 42 is wrong would say the answer is 41.", "41", False),
]:
    add("wrong_then_answer", comp, a, e)

# ---- a tuple written as plain equations at the end of prose ("x = 3, y = 4", "x = 3 and y = 4"),
# only for a gold tuple of that length (x, y, z in alphabetical order, other names as written)
for comp, a, e in [
    ("So x = 3, y = 4.", "(3,4)", True), ("So x = 3, y = 4.", "(3, 4)", True), ("So x = 3, y = 4.", "(4,3)", False),
    ("Solving, x = 3 and y = 4.", "(3,4)", True), ("Solving, x = 3 and y = 4.", "(3,5)", False),
    ("Thus y = 4 and x = 3.", "(3,4)", True), ("Thus y = 4 and x = 3.", "(4,3)", False),
    ("So a = 2, b = 5.", "(2,5)", True), ("Then b = 5, a = 3.", "(3,5)", False),
    ("So x = 3, y = 4, z = 5.", "(3,4,5)", True), ("So x = 3, y = 4, z = 5.", "(3,4)", False),
    ("We get x = 3 and y = -4.", "(3,-4)", True), ("We get x = 3 and y = -4.", "(3,4)", False),
    ("Then x = 3. Later we compute y = 4.", "(3,4)", False),
    ("We test x = 3, y = 4 and find it fails, so there is no solution.", "(3,4)", False),
    ("Then x = 3, y = 4, so the sum is 7.", "(3,4)", False), ("Thus x = 3, x = 4.", "(3,4)", False),
    ("So 2x = 6, y = 4.", "(3,4)", False), ("So x = 3, y = 4 cm.", "(3,4)", True),
    ("<think>x = 1, y = 2</think> So x = 3, y = 4.", "(3,4)", True),
    ("<think>x = 3, y = 4</think> So x = 1, y = 2.", "(3,4)", False),
    # roots: one variable, as many values as the gold list
    ("The roots are x = 2 and x = 3.", "2, 3", True), ("The roots are x = 2 and x = 3.", "2", False),
    ("The roots are x = 2 or x = 3.", "3,2", True), ("The roots are x = 2 or x = 4.", "2, 3", False),
    ("So x = 2 and y = 3.", "2, 3", False), ("The roots are x = 2 or x = 3.", "(2,3)", False),
    ("The roots are x = 2, x = 3, and x = 5.", "2,3,5", True), ("The roots are x = 2, x = 3, and x = 5.", "2,3", False),
    # "is" for "=", one per line, Markdown bold
    ("So x is 3 and y is 4.", "(3,4)", True), ("So x is 3 and y is 4.", "(4,3)", False),
    ("x = 3\ny = 4", "(3,4)", True), ("x = 3\ny = 4", "(3,5)", False),
    ("**x = 3**, **y = 4**", "(3,4)", True), ("**x = 3**, **y = 4**", "(4,3)", False),
    ("This is 3 and y is 4.", "(3,4)", False), ("x = 3\n\nNow the area is 12.", "(3,12)", False),
]:
    add("plain_equations", comp, a, e)

# ---- a conditional answer, then a short clause that settles the condition: the resolution wins
for comp, a, e in [
    ("The answer is 41 if we count the first day. Since we don't, 42.", "42", True),
    ("The answer is 41 if we count the first day. Since we don't, 42.", "41", False),
    ("The answer is 41 if we count the first day. Since we do, 41.", "41", True),
    ("The answer is 41 if we count the first day. Since we do, 41.", "42", False),
    ("The answer is 41 if we count the first day. Since we don't, the answer is 42.", "42", True),
    ("The answer is 41 if we count the first day. Since we don't count it, we get 42.", "42", True),
    ("The answer is 41 if we count the first day; otherwise 42.", "42", False),
    ("The answer is \\boxed{12}. If we counted the first day it would be 13. Since we don't, it stays 12.", "12", True),
    ("The answer is \\boxed{12}. If we counted the first day it would be 13. Since we don't, it stays 12.", "13", False),
    ("The answer is \\boxed{42}. If you want to check, multiply 6 by 7. As a bonus, 6 + 7 = 13.", "42", True),
    ("The answer is \\boxed{42}. If you want to check, multiply 6 by 7. As a bonus, 6 + 7 = 13.", "13", False),
]:
    add("conditional", comp, a, e)

# ---- numbers written in words are numbers ("twelve", "twenty-five", "one hundred and five", "three
# quarters", "negative five", "25 percent"); never an ordinal alone, a run of digits in words or a
# word that only starts like one ("one of them")
for comp, a, e in [
    ("The answer is twelve.", "12", True), ("The answer is twelve.", "13", False), ("The answer is Twelve.", "12", True),
    ("The answer is twenty-five.", "25", True), ("The answer is twenty five.", "25", True),
    ("The answer is twenty-five.", "20", False), ("The answer is one hundred.", "100", True),
    ("The answer is one hundred and five.", "105", True), ("The answer is one hundred and five.", "100", False),
    ("The answer is two thousand three hundred forty.", "2340", True), ("The answer is one hundred thousand.", "100000", True),
    ("The answer is one half.", "0.5", True), ("The answer is three quarters.", "0.75", True),
    ("The answer is two thirds.", "\\frac23", True), ("The answer is three quarters.", "3", False),
    ("The answer is negative 5.", "-5", True), ("The answer is negative 5.", "5", False),
    ("The answer is minus 5.", "-5", True), ("The answer is negative five.", "-5", True),
    ("The answer is negative five.", "5", False), ("The answer is zero.", "0", True), ("The answer is zero.", "1", False),
    ("The answer is one two.", "3", False), ("The answer is one two.", "12", False),
    ("The answer is twenty twenty.", "2020", False), ("The answer is ten two.", "12", False),
    ("The answer is twelve apples.", "12", True), ("The answer is twelve apples.", "13", False),
    ("The answer is one of them.", "1", False), ("The answer is the third one.", "3", False),
    ("The answer is third.", "3", False), ("The answer is a dozen.", "12", False),
    ("<answer>seven</answer>", "7", True), ("<answer>seven</answer>", "8", False), ("#### seven", "7", True),
    ("The answer is none.", "\\text{none}", True), ("$\\boxed{\\text{none}}$", "0", False),
    ("The answer is 25 percent.", "0.25", True), ("The answer is 25 percent.", "25", True),
    ("The answer is 25 percent.", "0.025", False), ("So 25 percent of the class passed.", "\\frac14", True),
    ("So 25 percent of the class passed.", "0.2", False),
    ("The answer is a third.", "\\frac13", True), ("The answer is a third.", "3", False),
    ("The answer is half.", "\\frac12", True), ("The answer is half.", "2", False),
    ("The answer is a quarter.", "\\frac14", True), ("The answer is one third.", "\\frac13", True),
    ("The answer is a lot.", "1", False),
    ("The answer is infinity.", "\\infty", True), ("The answer is infinity.", "-\\infty", False),
    ("The answer is negative infinity.", "-\\infty", True), ("The answer is negative infinity.", "\\infty", False),
]:
    add("number_words", comp, a, e)

# ---- clock times: am / pm in any spelling; a gold time without it takes either, one with it needs
# the same
for comp, a, e in [
    ("She arrives at 3:45 pm.", "3:45", True), ("She arrives at 3:45 pm.", "3:45 PM", True),
    ("She arrives at 3:45 pm.", "3:45 \\text{ PM}", True), ("She arrives at 3:45 pm.", "3:45 AM", False),
    ("She arrives at 3:45 pm.", "4:45", False), ("She arrives at 3:45 p.m.", "3:45 PM", True),
    ("She arrives at 3:45 a.m.", "3:45 PM", False), ("The answer is 3:45 PM.", "3:45 p.m.", True),
    ("The meeting ends at 2:30 PM.", "2:30", True), ("The meeting ends at 2:30.", "2:30 PM", False),
    ("$\\boxed{3:45 \\text{ PM}}$", "3:45 PM", True), ("$\\boxed{3:45 \\text{ AM}}$", "3:45 PM", False),
    ("The answer is 9:05am.", "9:05 AM", True), ("The time is 10:30 pm", "22:30", False),
]:
    add("clock_time", comp, a, e)

# ---- an exact value with its approximation in prose ("1/6 \u2248 0.167") is the exact value; a rounded
# gold takes the approximation
for comp, a, e in [
    ("Therefore, the probability is 1/6 \u2248 0.167.", "\\frac16", True),
    ("Therefore, the probability is 1/6 \u2248 0.167.", "0.167", True),
    ("Therefore, the probability is 1/5 \u2248 0.2.", "\\frac16", False), ("So x \u2248 0.167.", "\\frac16", False),
    ("The answer is 1/6 \u2248 0.167.", "\\frac16", True), ("The answer is 1/6 \u2248 0.167.", "\\frac15", False),
]:
    add("approx_prose", comp, a, e)

# ---- an answer in quotes or code ticks; a ratio "3 to 4" or "3 : 4" (a label "Step 2: 16" is no ratio)
for comp, a, e in [
    ("The answer is \"18\".", "18", True), ("The answer is \"19\".", "18", False), ("The answer is `18`.", "18", True),
    ("The answer is '18'.", "18", True), ("The answer is \u201c18\u201d.", "18", True),
    ("The answer is \"Evelyn\".", "\\text{Evelyn}", True), ("The answer is \"18\" or \"19\".", "18", False),
    ("The answer is 3 to 4.", "3:4", True), ("The answer is 3 to 4.", "4", False), ("The answer is 3 to 4.", "4:3", False),
    ("The ratio is 3 : 4.", "3:4", True), ("The ratio is 3 : 4.", "4", False),
    ("Step 1: 5 + 3 = 8\nStep 2: 16", "16", True), ("Step 1: 5 + 3 = 8\nStep 2: 16", "2:16", False),
    ("Prices rose from 3 to 4 dollars.", "4", True), ("Prices rose from 3 to 4 dollars.", "3:4", False),
]:
    add("quoted_ratio", comp, a, e)

# ---- in prose, the value of a variable right after the answer ("12 when n = 3", "12, attained at
# x = 3") says where the answer holds, as "$42$ for each $n$" does in math
for comp, a, e in [
    ("So the minimum value is 9/4 when x = 1.", "\\frac94", True), ("So the minimum value is 9/4 when x = 1.", "1", False),
    ("The maximum is 12, attained at x = 3.", "12", True), ("The maximum is 12, attained at x = 3.", "3", False),
    ("The maximum is 12 at x = 3.", "12", True), ("The maximum is 12 at x = 3.", "3", False),
    ("The sum equals 55 for n = 10.", "55", True), ("The sum equals 55 for n = 10.", "10", False),
    ("We get 12 when n = 3.", "12", True), ("We get 12 when n = 3.", "3", False),
    ("Then y = 12 when x = 3.", "12", True), ("Then y = 12 when x = 3.", "3", False),
    ("The price at x = 3 is 12.", "12", True), ("The price at x = 3 is 12.", "3", False),
]:
    add("where_prose", comp, a, e)

# ---- what was counted and of what, or a rate, after the number: "7 bags of flour", "15 marbles in
# each box", "$18 an hour", "5 per person"; never a bound, a variable, a scale word or more numbers
for comp, a, e in [
    ("The answer is 7 bags of flour.", "7", True), ("The answer is 8 bags of flour.", "7", False),
    ("The answer is 15 marbles in each box.", "15", True), ("The answer is $18 an hour.", "18", True),
    ("The answer is $19 an hour.", "18", False), ("The answer is 3 more bags of flour.", "3", True),
    ("The answer is 9 pieces left over.", "9", True), ("The answer is 5 per person.", "5", True),
    ("The answer is 6 feet of rope.", "6", True), ("The answer is 100 a day.", "100", True),
    ("The answer is 5 apples or more.", "5", False), ("The answer is 5 apples at least.", "5", False),
    ("The answer is 5 groups of x.", "5", False), ("The answer is 5 bags of flour or more.", "5", False),
    ("The answer is 5 bags of at most 3 apples.", "5", False), ("The answer is 7 bags of 3 apples.", "7", False),
    ("The answer is 3 dozen eggs.", "3", False), ("The answer is 2 thousand of them.", "2", False),
    ("The answer is 1 in 4 chance.", "1", False), ("The answer is 3 of 4 students.", "3", False),
]:
    add("counted_phrase", comp, a, e)

# ---- round 5: what follows the answer and states none: a sign-off to the reader ("Hope this
# helps!", "Good luck with the other 9 problems!"), a remark in brackets, a check of the answer
# ("Verification: $2(5)+3 = 13$ \u2713") that names the answer and neither concludes nor finds a
# fault; a check that concludes or corrects still answers
for comp, a, e in [
    ("Thus $x = 5$. Hope this helps! Let me know if you have 2 more questions.", "5", True),
    ("Thus $x = 5$. Hope this helps! Let me know if you have 2 more questions.", "2", False),
    ("So there are $\\frac{3}{4}$ of the pizza left. I hope this helps with problem 3!", "\\frac34", True),
    ("So there are $\\frac{3}{4}$ of the pizza left. I hope this helps with problem 3!", "3", False),
    ("So she has $\\$24$ left. Good luck with the other 9 problems!", "24", True),
    ("So she has $\\$24$ left. Good luck with the other 9 problems!", "9", False),
    ("Therefore, the area is $24$ square units. (This is the answer to part 1.)", "24", True),
    ("Therefore, the area is $24$ square units. (This is the answer to part 1.)", "1", False),
    ("The answer is $12$. (Note that $13$ is not possible.)", "13", False),
    ("The answer is $12$. I hope you get 13 next time.", "12", True),
    ("There are 5 red and 7 blue. If you have any questions, ask. The total is 12.", "12", True),
    ("We compute 3 times 4. (Answer: 12)", "12", True),
    ("So $x = 5$.\n\nVerification: $2(5) + 3 = 13$. \u2713", "5", True),
    ("So $x = 5$.\n\nVerification: $2(5) + 3 = 13$. \u2713", "13", False),
    ("The answer is $x = 4$. Checking: $3(4) - 2 = 10$ \u2713", "4", True),
    ("The answer is $x = 4$. Checking: $3(4) - 2 = 10$ \u2713", "10", False),
    ("Thus the width is 6 cm.\n\nVerification: 2(6) + 2(10) = 32 cm, which matches the perimeter.", "6", True),
    ("Thus the width is 6 cm.\n\nVerification: 2(6) + 2(10) = 32 cm, which matches the perimeter.", "32", False),
    ("So \\(y = 3\\).\n\n**Check:** \\(4(3) - 5 = 7\\) \u2714", "3", True),
    ("So $x = 5$. To double-check: $5^2 = 25$. Yes.", "25", False),
    ("So $x = 5$.\n\nCheck: $2(5)+3 = 13 \\neq 15$. So $x = 6$.", "6", True),
    ("So $x = 5$.\n\nCheck: $2(5)+3 = 13 \\neq 15$. So $x = 6$.", "5", False),
    ("So $x = 5$. Check: $2(5)+3 = 13$, so the answer is $13$.", "5", False),
    ("We have 3 apples and 4 oranges. To check, note that 3+4 = 7. The total is 7.", "4", False),
    ("We have 3 apples and 4 oranges. To check, note that 3+4 = 7. The total is 7.", "7", True),
    ("So $x = 5$. Verification: $x + 3 = 8$, but we need 9, so $x = 6$.", "5", False),
    ("So $x = 5$. Check: $2(6)+3 = 15$.", "5", False),
    ("Check: $2+2 = 4$.", "4", True),
]:
    add("closing", comp, a, e)

# ---- round 5: a sign in words before math ("negative $\\frac12$", "is minus $3$"; never "$7$
# minus $3$" or "non-negative"), "5 below zero"; "45 dollars and 50 cents" as 45.50 (cents under
# 100); "2 hours and 30 minutes" as one duration, equal to a gold only in the unit the reference
# writes after its answer ("150 minutes", "= 2.5 hours\n#### 2.5"), never its last number
ref_min = "She spends 90 + 60 = <<90+60=150>>150 minutes.\n#### 150"
ref_hr = "It takes 5/2 = <<5/2=2.5>>2.5 hours.\n#### 2.5"
for comp, a, e in [
    ("The answer is negative $\\frac12$.", "-\\frac12", True),
    ("The answer is negative $\\frac12$.", "\\frac12", False),
    ("The answer is minus $\\frac{3}{4}$.", "-0.75", True),
    ("The answer is minus $\\frac{3}{4}$.", "0.75", False),
    ("The value is negative \\(5\\).", "-5", True),
    ("Negative $\\frac{1}{2}$ is the answer.", "-\\frac12", True),
    ("The answer is $7$ minus $3$.", "-3", False),
    ("The answer is non-negative $5$.", "-5", False),
    ("The temperature is 5 below zero.", "-5", True),
    ("The temperature is 5 below zero.", "5", False),
    ("The answer is 5 degrees below zero.", "-5", True),
    ("It was 5 below zero yesterday and 3 above zero today.", "-5", False),
    ("The answer is 45 dollars and 50 cents.", "45.50", True),
    ("The answer is 45 dollars and 50 cents.", "50", False),
    ("She pays $45 and 50 cents.", "45.5", True),
    ("She pays $45 and 50 cents.", "50", False),
    ("The answer is 3 dollars and 5 cents.", "3.05", True),
    ("The answer is 3 dollars and 5 cents.", "3.5", False),
    ("The answer is 45 dollars and 150 cents.", "46.5", False),
    ("It takes 2 hours and 30 minutes.", ref_min, True),
    ("It takes 2 hours and 30 minutes.", ref_hr, True),
    ("It takes 2 hours and 40 minutes.", ref_min, False),
    ("The answer is 2 hours 30 minutes.", ref_hr, True),
    ("It takes 2 hours and 30 minutes.", "150", False),
    ("It takes 2 hours and 30 minutes.", "30", False),
    ("It takes 2 hours and 30 minutes.", "150 minutes", True),
    ("It takes 1 hour and 15 minutes.", "75 hours", False),
    ("It takes 2 hours and 30 minutes, so she arrives at 4:30.", ref_min, False),
    ("The answer is 2 hours and 30 minutes or 3 hours.", ref_hr, False),
    ("He ran for 4 minutes and 20 seconds.", "260 seconds", True),
]:
    add("sign_money_time", comp, a, e)

# ---- round 5: hedges: "not $12$", "maybe $12$", "perhaps" before the answer; two values with the
# answer left open between them ("$12$, but I'm not sure; it might be $13$") are both answers;
# "12 apples, not 13" rules 13 out
for comp, a, e in [
    ("The answer is not $12$.", "12", False),
    ("It is not $12$.", "12", False),
    ("Maybe $12$?", "12", False),
    ("Perhaps $12$.", "12", False),
    ("The answer is maybe 12.", "12", False),
    ("The answer is $12$, but I'm not sure; it might be $13$.", "12", False),
    ("The answer is $12$, but I'm not sure; it might be $13$.", "13", False),
    ("The answer is 12, but I'm not sure; it might be 13.", "13", False),
    ("$12$, or maybe $13$.", "13", False),
    ("There are 12 apples, not 13.", "12", True),
    ("There are 12 apples, not 13.", "13", False),
    ("The answer is $12$, not $13$.", "12", True),
    ("The answer is $12$, not $13$.", "13", False),
    ("x is not $5$; it is $6$.", "6", True),
    ("The value cannot be $12$, so it is $14$.", "14", True),
    ("It could be $3$ or $5$. Testing both, only $x = 5$ works, so the answer is $5$.", "5", True),
    ("The sum could be 10. Adding again, the sum is 12.", "12", True),
    ("I think it might be $12$.", "12", True),
]:
    add("hedge_open", comp, a, e)

# ---- round 5: math after a qualifier ("when", "where", "for", "attained at") qualifies the math
# before it to the end of the clause, over several segments ("$r = 3$ when $n$ is divided by $7$")
# and after a display block ("\\] attained when $x = 1$"); not across "and", "," or a sentence
for comp, a, e in [
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "3", True),
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "7", False),
    ("The area is $A = 24$ when the side $s$ equals $4\\sqrt{2}$.", "24", True),
    ("The area is $A = 24$ when the side $s$ equals $4\\sqrt{2}$.", "4\\sqrt2", False),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "-\\frac94", True),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "\\frac32", False),
    ("We get $12$ when $n = 3$ and $15$ when $n = 4$.", "12", False),
    ("We get $12$ when $n = 3$ and $15$ when $n = 4$.", "15", False),
    ("The value is $5$ when $x = 2$, and $7$ when $x = 3$.", "5", False),
    ("If $n = 2$, then $f(n) = 5$.", "5", True),
    ("If $n = 2$, then $f(n) = 5$.", "2", False),
    ("So $x = 4$.\nFor $y$ we get $y = 7$.", "7", True),
]:
    add("qualified_clause", comp, a, e)

# ---- round 5: display environments outside dollars (\\begin{equation*}, align, gather) are math
# (their last row answers; \\label and \\tag dropped); "x \\in \\{1, 3\\}" answers the values;
# a computation with no free letter before "=" gives its value ("\\det A", "\\operatorname{lcm}(4,
# 6)", a determinant of numbers, "\\sum_{k=1}^{10} k"); a free letter stays an equation
for comp, a, e in [
    ("\\begin{equation*}\nx = \\frac{1}{3}\n\\end{equation*}", "\\frac13", True),
    ("\\begin{equation*}\nx = \\frac{1}{3}\n\\end{equation*}", "3", False),
    ("\\begin{align*}\nx &= \\frac{1}{3}\n\\end{align*}", "\\frac13", True),
    ("\\begin{equation}\nx = 5 \\label{eq:ans}\n\\end{equation}", "5", True),
    ("\\begin{equation}\nx = 5 \\label{eq:ans}\n\\end{equation}", "1", False),
    ("\\begin{align*}\n2x &= 10 \\\\\nx &= 5\n\\end{align*}\nThen $y = 2x = 10$.", "5", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1, 3", True),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1, 3, 5", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "(1,3)", False),
    ("The determinant is $\\det A = -2$.", "-2", True),
    ("The determinant is $\\det A = -2$.", "2", False),
    ("The determinant is $\\begin{vmatrix} 1 & 2 \\\\ 3 & 4 \\end{vmatrix} = -2$.", "-2", True),
    ("So $\\begin{vmatrix} a & b \\\\ c & d \\end{vmatrix} = 5$.", "5", False),
    ("So $\\operatorname{lcm}(4, 6) = 12$.", "12", True),
    ("So $\\operatorname{lcm}(a, 6) = 12$.", "12", False),
    ("So $\\max(a, b) = 7$.", "7", False),
    ("The sum is\n$$\\sum_{k=1}^{10} k = 55.$$", "55", True),
    ("The sum is\n$$\\sum_{k=1}^{10} k = 55.$$", "10", False),
    ("Thus $\\sum_{k=1}^{n} k = 55$.", "55", False),
]:
    add("env_heads", comp, a, e)

# ---- round 5: a fraction or percent "of the pizza" is the fraction (never "3 of 4 students"); a
# check mark after the answer ("12 \u2705"); a label of words before "=" ("\\text{number of ways} =
# 6"); set-builder notation as its condition; a bound a few words after the math ("$5$ apples or
# more")
for comp, a, e in [
    ("She ate $\\frac{3}{4}\\text{ of the pizza}$.", "\\frac34", True),
    ("She ate $\\frac{3}{4}\\text{ of the pizza}$.", "\\frac14", False),
    ("The answer is 1/3 of the cake.", "\\frac13", True),
    ("The answer is 1/3 of the cake.", "3", False),
    ("The answer is 25% of the class.", "0.25", True),
    ("The answer is 3 of the 4 students.", "3", False),
    ("The answer is 3 of the students.", "3", False),
    ("The answer is $\\frac{1}{2}$ of the 10 apples.", "\\frac12", False),
    ("She ate $\\frac{3}{4}$ of the pizza or more.", "\\frac34", False),
    ("She bought $5$ bags of apples or more.", "5", False),
    ("Final answer: 12 \u2705", "12", True),
    ("Final answer: 13 \u2705", "12", False),
    ("The answer is 12 \u2714 or 13.", "12", False),
    ("Therefore, $\\text{the answer} = 12$.", "12", True),
    ("Therefore, $\\text{the answer} = 13$.", "12", False),
    ("So $\\text{number of ways} = 2 \\cdot 3 = 6$.", "6", True),
    ("So $\\text{number of ways} = 2 \\cdot 3 = 6$.", "3", False),
    ("So $\\text{if } x = 3$.", "3", False),
    ("The answer is $\\{x \\mid x > 2\\}$.", "(2,\\infty)", True),
    ("The answer is $\\{x \\mid x \\ge 2\\}$.", "(2,\\infty)", False),
    ("The answer is $\\{x \\mid x^2 > 4\\}$.", "(2,\\infty)", False),
]:
    add("latex_words", comp, a, e)

# ---- round 5 probe set: LaTeX answers without a box (\\( \\), \\[ \\], $$, align, \\dfrac,
# \\sqrt[3], units, percent, degrees, \\pi, intervals, sets, \\pm, matrices, final lines, Markdown),
# sign-offs and checks after the answer, hedges, durations and money, signs in words, and the
# near misses of each rule. Kept as written while probing (category "r5_" + its probe group);
# pairs already above count once; the ones the checker still gets wrong are left out and listed in
# experiments/reward.md (round 5).
_seen = {(r["completion"], r["answer"]) for r in rows}
_left = {
    ("Thus $x = 5$. This took 2 steps.", "5"), ("Thus $x = 5$. This took 2 steps.", "2"),
    ("The answer is $a + b = 8$.", "8"), ("Thus $\\frac{a}{b} = \\frac{2}{3}$.", "\\frac23"),
    ("Hence $\\lfloor x \\rfloor = 3$.", "3"), ("The answer is $\\sqrt{-4}$.", "2i"),
    ("In conclusion, the number of students is $\\boxed{\\text{}}$ 25.", "25"),
}


def probe5(cat, comp, a, e):
    if (comp, a) in _seen or (comp, a) in _left:
        return
    _seen.add((comp, a))
    add("r5_" + cat, comp, a, e)


# ---- inline \( \)
for comp, a, e in [
    ("Therefore, the answer is \\(\\frac{3}{4}\\).", "\\frac34", True),
    ("Therefore, the answer is \\(\\frac{3}{4}\\).", "\\frac43", False),
    ("So we get \\(x = 5\\).", "5", True),
    ("So we get \\(x = 5\\).", "6", False),
    ("The area is \\(12\\pi\\) square units.", "12\\pi", True),
    ("The area is \\(12\\pi\\) square units.", "12", False),
    ("Hence the value is \\( \\dfrac{5}{2} \\).", "2.5", True),
    ("Hence the value is \\( \\dfrac{5}{2} \\).", "5", False),
    ("Thus \\(n = 7\\) is the smallest such integer.", "7", True),
    ("Thus \\(n = 7\\) is the smallest such integer.", "8", False),
    ("The probability is \\(\\tfrac{1}{6}\\).", "\\frac{1}{6}", True),
    ("The probability is \\(\\tfrac{1}{6}\\).", "\\frac{1}{5}", False),
    ("The cube root is \\(\\sqrt[3]{2}\\).", "2^{1/3}", True),
    ("The cube root is \\(\\sqrt[3]{2}\\).", "\\sqrt{2}", False),
    ("So \\(\\sqrt[3]{27} = 3\\).", "3", True),
    ("Evaluating, we find \\(f(2) = -3\\).", "-3", True),
    ("Evaluating, we find \\(f(2) = -3\\).", "3", False),
    ("The answer is \\(-\\frac{1}{2}\\).", "-0.5", True),
    ("The answer is \\(-\\frac{1}{2}\\).", "0.5", False),
    ("The distance is \\(5\\sqrt{2}\\).", "\\sqrt{50}", True),
    ("The distance is \\(5\\sqrt{2}\\).", "5", False),
]:
    probe5("inline_paren", comp, a, e)

# ---- display \[ \] and $$ $$
for comp, a, e in [
    ("Putting it together:\n\\[\n\\frac{3}{4}\n\\]", "\\frac34", True),
    ("Putting it together:\n\\[\n\\frac{3}{4}\n\\]", "\\frac12", False),
    ("Therefore\n\\[ x = \\frac{-7}{2}. \\]", "-\\frac72", True),
    ("Therefore\n\\[ x = \\frac{-7}{2}. \\]", "\\frac72", False),
    ("The sum is\n$$\\sum_{k=1}^{10} k = 55.$$", "55", True),
    ("The sum is\n$$\\sum_{k=1}^{10} k = 55.$$", "10", False),
    ("So\n$$ 2\\sqrt{6} $$", "\\sqrt{24}", True),
    ("So\n$$ 2\\sqrt{6} $$", "\\sqrt{6}", False),
    ("Final result:\n\n$$\n\\dfrac{16}{3}\n$$\n", "\\frac{16}{3}", True),
    ("Final result:\n\n$$\n\\dfrac{16}{3}\n$$\n", "16", False),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "-\\frac94", True),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "\\frac32", False),
    ("\\[ \\text{Area} = 24 \\text{ cm}^2 \\]", "24", True),
    ("\\[ \\text{Area} = 24 \\text{ cm}^2 \\]", "2", False),
]:
    probe5("display", comp, a, e)

# ---- align environments
for comp, a, e in [
    ("\\begin{align*}\n2x + 3 &= 13 \\\\\n2x &= 10 \\\\\nx &= 5\n\\end{align*}", "5", True),
    ("\\begin{align*}\n2x + 3 &= 13 \\\\\n2x &= 10 \\\\\nx &= 5\n\\end{align*}", "10", False),
    ("\\begin{align*}\n2x + 3 &= 13 \\\\\nx &= 5.\n\\end{align*}", "5", True),
    ("\\begin{align*}\n2x + 3 &= 13 \\\\\nx &= 5 \\\\\n\\end{align*}", "5", True),
    ("We solve:\n\\begin{align}\n3y &= 21 \\\\\ny &= 7\n\\end{align}\nSo the answer is 7.", "7", True),
    ("We solve:\n\\begin{align}\n3y &= 21 \\\\\ny &= 7\n\\end{align}", "7", True),
    ("We solve:\n\\begin{align}\n3y &= 21 \\\\\ny &= 7\n\\end{align}", "21", False),
    ("\\[\n\\begin{aligned}\nA &= \\pi r^2 \\\\\n&= 9\\pi\n\\end{aligned}\n\\]", "9\\pi", True),
    ("\\[\n\\begin{aligned}\nA &= \\pi r^2 \\\\\n&= 9\\pi\n\\end{aligned}\n\\]", "9", False),
    ("$$\\begin{aligned} P &= 2(l+w) \\\\ &= 2(8+3) \\\\ &= 22 \\end{aligned}$$", "22", True),
    ("$$\\begin{aligned} P &= 2(l+w) \\\\ &= 2(8+3) \\\\ &= 22 \\end{aligned}$$", "11", False),
    ("\\begin{equation*}\nx = \\frac{1}{3}\n\\end{equation*}", "\\frac13", True),
    ("\\begin{equation*}\nx = \\frac{1}{3}\n\\end{equation*}", "3", False),
    ("\\begin{align*}\nS &= 1 + 2 + \\cdots + 20 \\\\\n  &= \\frac{20 \\cdot 21}{2} \\\\\n  &= 210.\n\\end{align*}", "210", True),
    ("\\begin{align*}\nS &= 1 + 2 + \\cdots + 20 \\\\\n  &= \\frac{20 \\cdot 21}{2} \\\\\n  &= 210.\n\\end{align*}", "20", False),
]:
    probe5("align", comp, a, e)

# ---- fractions, roots, \sqrt[3]
for comp, a, e in [
    ("The answer is $\\dfrac{7}{12}$.", "\\frac{7}{12}", True),
    ("The answer is $\\tfrac{7}{12}$.", "\\frac{7}{12}", True),
    ("The answer is $\\dfrac{7}{12}$.", "\\frac{12}{7}", False),
    ("The answer is $\\dfrac{\\sqrt{3}}{2}$.", "\\frac{\\sqrt3}{2}", True),
    ("The answer is $\\dfrac{\\sqrt{3}}{2}$.", "\\frac{\\sqrt2}{2}", False),
    ("The answer is $\\sqrt[3]{16}$.", "2\\sqrt[3]{2}", True),
    ("The answer is $\\sqrt[3]{16}$.", "2\\sqrt{2}", False),
    ("The answer is $\\sqrt[4]{81}$.", "3", True),
    ("The answer is $\\frac{1}{\\sqrt{2}}$.", "\\frac{\\sqrt2}{2}", True),
    ("The answer is $\\frac{1}{\\sqrt{2}}$.", "\\sqrt2", False),
    ("The answer is $3\\tfrac{1}{2}$.", "\\frac72", True),
    ("The answer is $3\\tfrac{1}{2}$.", "\\frac32", False),
    ("The answer is $\\dfrac{-3}{4}$.", "-\\frac34", True),
    ("The answer is $-\\dfrac{3}{4}$.", "\\frac34", False),
    ("The answer is $\\frac{6}{8}$.", "\\frac34", True),
]:
    probe5("fractions", comp, a, e)

# ---- units in \text / \mathrm
for comp, a, e in [
    ("The length is $12\\text{ cm}$.", "12", True),
    ("The length is $12 \\text{ cm}$.", "13", False),
    ("The area is $48\\ \\text{cm}^2$.", "48", True),
    ("The area is $48 \\,\\mathrm{cm}^2$.", "48", True),
    ("The area is $48 \\,\\mathrm{cm}^2$.", "2", False),
    ("The speed is $15\\,\\text{m/s}$.", "15", True),
    ("The speed is $60 \\text{ km/h}$.", "60", True),
    ("He earns $\\$12.50$ per hour.", "12.5", True),
    ("He earns $\\$12.50$ per hour.", "12", False),
    ("The total cost is $\\$1{,}250$.", "1250", True),
    ("The total cost is $\\$1{,}250$.", "1.25", False),
    ("The mass is $3.5\\,\\mathrm{kg}$.", "3.5", True),
    ("The volume is $27\\text{ cubic units}$.", "27", True),
    ("The volume is $27 \\text{ units}^3$.", "27", True),
    ("It takes $45 \\text{ minutes}$.", "45", True),
    ("It takes $45 \\text{ minutes}$.", "0.75", False),
    ("The answer is $5\\text{ apples}$.", "5", True),
    ("The answer is $\\text{5 apples}$.", "5", True),
    ("The answer is $\\text{5 apples}$.", "6", False),
    ("The perimeter is $20\\mathrm{~m}$.", "20", True),
    ("The perimeter is $20\\mathrm{~m}$.", "2", False),
    ("The area is $36\\pi \\text{ square inches}$.", "36\\pi", True),
    ("The area is $36\\pi\\,\\text{in}^2$.", "36\\pi", True),
    ("The area is $36\\pi\\,\\text{in}^2$.", "36", False),
]:
    probe5("units", comp, a, e)

# ---- percent and degrees
for comp, a, e in [
    ("The discount is $25\\%$.", "25", True),
    ("The discount is $25\\%$.", "0.25", True),
    ("The discount is $25\\%$.", "0.3", False),
    ("The discount is $25\\,\\%$.", "25\\%", True),
    ("The increase is $12.5\\%$.", "12.5", True),
    ("The increase is $12.5\\%$.", "125", False),
    ("The angle is $30^\\circ$.", "30", True),
    ("The angle is $30^{\\circ}$.", "30^\\circ", True),
    ("The angle is $30^\\circ$.", "60", False),
    ("The angle measures $\\angle ABC = 45^\\circ$.", "45", True),
    ("The angle measures $\\angle ABC = 45^\\circ$.", "135", False),
    ("The temperature is $-5^\\circ\\text{C}$.", "-5", True),
    ("The temperature is $-5^\\circ\\text{C}$.", "5", False),
    ("The exterior angle is $72^{\\circ}$, so each interior angle is $108^{\\circ}$.", "108", True),
    ("The exterior angle is $72^{\\circ}$, so each interior angle is $108^{\\circ}$.", "72", False),
]:
    probe5("percent_degrees", comp, a, e)

# ---- pi, infinity, intervals
for comp, a, e in [
    ("The period is $\\frac{2\\pi}{3}$.", "\\frac{2\\pi}{3}", True),
    ("The period is $\\frac{2\\pi}{3}$.", "\\frac23\\pi", True),
    ("The period is $\\frac{2\\pi}{3}$.", "\\frac{\\pi}{3}", False),
    ("The area is $16\\pi$.", "16\\pi", True),
    ("The area is $16\\pi$.", "50.27", False),
    ("The limit is $\\infty$.", "\\infty", True),
    ("The limit is $-\\infty$.", "\\infty", False),
    ("The domain is $(-\\infty, 3]$.", "(-\\infty,3]", True),
    ("The domain is $(-\\infty, 3)$.", "(-\\infty,3]", False),
    ("The solution set is $x \\in [2, \\infty)$.", "[2,\\infty)", True),
    ("The solution set is $x \\in (2, \\infty)$.", "[2,\\infty)", False),
    ("The range is \\( (-\\infty, -1) \\cup (1, \\infty) \\).", "(-\\infty,-1)\\cup(1,\\infty)", True),
    ("The range is \\( (-\\infty, -1] \\cup [1, \\infty) \\).", "(-\\infty,-1)\\cup(1,\\infty)", False),
    ("The solution is $x \\geq 2$.", "[2,\\infty)", True),
    ("The solution is $x > 2$.", "[2,\\infty)", False),
    ("So \\(-1 < x \\le 4\\).", "(-1,4]", True),
    ("So \\(-1 \\le x < 4\\).", "(-1,4]", False),
    ("The answer is $x \\in \\mathbb{R}$.", "(-\\infty,\\infty)", True),
    ("The answer is $\\theta = \\frac{\\pi}{4}$.", "\\frac{\\pi}{4}", True),
    ("The answer is $\\theta = \\frac{\\pi}{4}$.", "45", False),
    ("The answer is $x \\in (0, 1)$.", "(0,1)", True),
    ("The answer is $x \\in (0, 1)$.", "[0,1]", False),
]:
    probe5("pi_intervals", comp, a, e)

# ---- sets, \pm, lists
for comp, a, e in [
    ("The solutions are $\\{-2, 3\\}$.", "-2, 3", True),
    ("The solutions are $\\{-2, 3\\}$.", "-2, 4", False),
    ("The solutions are $x = \\pm 3$.", "3, -3", True),
    ("The solutions are $x = \\pm 3$.", "3", False),
    ("The roots are $x = 1 \\pm \\sqrt{2}$.", "1+\\sqrt2, 1-\\sqrt2", True),
    ("The roots are $x = 1 \\pm \\sqrt{2}$.", "1+\\sqrt2", False),
    ("The solutions are $x = 2$ and $x = -5$.", "2, -5", True),
    ("The solutions are $x = 2$ and $x = -5$.", "2", False),
    ("The solutions are $x=2$ or $x=-5$.", "-5, 2", True),
    ("Thus $x = 2 \\text{ or } x = -5$.", "2, -5", True),
    ("Thus $x = 2 \\text{ or } x = -5$.", "2, 5", False),
    ("The set is $\\{1, 2, 4, 8\\}$.", "\\{1,2,4,8\\}", True),
    ("The set is $\\{1, 2, 4\\}$.", "\\{1,2,4,8\\}", False),
    ("The answer is $\\emptyset$.", "\\varnothing", True),
    ("The answer is $\\{\\}$.", "\\emptyset", True),
    ("The answer is $\\{0\\}$.", "\\emptyset", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1, 3", True),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1, 4", False),
]:
    probe5("sets_pm", comp, a, e)

# ---- matrices and vectors
for comp, a, e in [
    ("The product is\n\\[\n\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\n\\]",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("The product is\n\\[\n\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}\n\\]",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False),
    ("The product is $\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$.",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("So $\\mathbf{v} = \\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}$.", "\\begin{pmatrix}2\\\\-1\\end{pmatrix}", True),
    ("So $\\mathbf{v} = \\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}$.", "\\begin{pmatrix}2\\\\-1\\end{pmatrix}", False),
    ("The inverse is $\\begin{pmatrix} \\frac12 & 0 \\\\ 0 & \\frac13 \\end{pmatrix}$.",
     "\\begin{pmatrix}0.5&0\\\\0&1/3\\end{pmatrix}", True),
    ("The determinant is $\\det A = -2$.", "-2", True),
    ("The determinant is $\\det A = -2$.", "2", False),
    ("The determinant is $\\begin{vmatrix} 1 & 2 \\\\ 3 & 4 \\end{vmatrix} = -2$.", "-2", True),
]:
    probe5("matrices", comp, a, e)

# ---- final lines
for comp, a, e in [
    ("Adding up: 3 + 4 + 5 = 12.\n\n**Final answer:** $12$", "12", True),
    ("Adding up: 3 + 4 + 5 = 12.\n\n**Final answer:** $13$", "12", False),
    ("Adding up.\n\n**Final Answer:** \\(\\frac{3}{4}\\)", "0.75", True),
    ("Adding up.\n\n**Final Answer:** \\(\\frac{3}{4}\\)", "0.7", False),
    ("Therefore, the answer is $\\frac{3}{4}$.", "\\frac34", True),
    ("Therefore, the answer is $\\frac{3}{5}$.", "\\frac34", False),
    ("### Final Answer\n$12$", "12", True),
    ("### Final Answer\n$13$", "12", False),
    ("## Final Answer\n\n\\[ 42 \\]", "42", True),
    ("## Final Answer\n\n\\[ 41 \\]", "42", False),
    ("**Answer:** \\(x = 4\\)", "4", True),
    ("**Answer:** \\(x = 3\\)", "4", False),
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12", True),
    ("Final Answer: The final answer is $11$. I hope it is correct.", "12", False),
    ("The final answer is $\\frac{5}{6}$. I hope it is correct.", "\\frac56", True),
    ("**Final answer**\n\nThe number of ways is $720$.", "720", True),
    ("**Final answer**\n\nThe number of ways is $720$.", "120", False),
    ("# Answer\n\n12", "12", True),
    ("# Answer\n\n13", "12", False),
    ("**Answer: 12**", "12", True),
    ("**Answer: 13**", "12", False),
    ("- **Answer:** $12$ cookies", "12", True),
    ("> **Final answer:** $\\dfrac{2}{3}$", "\\frac23", True),
    ("> **Final answer:** $\\dfrac{2}{3}$", "\\frac32", False),
    ("So, the final answer is:\n\n$$\n18\n$$", "18", True),
    ("So, the final answer is:\n\n$$\n19\n$$", "18", False),
    ("The final answer is: \\( \\sqrt{5} \\)", "\\sqrt5", True),
    ("The final answer is: \\( \\sqrt{5} \\)", "5", False),
    ("**The answer is $\\mathbf{12}$.**", "12", True),
    ("The answer is $\\textbf{12}$.", "12", True),
    ("The answer is $\\mathbf{13}$.", "12", False),
]:
    probe5("final_line", comp, a, e)

# ---- sign-off sentences with numbers after the answer
for comp, a, e in [
    ("Thus $x = 5$. This took 2 steps.", "5", True),
    ("Thus $x = 5$. This took 2 steps.", "2", False),
    ("The answer is $12$. Hope this helps! Let me know if you have 2 more questions.", "12", True),
    ("The answer is $12$. Hope this helps! Let me know if you have 2 more questions.", "2", False),
    ("So there are $\\frac{3}{4}$ of the pizza left. I hope this helps with problem 3!", "\\frac34", True),
    ("So there are $\\frac{3}{4}$ of the pizza left. I hope this helps with problem 3!", "3", False),
    ("Therefore the total is $56$.\n\nI hope this explanation of all 3 steps is clear.", "56", True),
    ("Therefore the total is $56$.\n\nI hope this explanation of all 3 steps is clear.", "3", False),
    ("Therefore, the area is $24$ square units. (This is the answer to part 1.)", "24", True),
    ("Therefore, the area is $24$ square units. (This is the answer to part 1.)", "1", False),
    ("The answer is \\(15\\). Feel free to ask if you have any other questions about Chapter 4.", "15", True),
    ("The answer is \\(15\\). Feel free to ask if you have any other questions about Chapter 4.", "4", False),
    ("So she has $\\$24$ left. Good luck with the other 9 problems!", "24", True),
    ("So she has $\\$24$ left. Good luck with the other 9 problems!", "9", False),
]:
    probe5("signoff", comp, a, e)

# ---- trailing verification after the answer
for comp, a, e in [
    ("So $x = 5$.\n\nVerification: $2(5) + 3 = 13$. \u2713", "5", True),
    ("So $x = 5$.\n\nVerification: $2(5) + 3 = 13$. \u2713", "13", False),
    ("So $x = 5$.\n\nCheck: $2 \\cdot 5 + 3 = 13$, which matches.", "5", True),
    ("So $x = 5$.\n\nCheck: $2 \\cdot 5 + 3 = 13$, which matches.", "13", False),
    ("Therefore $x = 4$. Let's verify: $3(4) - 2 = 10$. Correct!", "4", True),
    ("Therefore $x = 4$. Let's verify: $3(4) - 2 = 10$. Correct!", "10", False),
    ("The answer is $x = 4$. Checking: $3(4) - 2 = 10$ \u2713", "4", True),
    ("The answer is $x = 4$. Checking: $3(4) - 2 = 10$ \u2713", "10", False),
    ("The answer is 7.\n\nCheck: 7 \u00d7 6 = 42. Correct.", "7", True),
    ("The answer is 7.\n\nCheck: 7 \u00d7 6 = 42. Correct.", "42", False),
    ("Thus the width is 6 cm.\n\nVerification: 2(6) + 2(10) = 32 cm, which matches the perimeter.", "6", True),
    ("Thus the width is 6 cm.\n\nVerification: 2(6) + 2(10) = 32 cm, which matches the perimeter.", "32", False),
    ("So \\(y = 3\\).\n\n**Check:** \\(4(3) - 5 = 7\\) \u2714", "3", True),
    ("So \\(y = 3\\).\n\n**Check:** \\(4(3) - 5 = 7\\) \u2714", "7", False),
    ("So $x = 5$. To double-check: $5^2 = 25$. Yes.", "5", True),
    ("So $x = 5$. To double-check: $5^2 = 25$. Yes.", "25", False),
    # a check that finds a mistake: the later answer wins
    ("So $x = 5$.\n\nCheck: $2(5)+3 = 13 \\neq 15$. So $x = 6$.", "6", True),
    ("So $x = 5$.\n\nCheck: $2(5)+3 = 13 \\neq 15$. So $x = 6$.", "5", False),
]:
    probe5("verification", comp, a, e)

# ---- hedges and answers that look like others
for comp, a, e in [
    ("The answer is $12$ or $13$.", "12", False),
    ("The answer is not $12$.", "12", False),
    ("The answer is not 12.", "12", False),
    ("It is either $\\frac12$ or $\\frac13$.", "\\frac12", False),
    ("Earlier we found $12$, but the final answer is $13$.", "12", False),
    ("Earlier we found $12$, but the final answer is $13$.", "13", True),
    ("We get $x = 12$ in the first case and $x = 13$ in the second.", "12", False),
    ("Maybe $12$?", "12", False),
    ("The answer could be $12$ or possibly $14$.", "12", False),
    ("I think it's about $12$.", "12", False),
    ("At least $12$.", "12", False),
    ("$12 \\le n \\le 14$", "12", False),
    ("The answer is $\\approx 3.14$.", "\\pi", False),
    ("The answer is $12$, but I'm not sure; it might be $13$.", "12", False),
    ("The answer is $\\pm 3$.", "3", False),
    ("The answer is $x^2 = 9$.", "9", False),
    ("The answer is $2x = 10$.", "10", False),
    ("The answer is $-12$.", "12", False),
    ("The answer is $12^2$.", "12", False),
    ("The answer is $\\sqrt{12}$.", "12", False),
    ("The answer is $12\\%$.", "0.012", False),
    ("The answer is $1.2$.", "12", False),
    ("The answer is $\\frac{1}{12}$.", "12", False),
    ("The answer is $(12, 13)$.", "12", False),
    ("The answer is $12 \\times 10^3$.", "12", False),
]:
    probe5("hedge", comp, a, e)

# ---- compound durations and money
for comp, a, e in [
    ("It takes 2 hours and 30 minutes.", "150", False),
    ("The answer is 2 hours and 30 minutes.", "2.5", False),
    ("The answer is 45 dollars and 50 cents.", "45.50", True),
    ("The answer is 45 dollars and 50 cents.", "45", False),
    ("The answer is 45 dollars and 50 cents.", "50", False),
    ("She pays $45 and 50 cents.", "45.5", True),
    ("The answer is $3 and 25 cents.", "3.25", True),
    ("The answer is $3 and 25 cents.", "3.5", False),
    ("The answer is 3 dollars and 5 cents.", "3.05", True),
    ("The answer is 3 dollars and 5 cents.", "3.5", False),
    ("The answer is 2 hours and 30 minutes.", "2:30", False),
    ("The answer is 2 hours and 30 minutes.", "30", False),
    ("The answer is 45 dollars and 50 cents or 46 dollars.", "45.5", False),
    ("The answer is 45 dollars and 150 cents.", "46.5", False),
]:
    probe5("compound", comp, a, e)

# ---- negatives in words
for comp, a, e in [
    ("The answer is negative $\\frac12$.", "-\\frac12", True),
    ("The answer is negative $\\frac12$.", "\\frac12", False),
    ("The answer is negative \\(\\frac{3}{4}\\).", "-0.75", True),
    ("The answer is minus $\\frac{3}{4}$.", "-0.75", True),
    ("The answer is minus $\\frac{3}{4}$.", "0.75", False),
    ("The temperature is 5 below zero.", "-5", True),
    ("The temperature is 5 below zero.", "5", False),
    ("The answer is 5 degrees below zero.", "-5", True),
    ("The answer is 5 degrees below zero.", "5", False),
    ("It is 12 degrees below zero.", "-12", True),
    ("The answer is 5 below the target.", "-5", False),
    ("The answer is negative 5.", "-5", True),
    ("The answer is negative $5$.", "-5", True),
    ("The answer is negative $5$.", "5", False),
    ("The value is negative $\\frac12$.", "-\\frac12", True),
    ("The value is negative $\\frac12$.", "\\frac12", False),
]:
    probe5("negative_words", comp, a, e)

# ---- x in, named answers, text answers
for comp, a, e in [
    ("The answer is $\\text{Tuesday}$.", "\\text{Tuesday}", True),
    ("The answer is $\\text{Wednesday}$.", "\\text{Tuesday}", False),
    ("The answer is $\\textbf{(C)}$.", "C", True),
    ("The answer is $\\mathrm{(C)}$.", "C", True),
    ("The answer is $\\textbf{(D)}$.", "C", False),
    ("The correct option is $\\text{(B) } 12$.", "B", True),
    ("The answer is $(a, b) = (2, 3)$.", "(2,3)", True),
    ("The answer is $(a, b) = (3, 2)$.", "(2,3)", False),
    ("The point is $\\left(\\frac12, -\\frac32\\right)$.", "(0.5,-1.5)", True),
    ("The point is $\\left(\\frac12, -\\frac32\\right)$.", "(0.5,1.5)", False),
    ("The answer is $k = -\\tfrac{1}{3}$.", "-\\frac13", True),
    ("The answer is $a + b = 8$.", "8", True),
    ("The answer is $a + b = 8$.", "7", False),
]:
    probe5("named", comp, a, e)

# ---- scientific and complex in LaTeX
for comp, a, e in [
    ("The answer is $1.2 \\times 10^{5}$.", "120000", True),
    ("The answer is $1.2 \\times 10^{5}$.", "1.2", False),
    ("The answer is $3.0 \\times 10^8$ m/s.", "3\\times10^8", True),
    ("The answer is $3 + 4i$.", "3+4i", True),
    ("The answer is $3 - 4i$.", "3+4i", False),
    ("The answer is $\\frac{1}{2} + \\frac{\\sqrt{3}}{2}i$.", "\\frac{1+i\\sqrt3}{2}", True),
    ("The answer is $2e^{i\\pi/3}$.", "1+i\\sqrt3", False),
]:
    probe5("sci_complex", comp, a, e)

# ---- prose plus math mix, last math
for comp, a, e in [
    ("Multiplying, $6 \\times 7 = 42$. So Tom has $42$ marbles.", "42", True),
    ("Multiplying, $6 \\times 7 = 42$. So Tom has $42$ marbles.", "7", False),
    ("We have $a = 3$ and $b = 4$, so $c = \\sqrt{a^2+b^2} = 5$.", "5", True),
    ("We have $a = 3$ and $b = 4$, so $c = \\sqrt{a^2+b^2} = 5$.", "4", False),
    ("Thus $\\frac{a}{b} = \\frac{2}{3}$.", "\\frac23", True),
    ("So $P(\\text{red}) = \\frac{5}{12}$.", "\\frac5{12}", True),
    ("So $P(\\text{red}) = \\frac{5}{12}$.", "\\frac7{12}", False),
    ("Hence $\\lfloor x \\rfloor = 3$.", "3", True),
    ("Hence $|x - 2| = 3$, so the answer is $x = 5$ or $x = -1$.", "5, -1", True),
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "3", True),
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "7", False),
    ("The remainder when $2^{10}$ is divided by $7$ is $2$.", "2", True),
    ("The remainder when $2^{10}$ is divided by $7$ is $2$.", "7", False),
    ("There are $\\binom{5}{2} = 10$ ways.", "10", True),
    ("There are $\\binom{5}{2} = 10$ ways.", "5", False),
    ("So the number of ways is $5! = 120$.", "120", True),
    ("So the number of ways is $5!$.", "120", True),
    ("So $\\gcd(12, 18) = 6$.", "6", True),
    ("So $\\operatorname{lcm}(4, 6) = 12$.", "12", True),
    ("So $\\operatorname{lcm}(4, 6) = 12$.", "6", False),
    ("So $\\log_2 8 = 3$.", "3", True),
    ("So $\\log_2 8 = 3$.", "8", False),
]:
    probe5("mixed", comp, a, e)

# ---- adversarial: sign-offs and checks that do state or change the answer
for comp, a, e in [
    ("So $x = 5$. Check: $2(5)+3 = 13$, so the answer is $13$.", "5", False),
    ("So $x = 5$. Check: $2(5)+3 = 13$, so the answer is $13$.", "13", True),
    ("We have 3 apples and 4 oranges. To check, note that 3+4 = 7. The total is 7.", "4", False),
    ("We have 3 apples and 4 oranges. To check, note that 3+4 = 7. The total is 7.", "7", True),
    ("Check: $2+2 = 4$.", "4", True),
    ("So $x=5$. Let me check: $2(5)+3 = 13$. Hmm, that should be 15, so $x = 6$.", "6", True),
    ("So $x=5$. Let me check: $2(5)+3 = 13$. Hmm, that should be 15, so $x = 6$.", "5", False),
    ("So $x = 5$. Verification: $x + 3 = 8$, but we need 9, so $x = 6$.", "5", False),
    ("So $x = 5$. Verification: $x + 3 = 8$, but we need 9, so $x = 6$.", "6", True),
    ("So $x = 5$. Check: $2(6)+3 = 15$.", "5", False),
    ("Hope this helps! The answer is 12.", "12", True),
    ("The answer is $12$. I hope you get 13 next time.", "13", False),
    ("The answer is $12$. I hope you get 13 next time.", "12", True),
    ("There are 5 red and 7 blue. If you have any questions, ask. The total is 12.", "12", True),
    ("There are 5 red and 7 blue. If you have any questions, ask. The total is 12.", "7", False),
    ("The answer is $12$. (Note that $13$ is not possible.)", "12", True),
    ("The answer is $12$. (Note that $13$ is not possible.)", "13", False),
    ("We compute 3 times 4. (Answer: 12)", "12", True),
    ("So x = 5. (The other root, 7, is rejected.)", "5", True),
    ("So x = 5. (The other root, 7, is rejected.)", "7", False),
    ("The total is 12 apples.\n\nCheck: 5 + 7 = 12 apples. The answer is 13.", "12", False),
    ("Thus $x = 5$.\n\nVerification: plugging in, $3 \\cdot 5 - 2 = 13$ \u2713\n\nHope this helps!", "5", True),
    ("Thus $x = 5$.\n\nVerification: plugging in, $3 \\cdot 5 - 2 = 13$ \u2713\n\nHope this helps!", "13", False),
]:
    probe5("adv_closing", comp, a, e)

# ---- durations with the reference's unit; money; negatives adversarial
ref_min = "She spends 90 + 60 = <<90+60=150>>150 minutes.\n#### 150"
ref_hr = "It takes 5/2 = <<5/2=2.5>>2.5 hours.\n#### 2.5"
for comp, a, e in [
    ("It takes 2 hours and 30 minutes.", ref_min, True),
    ("It takes 2 hours and 30 minutes.", ref_hr, True),
    ("It takes 2 hours and 40 minutes.", ref_min, False),
    ("It takes 2 hours and 40 minutes.", ref_hr, False),
    ("The answer is 2 hours and 30 minutes.", ref_min, True),
    ("The answer is 2 hours 30 minutes.", ref_hr, True),
    ("It takes 2 hours and 30 minutes.", "150", False),
    ("It takes 2 hours and 30 minutes.", "30", False),
    ("It takes 2 hours and 30 minutes.", "150 minutes", True),
    ("It takes 2 hours and 30 minutes.", "2.5 hours", True),
    ("It takes 2 hours and 30 minutes.", "2 hours", False),
    ("It takes 1 hour and 15 minutes.", "75 hours", False),
    ("The answer is 2 hours and 30 minutes or 3 hours.", ref_hr, False),
    ("It takes 2 hours and 30 minutes, so she arrives at 4:30.", ref_min, False),
    ("It takes 2 hours and 75 minutes.", ref_min, False),
    ("He ran for 4 minutes and 20 seconds.", "260 seconds", True),
    ("He ran for 4 minutes and 20 seconds.", "260", False),
    ("She spent $45 and 50 cents on food and 3 dollars and 5 cents on drinks.", "3.05", True),
    ("She spent $45 and 50 cents on food and 3 dollars and 5 cents on drinks.", "45.5", False),
    ("The answer is $7$ minus $3$.", "-3", False),
    ("It was 5 below zero yesterday and 3 above zero today.", "-5", False),
    ("The temperature rose to 5 above zero.", "-5", False),
    ("The answer is non-negative $5$.", "-5", False),
    ("The answer is negative $-5$.", "-5", False),
    ("Subtract: the answer is 10 minus $3$.", "-3", False),
    ("Negative $\\frac{1}{2}$ is the answer.", "-\\frac12", True),
]:
    probe5("adv_units", comp, a, e)

for comp, a, e in [
    ("The answer is $12$, but I'm not sure; it might be $13$.", "13", False),
    ("The answer is 12, but I'm not sure; it might be 13.", "13", False),
    ("The answer is 12, but I'm not sure; it might be 13.", "12", False),
    ("$12$, or maybe $13$.", "13", False),
    ("There are 12 apples, not 13.", "12", True),
    ("There are 12 apples, not 13.", "13", False),
    ("It could be $3$ or $5$. Testing both, only $x = 5$ works, so the answer is $5$.", "5", True),
    ("$x$ could be $3$. Since $x$ must be odd and greater than 4, $x = 5$.", "5", True),
    ("The answer is maybe 12.", "12", False),
    ("Perhaps $12$.", "12", False),
    ("The answer is $12$ (not $13$).", "12", True),
    ("The answer is $12$, not $13$.", "12", True),
    ("The answer is $12$, not $13$.", "13", False),
    ("x is not $5$; it is $6$.", "6", True),
    ("The answer is not 12 but 13.", "13", True),
    ("It is not $12$.", "12", False),
    ("The value cannot be $12$, so it is $14$.", "14", True),
    ("The sum could be 10. Adding again, the sum is 12.", "12", True),
    ("I think it might be $12$.", "12", True),
]:
    probe5("adv_hedge", comp, a, e)

for comp, a, e in [
    ("We get $12$ when $n = 3$ and $15$ when $n = 4$.", "12", False),
    ("We get $12$ when $n = 3$ and $15$ when $n = 4$.", "15", False),
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "3", True),
    ("The remainder is $r = 3$ when $n$ is divided by $7$.", "7", False),
    ("If $n = 2$, then $f(n) = 5$.", "5", True),
    ("If $n = 2$, then $f(n) = 5$.", "2", False),
    ("For $n = 3$ we get $27$.", "27", True),
    ("The value is $5$ when $x = 2$, and $7$ when $x = 3$.", "5", False),
    ("The value is $5$ when $x = 2$, and $7$ when $x = 3$.", "7", False),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "-\\frac94", True),
    ("The minimum value is\n\\[\n-\\tfrac{9}{4}\n\\]\nattained when $x = \\tfrac32$.", "\\frac32", False),
    ("The area is $A = 24$ when the side $s$ equals $4\\sqrt{2}$.", "24", True),
    ("The area is $A = 24$ when the side $s$ equals $4\\sqrt{2}$.", "4\\sqrt2", False),
    ("So $x = 4$.\nFor $y$ we get $y = 7$.", "7", True),
]:
    probe5("adv_clause", comp, a, e)

for comp, a, e in [
    ("So $\\det(A) = 5$.", "5", True),
    ("So $\\det(A) = 5$.", "-5", False),
    ("Thus $\\sum_{k=1}^{n} k = 55$.", "55", False),
    ("Thus $\\sum_{k=1}^{10} k^2 = 385$.", "385", True),
    ("Thus $\\sum_{k=1}^{10} k^2 = 385$.", "10", False),
    ("Thus $\\prod_{j=1}^{4} j = 24$.", "24", True),
    ("So $\\max(a, b) = 7$.", "7", False),
    ("So $\\gcd(a, 12) = 4$.", "4", False),
    ("So $\\gcd(8, 12) = 4$.", "4", True),
    ("So $\\operatorname{lcm}(a, 6) = 12$.", "12", False),
    ("So $\\begin{vmatrix} a & b \\\\ c & d \\end{vmatrix} = 5$.", "5", False),
    ("So $\\det A = -2$.", "-2", True),
    ("So $\\det A = -2$.", "2", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "\\{1,3\\}", True),
    ("The solutions are $x \\in \\{1, 3\\}$.", "1, 3, 5", False),
    ("The solutions are $x \\in \\{1, 3\\}$.", "(1,3)", False),
    ("\\begin{align*}\nx &= \\frac{1}{3}\n\\end{align*}", "\\frac13", True),
    ("\\begin{align*}\nx &= \\frac{1}{3}\n\\end{align*}", "3", False),
    ("\\begin{equation}\nx = 5 \\label{eq:ans}\n\\end{equation}", "5", True),
    ("\\begin{equation}\nx = 5 \\label{eq:ans}\n\\end{equation}", "1", False),
    ("\\begin{align*}\n2x &= 10 \\\\\nx &= 5\n\\end{align*}\nThen $y = 2x = 10$.", "10", True),
    ("\\begin{align*}\n2x &= 10 \\\\\nx &= 5\n\\end{align*}\nThen $y = 2x = 10$.", "5", False),
    ("\\begin{gather*}\nA = 12\\pi\n\\end{gather*}", "12\\pi", True),
]:
    probe5("adv_env", comp, a, e)

W = [
    ("The answer is $x = 2 \\text{ or } x = 3$.", "2, 3", True),
    ("So $x = 2 \\quad\\text{and}\\quad x = 3$.", "2, 3", True),
    ("So $x = 2 \\quad\\text{and}\\quad x = 4$.", "2, 3", False),
    ("The solution is $x = 3,\\; y = 4$.", "(3,4)", True),
    ("The solution is $x = 3,\\; y = 5$.", "(3,4)", False),
    ("She ate $\\frac{3}{4}\\text{ of the pizza}$.", "\\frac34", True),
    ("She ate $\\frac{3}{4}\\text{ of the pizza}$.", "\\frac14", False),
    ("The answer is: **12**", "12", True),
    ("The answer is: **13**", "12", False),
    ("**Answer**: 12 apples", "12", True),
    ("Answer = 12", "12", True),
    ("Answer = 13", "12", False),
    ("\u2234 x = 5", "5", True),
    ("\u2234 x = 6", "5", False),
    ("So the answer is $\\approx 0.33$.", "0.33", True),
    ("So the answer is $\\approx 0.33$.", "\\frac13", False),
    ("The answer is $\\underline{12}$.", "12", True),
    ("So $\\mathbf{v} = \\langle 1, 2 \\rangle$.", "(1,2)", True),
    ("So $\\mathbf{v} = \\langle 1, 3 \\rangle$.", "(1,2)", False),
    ("The line is $y = -\\frac{1}{2}x + 3$.", "y = -\\frac12 x + 3", True),
    ("The line is $y = -\\frac{1}{2}x + 2$.", "y = -\\frac12 x + 3", False),
    ("The answer is $12$ (rounded to the nearest whole number).", "12", True),
    ("The answer is $12$ (rounded to the nearest whole number).", "13", False),
    ("The answer is $33\\frac{1}{3}\\%$.", "33\\frac13\\%", True),
    ("The answer is $0.\\overline{3}$.", "\\frac13", True),
    ("The answer is $0.\\overline{3}$.", "0.3", False),
    ("The answer is $1{,}000{,}000$.", "1000000", True),
    ("The answer is $\\pi/4$.", "\\frac{\\pi}{4}", True),
    ("The answer is $\\sqrt{2}/2$.", "\\frac{\\sqrt2}{2}", True),
    ("The answer is $3.14$.", "\\pi", False),
    ("So $2^{10} = 1024$.", "1024", True),
    ("So $2^{10} = 1024$.", "10", False),
    ("\u2705 Final answer: 12", "12", True),
    ("Final answer: 12 \u2705", "12", True),
    ("Final answer: 13 \u2705", "12", False),
    ("The probability is $\\frac{1}{4}$, or $25\\%$.", "\\frac14", True),
    ("The probability is $\\frac{1}{4}$, or $20\\%$.", "\\frac14", False),
    ("The answer is $\\frac{1}{4}$ (i.e., $25\\%$).", "\\frac14", True),
    ("Therefore, $\\text{the answer} = 12$.", "12", True),
    ("Therefore, $\\text{the answer} = 13$.", "12", False),
    ("Using $x=\\dfrac{-b\\pm\\sqrt{b^2-4ac}}{2a}$ gives $x = 2$ or $x = 3$.", "2, 3", True),
    ("$$x = 2, \\quad x = 3$$", "2, 3", True),
    ("\\(\\left\\{ 2, 3 \\right\\}\\)", "2, 3", True),
    ("**12** is the answer.", "12", True),
    ("**13** is the answer.", "12", False),
    ("12 is the final answer.", "12", True),
    ("The answer is **$12$**.", "12", True),
    ("### Answer: 12", "12", True),
    ("### Answer: 13", "12", False),
    ("The answer is $12.00$.", "12", True),
    ("The answer is $\\$12.00$.", "12", True),
    ("The answer is $-0$.", "0", True),
    ("The answer is $\\dfrac{1}{2}\\pi$.", "\\frac{\\pi}{2}", True),
    ("The answer is $\\frac{\\sqrt{3}}{3}$.", "\\frac{1}{\\sqrt3}", True),
    ("The answer is $2\\sqrt{3}$ cm.", "2\\sqrt3", True),
    ("The answer is $2\\sqrt{3}$ cm.", "2\\sqrt2", False),
    ("The answer is $(2, \\infty)$.", "(2,\\infty)", True),
    ("The answer is $[2, \\infty)$.", "(2,\\infty)", False),
    ("The answer is $\\{x \\mid x > 2\\}$.", "(2,\\infty)", True),
    ("The answer is $\\{x \\mid x \\ge 2\\}$.", "(2,\\infty)", False),
    ("The answer is $x \\neq 2$.", "x \\ne 2", True),
    ("The answer is $\\frac{3}{4}$ of an hour.", "\\frac34", True),
    ("The answer is \\(\\boxed{12}\\) apples.", "12", True),
    ("The total is \\$12.50.", "12.5", True),
    ("The total is \\$12.50.", "12", False),
    ("The answer is $\\text{12 cm}^2$.", "12", True),
    ("The answer is $12\\text{ cm}^2$, and the perimeter is $14\\text{ cm}$.", "12", False),
    ("The answer is $1.5\\times 10^{-3}$.", "0.0015", True),
    ("The answer is $1.5\\times 10^{-3}$.", "0.015", False),
    ("The answer is $\\frac{22}{7}$.", "\\pi", False),
    ("The answer is $e^2$.", "e^{2}", True),
    ("The answer is $\\ln 2$.", "\\log 2", False),
    ("The answer is $\\log_2 8$.", "3", True),
    ("The answer is $i$.", "i", True),
    ("The answer is $-i$.", "i", False),
    ("The answer is $\\sqrt{-4}$.", "2i", True),
    ("In conclusion, the number of students is $\\boxed{\\text{}}$ 25.", "25", True),
]
for comp, a, e in W:
    probe5("wave2", comp, a, e)

for comp, a, e in [
    ("She ate $\\frac{3}{4}$ of the pizza or more.", "\\frac34", False),
    ("The answer is 3 of the 4 students.", "3", False),
    ("The answer is 3 of the students.", "3", False),
    ("The answer is $\\frac{1}{2}$ of the 10 apples.", "\\frac12", False),
    ("The answer is 25% of the class.", "0.25", True),
    ("The answer is 25% of the class.", "25", True),
    ("The answer is 1/3 of the cake.", "\\frac13", True),
    ("The answer is 1/3 of the cake.", "3", False),
    ("So $\\text{total cost} = 12$.", "12", True),
    ("So $\\text{number of ways} = 2 \\cdot 3 = 6$.", "6", True),
    ("So $\\text{number of ways} = 2 \\cdot 3 = 6$.", "3", False),
    ("So $\\text{if } x = 3$.", "3", False),
    ("The answer is $\\{x \\mid x^2 > 4\\}$.", "(2,\\infty)", False),
    ("The answer is $\\{x : x < 5\\}$.", "(-\\infty,5)", True),
    ("The answer is $\\{x : x < 5\\}$.", "(-\\infty,5]", False),
    ("Final answer: 12 \u2713 (checked twice)", "12", True),
    ("The answer is 12 \u2714 or 13.", "12", False),
]:
    probe5("adv_wave2", comp, a, e)


# ---- round 6: two answers left open ("either 12 or 13", "between 12 and 13", "roughly 12-13",
# "12? 13?"), answer labels ("Total:", "Ans:", "Final:", "=> 12", "\u2234 12") followed by a sentence
# about the solution ("That took 3 steps.", "It took 3 steps to find.", "I checked it 3 ways."),
# such sentences with no label, and bracketed remarks after the answer ("(I double-checked with 3
# methods)"); with the near misses that must score 0 and the right answers that look like them
# (a count before a range, later computations after a label, questions about a count of steps).
# A subset of the round-6 probe set (experiments/reward.md); the pairs the checker still gets
# wrong are left out and listed there.
_left6 = {
    ("She has 12 apples left. That took 3 steps.", "12"), ("She has 12 apples left. That took 3 steps.", "3"),
    ("He paid $12. That took 3 steps.", "12"), ("He paid $12. That took 3 steps.", "3"),
}
_fam6 = {"hedge_ok": "hedge", "label_ok": "label", "meta_ok": "meta", "bracket_ok": "bracket",
         "label_strong_ok": "label_strong"}


def probe6(group, comp, a, e):
    if (comp, a) in _seen or (comp, a) in _left6:
        return
    _seen.add((comp, a))
    add("r6_" + _fam6.get(group, group), comp, a, e)



# ---------- 1. hedged alternatives: two answers left open; wrong for either value
HEDGE = [
 "It is either {a} or {b}.", "Either {a} or {b}.", "The answer is either {a} or {b}.",
 "I'm torn between {a} and {b}.", "I am torn between {a} and {b} apples.",
 "It's between {a} and {b}.", "The answer is somewhere between {a} and {b}.",
 "Somewhere around {a}-{b}.", "Probably {a}-{b} apples.", "Roughly {a} to {b}.",
 "She has {a} or {b} apples.", "The answer could be {a} or {b}.", "It could be {a} or {b}.",
 "I think it's {a}, but it could be {b}.", "It's {a} or {b}, I can't decide.",
 "Either ${a}$ or ${b}$.", "The answer is either $\\boxed{{{a}}}$ or $\\boxed{{{b}}}$.",
 "It's {a}, or is it {b}?", "{a}? {b}?", "Answer: {a} (or maybe {b})", "Answer: {a} (maybe {b})",
 "Answer: {a} (possibly {b})", "The answer is {a} (could be {b}).",
 "I'm not sure whether it is {a} or {b}.", "The answer is {a} or possibly {b}.",
 "The answer is {a}, unless it's {b}.", "Either way, {a} or {b}.", "Answer: {a} or {b}",
 "It's {a} or {b}?", "So the total is {a}/{b}?", "It is {a} or {b}, depending on rounding.",
 "The answer lies between {a} and {b}.", "Between ${a}$ and ${b}$.",
 "Final answer: either {a} or {b}", "So Tom has {a} or {b} marbles left.",
 "I'd say {a}, maybe {b}.", "It's about {a}-{b} minutes.", "{a} to {b} apples, I think.",
 "The answer is {a} or else {b}.", "Hmm, {a} or {b}. I'll go with one of those.",
 "The number is in the range {a}-{b}.", "Probably {a}, possibly {b}.",
 "The answer is {a}, though it might be {b}.", "It's {a}. Or {b}.", "Could be {a} or could be {b}.",
 "Either she has {a} apples or she has {b} apples.", "Not sure: {a} or {b}.",
 "So the answer is {a} or {b}.", "**Answer:** {a} or {b}", "It's {a}, if not {b}.",
]
for t in HEDGE:
    for a, b in [("12", "13")]:
        c = t.format(a=a, b=b)
        probe6("hedge", c, a, False); probe6("hedge", c, b, False)
# the right answers that look like them
for c, g, e in [
 ("There are 0 integers strictly between 12 and 13.", "0", True),
 ("Between 12 and 13 there are 0 integers.", "0", True),
 ("Between 12 and 13 there are 0 integers.", "13", False),
 ("There are 12 primes between 1 and 40.", "12", True),
 ("There are 12 primes between 1 and 40.", "40", False),
 ("So there are 5 even numbers from 1 to 10.", "5", True),
 ("So there are 5 even numbers from 1 to 10.", "10", False),
 ("The interval is $[12, 13]$.", "[12, 13]", True),
 ("The answer is $12 \\le x \\le 13$.", "[12, 13]", True),
 ("The answer is $[12, 13]$.", "[12, 14]", False),
 ("The solutions are $x = 12$ or $x = 13$.", "12, 13", True),
 ("The answer is 12 or 13.", "12, 13", True),
 ("The answer is 0.5 or 1/2.", "0.5", True),
 ("The answer is $\\frac12$ (or $0.5$).", "\\frac12", True),
 ("It is either 12 or 13. Since the count must be odd, it is 13.", "13", True),
 ("It is either 12 or 13. Since the count must be odd, it is 13.", "12", False),
 ("I was torn between 12 and 13, but 13 is correct. The answer is 13.", "13", True),
 ("The answer is 13, which is between 12 and 14.", "13", True),
 ("The answer is 13, which is between 12 and 14.", "14", False),
 ("She picks 12 apples and 13 pears, so 25 fruits.", "25", True),
 ("The ratio is 12/13.", "\\frac{12}{13}", True),
 ("The ratio is 12/13.", "12", False),
 ("Pages 12 or 13 are missing? No: the answer is 13.", "13", True),
 ("He needs 12 or more.", "12", False),
 ("The game ends 12-13.", "12", False),
 ("It takes 3-5 days.", "3", False),
 ("It takes about 3-5 days.", "5", False),
 ("So $x$ is between $12$ and $13$, i.e. $x \\in (12, 13)$.", "(12,13)", True),
 ("The temperature went from 12 to 13 degrees, a change of 1 degree.", "1", True),
]:
    probe6("hedge_ok", c, g, e)

# ---------- 2. answer labels followed by a later plain number
LABELS = ["Total: {a} apples.", "Result: {a}.", "Solution: {a}.", "Final: {a}.", "Ans: {a}.",
          "Ans. {a}", "=> {a}", "\u2234 {a}", "Hence, {a}.", "Thus the number of apples is {a}.",
          "**Total:** {a}", "| Total | {a} |", "Final result: {a}", "Final count: {a} apples.",
          "Answer = {a}", "ANSWER: {a}", "Answer - {a}", "Therefore: {a}", "So, {a} apples in total.",
          "Total = {a}", "**Result**: {a} apples", "Final Answer\n{a}", "$\\therefore$ {a}",
          "Therefore, the total is {a}.", "The total is {a} apples.", "\u21d2 {a}", "-> {a}",
          "Final total: {a}.", "Ans = {a}", "Answer \u2192 {a}", "So the answer: {a}."]
TAILS = [" That took {b} steps.", " It took {b} steps to find.", " (Solved in {b} steps.)",
         " I checked it {b} ways.", " I used {b} methods to verify.", " That was problem {b}.",
         " This took me {b} minutes to solve.", "\nSolved using {b} equations.",
         " Done in {b} steps!", " That's question {b} done."]
for lab in LABELS:
    for tail in TAILS[:2] if lab not in ("Total: {a} apples.", "Result: {a}.") else TAILS:
        l = lab.format(a="12"); tl = tail.format(b="3")
        c = l + (tl if l[-1] == "." or tl[0] == "\n" else "\n" + tl.lstrip())
        probe6("label", c, "12", True); probe6("label", c, "3", False)
# labels followed by a real later computation: the later value is the answer
for c, g, e in [
 ("Total: 12 apples.\nShe eats 3, so 12 - 3 = 9 apples are left.", "9", True),
 ("Total: 12 apples.\nShe eats 3, so 12 - 3 = 9 apples are left.", "12", False),
 ("Result: 12.\nThen subtract 3: 9.", "9", True),
 ("Result: 12.\nThen subtract 3: 9.", "12", False),
 ("Step 1 total: 12 apples. Step 2: she gives away 3, leaving 9.", "9", True),
 ("Step 1 total: 12 apples. Step 2: she gives away 3, leaving 9.", "12", False),
 ("Hence, 12 apples in the first basket. The second basket has 3 times as many, so 36.", "36", True),
 ("Hence, 12 apples in the first basket. The second basket has 3 times as many, so 36.", "12", False),
 ("Solution: Let x be the number of apples. Then 2x = 24, so x = 12.", "12", True),
 ("Solution: Let x be the number of apples. Then 2x = 24, so x = 12.", "24", False),
 ("Solution: first find 3 * 4 = 12. Then 12 + 1 = 13.", "13", True),
 ("Solution:\n3 * 4 = 12\n12 + 1 = 13", "13", True),
 ("Solution:\n3 * 4 = 12\n12 + 1 = 13", "12", False),
 ("Total: 12 apples. She ate 3 of them, so 9 are left.", "9", True),
 ("Total: 12 apples. She ate 3 of them, so 9 are left.", "12", False),
 ("Total: 12 + 3 = 15", "15", True),
 ("Total: 12 + 3 = 15", "12", False),
 ("Result: 12. The answer is 13.", "13", True),
 ("Final: 12 apples and 3 pears.", "12", False),
 ("Final result: $\\frac{3}{4}$", "\\frac34", True),
 ("Ans: 12 dollars", "12", True), ("Ans: 12 dollars", "13", False),
 ("A: 12", "12", True),
 ("Options: A: 12 B: 13 C: 14. The answer is B.", "B", True),
]:
    probe6("label_ok", c, g, e)

# ---------- 3. a later meta-sentence about the solution, no label before the answer
PRE = ["So she has {a} apples.", "She has {a} apples left.", "Thus $x = {a}$.", "So the answer: {a} apples.",
       "Therefore there are {a} cookies.", "He paid ${a}."]
META = [" It took {b} steps to find.", " That took {b} steps.", " This took {b} steps to solve.",
        " I checked this {b} ways.", " I verified it with {b} methods.", " (I double-checked with {b} methods.)",
        " We solved it in {b} steps.", " This is the answer to problem {b}.", " That completes question {b}.",
        " I used {b} equations to get this.", " It took me {b} tries to get this.",
        " The solution has {b} steps.", " Checked {b} times.", " (See step {b}.)",
        " I found this using {b} different approaches.", " Solved in {b} lines."]
for pre in PRE[:3]:
    for m in META:
        c = pre.format(a="12") + m.format(b="3")
        probe6("meta", c, "12", True); probe6("meta", c, "3", False)
# questions that really ask for a count of steps / ways / methods: the last sentence is the answer
for c, g, e in [
 ("Each flight has 12 stairs and she climbs 3 flights. It takes her 36 steps.", "36", True),
 ("Each flight has 12 stairs and she climbs 3 flights. It takes her 36 steps.", "12", False),
 ("The robot moves 4 cm per step and must go 12 cm. It takes 3 steps.", "3", True),
 ("The robot moves 4 cm per step and must go 12 cm. It takes 3 steps.", "12", False),
 ("The robot moves 4 cm per step and must cover 12 cm, so it takes 3 steps to get there.", "3", True),
 ("The robot moves 4 cm per step and must cover 12 cm, so it takes 3 steps to get there.", "12", False),
 ("He walks 12 blocks. That took 3 steps per block, so 36 steps.", "36", True),
 ("There are 12 choices for the first and 3 for the second, so 36 ways.", "36", True),
 ("There are 12 choices for the first and 3 for the second. That gives 36 ways.", "36", True),
 ("There are 12 choices for the first and 3 for the second. That gives 36 ways.", "12", False),
 ("Sam climbs 12 steps. It took 3 steps to find the key.", "12", False),
 ("The disks need 2^3 - 1 = 7 moves. It takes 7 steps to solve.", "7", True),
 ("So she has 12 apples. It took 3 steps to find her 5 lost apples.", "12", False),
 ("So she has 12 apples. It took 3 steps to find.", "12", True),
 ("She made 12 cakes in 3 batches. Each batch took 4 steps.", "4", True),
 ("So she has 12 apples. Then she bought 3 more, so 15.", "15", True),
 ("So she has 12 apples. Then she bought 3 more, so 15.", "12", False),
 ("There are 12 apples. It took 3 trucks to bring them.", "12", False),
 ("The answer is 12 methods. I checked it 3 ways.", "12", True),
 ("He can climb 12 steps in 3 minutes. So he climbs 4 steps per minute.", "4", True),
 ("He can climb 12 steps in 3 minutes. So he climbs 4 steps per minute.", "12", False),
 ("A recipe uses 12 eggs. It has 3 steps.", "3", True),
 ("A recipe uses 12 eggs. It has 3 steps.", "12", False),
 ("Thus $x = 12$. This took 3 steps.", "12", True),
 ("Thus $x = 12$. This took 3 steps.", "3", False),
]:
    probe6("meta_ok", c, g, e)

# ---------- 4. a bracketed remark after the answer
BR = ["(I double-checked with {b} methods)", "(I checked it {b} times)", "(verified in {b} ways)",
      "(we used {b} steps)", "(see problem {b})", "(this took {b} steps)", "(I used {b} equations)",
      "(double-checked using {b} approaches)", "(computed in {b} lines)", "(from step {b})",
      "(It took {b} steps.)", "(checked twice, {b} ways)", "(I'm fairly sure; {b} checks)",
      "(as in example {b})", "(not counting the {b} broken ones)"]
ANS = ["Answer: ${a}$ {r}.", "Answer: {a} {r}.", "The answer is ${a}$ {r}.", "So she has {a} apples {r}.",
       "Thus $x = {a}$ {r}.", "The answer is $\\frac{{1}}{{{a}}}$ {r}.", "Final answer: \\({a}\\) {r}",
       "**Answer:** ${a}$ {r}", "The total is {a} {r}."]
for ans in ANS:
    for r in BR[::2]:
        c = ans.format(a="12", r=r.format(b="3"))
        g = "\\frac{1}{12}" if "frac" in ans else "12"
        probe6("bracket", c, g, True); probe6("bracket", c, "3", False)
for c, g, e in [
 ("Answer: $12$ (or $13$).", "12", False), ("Answer: $12$ (or $13$).", "13", False),
 ("Answer: $12$ (or maybe $13$).", "12", False),
 ("Answer: $12$ (maybe $13$).", "12", False), ("Answer: $12$ (maybe $13$).", "13", False),
 ("Answer: $\\frac14$ (25%).", "\\frac14", True), ("Answer: $\\frac14$ (30%).", "\\frac14", False),
 ("Answer: $12$ (i.e. $13$).", "12", False),
 ("Answer: $12$ (I mean $13$).", "12", False),
 ("Answer: $12$ (wait, no: $13$).", "13", True),
 ("Answer: $12$ (wait, no: $13$).", "12", False),
 ("Answer: $12$ (the answer is $13$).", "12", False),
 ("Answer: $12$ (sorry, $13$).", "12", False),
 ("Answer: $12$ (actually it's $13$).", "12", False),
 ("Answer: 12 (13 if we count Tom).", "12", False),
 ("She paid \\$3 per apple (12 in total).", "3", False),
 ("Answer: $x = 2$ (double root).", "2", True),
 ("Answer: $12$ (since $3 \\cdot 4 = 12$).", "12", True),
 ("Answer: $12$ (since $3 \\cdot 4 = 12$).", "4", False),
 ("Answer: $12$ (I double-checked: $3 \\cdot 4 = 12$).", "12", True),
 ("So the answer is $12$ (I used $3$ methods).", "12", True),
 ("So the answer is $12$ (I used $3$ methods).", "3", False),
 ("Answer: $12$ ($3$ ways checked).", "12", True),
 ("Answer: $12$ ($3$ ways checked).", "3", False),
]:
    probe6("bracket_ok", c, g, e)

# ---------- 2b. labels that name the answer beat a later plain number (like "Answer:")
for lab in ["Answer: {a}.", "Answer = {a}.", "Ans: {a}.", "Ans = {a}.", "ANS: {a}", "Final answer = {a}.",
            "Answer - {a}", "Answer \u2192 {a}", "Answer -> {a}", "Final: {a}.", "Final result: {a}.",
            "**Final:** {a}", "Final count: {a} apples.", "Final total: {a}.", "Final value: {a}."]:
    for tail in ["\nThere were 3 baskets."]:
        l = lab.format(a="12"); c = l + tail
        probe6("label_strong", c, "12", True); probe6("label_strong", c, "3", False)
# words that look like the labels but are not
for c, g, e in [
 ("She plans 12 trips. Each has 3 stops.", "3", True),
 ("She plans 12 trips. Each has 3 stops.", "12", False),
 ("The fans: 12 in row A. Then 3 more came.", "3", True),
 ("The final exam has 12 questions. She got 3 wrong, so 9 right.", "9", True),
 ("The final exam has 12 questions. She got 3 wrong, so 9 right.", "12", False),
 ("Final: the shop sells 12 apples a day. In 3 days it sells 36.", "36", True),
 ("Final: the shop sells 12 apples a day. In 3 days it sells 36.", "12", False),
 ("Answer = the number of apples. 12 + 3 = 15.", "15", True),
]:
    probe6("label_strong_ok", c, g, e)


# a bare rising range leaves the answer open, as a hedged one does (round 6 review)
add("r6_hedge", "She can eat 3-5 cookies a day.", "5", False, "a bare rising range: neither end alone")
add("r6_hedge", "She can eat 3-5 cookies a day.", "3", False)
add("r6_hedge", "The trip takes 10\u201312 hours.", "12", False)
add("r6_hedge", "So 15-3 = 12 cookies are left.", "12", True, "a computation, no range")

# ---------- round 7 (experiments/math_probe7_make.py): what follows the answer in its sentence,
# comparisons after a concluding line, thousands spaced in prose
for c, g, e in [
    ("So 8 pencils per box, using 6 boxes.", "8", True),
    ("So 8 pencils per box, using 6 boxes.", "6", False),
    ("So the train travels 180 miles, at 60 mph for 3 hours.", "180", True),
    ("So the train travels 180 miles, at 60 mph for 3 hours.", "3", False),
    ("So she needs 5 more boxes, since each holds 12.", "5", True),
    ("So she needs 5 more boxes, since each holds 12.", "12", False),
    ("He needs 9 buses, because 8 buses would only hold 400 people.", "9", True),
    ("He needs 9 buses, because 8 buses would only hold 400 people.", "400", False),
    ("So he needs 3 more, because 7 + 3 = 10.", "3", True),
    ("So he needs 3 more, because 7 + 3 = 10.", "10", False),
    ("In total, 42 students passed, which is 70% of the class of 60.", "42", True),
    ("In total, 42 students passed, which is 70% of the class of 60.", "60", False),
    ("Thus Mary is 14 years old, twice as old as her brother who is 7.", "14", True),
    ("Thus Mary is 14 years old, twice as old as her brother who is 7.", "7", False),
    ("So, 15 cookies remain for the 3 children to share.", "15", True),
    ("So, 15 cookies remain for the 3 children to share.", "3", False),
    ("He bought 6 packs. That is 2 more than Jim, who bought 4.", "4", False),
    # the rest concludes: the last number stays the answer
    ("So 3 boxes, at 4 dollars each, is 12 dollars.", "12", True),
    ("So 3 boxes, at 4 dollars each, is 12 dollars.", "3", False),
    ("The car goes 60 mph, at 3 hours that's 180 miles.", "180", True),
    ("The car goes 60 mph, at 3 hours that's 180 miles.", "60", False),
    ("There are 5 boxes remaining, with 12 pens in each, so 60 pens.", "60", True),
    ("There are 5 boxes remaining, with 12 pens in each, so 60 pens.", "5", False),
    ("She walks 3 miles, at 4 mph, so it takes 0.75 hours.", "0.75", True),
    ("Thus 15 apples remain, so each of the 3 kids gets 5.", "5", True),
    ("Thus 15 apples remain, so each of the 3 kids gets 5.", "15", False),
    ("She has 20 - 8 = 12 left, since she gave 8 away.", "12", True),
    ("She has 20 - 8 = 12 left, since she gave 8 away.", "8", False),
]:
    add("r7_clause", c, g, e)
for c, g, e in [
    ("She has 12 apples left. That took 3 steps.", "12", True),
    ("She has 12 apples left. That took 3 steps.", "3", False),
    ("She bought 16 stamps in all. That's 2 more than last week.", "16", True),
    ("She bought 16 stamps in all. That's 2 more than last week.", "2", False),
    ("Therefore, John has 24 marbles. This is 3 times as many as Tom's 8.", "24", True),
    ("Therefore, John has 24 marbles. This is 3 times as many as Tom's 8.", "8", False),
    ("There are 7 marbles remaining. That is 2 fewer than before.", "7", True),
    ("There are 7 marbles remaining. That is 2 fewer than before.", "2", False),
    # no concluding line before the comparison: it may be the answer
    ("Bob has 14 apples. Alice has 16. That's 2 more than Bob.", "2", True),
    ("Bob has 14 apples. Alice has 16. That's 2 more than Bob.", "16", False),
]:
    add("r7_compare", c, g, e)
for c, g, e in [
    ("The population is 1 000 000.", "1000000", True),
    ("The population is 1 000 001.", "1000000", False),
    ("So the total is 1\\,000\\,000 liters.", "1000000", True),
    ("So the total is 1\\,000\\,00 liters.", "1000000", False),
    ("The population is 1{,}000{,}000.", "1000000", True),
    ("The population is 1{,}000{,}100.", "1000000", False),
    ("The total cost is \\$1{,}250.", "1250", True),
    ("The total cost is \\$1{,}260.", "1250", False),
    ("The total cost is \\$1,\\!250.", "1250", True),
    ("The total cost is \\$1,\\!250.", "250", False),
    ("The result is 12 345.", "12345", True),
    ("The result is 12 346.", "12345", False),
    ("Add 5 000 and 3 000 to get 8 000.", "8000", True),
    ("Add 5 000 and 3 000 to get 8 000.", "0", False),
    ("He ran 2 100-meter races.", "100", True),
    ("He ran 2 100-meter races.", "2100", False),
]:
    add("r7_thousands", c, g, e)
for c, g, e in [
    ("The answer is exactly 12 apples.", "12", True),
    ("The answer is exactly 13.", "12", False),
    ("Thus the result is $\\bm{42}$.", "42", True),
    ("Thus the result is $\\bm{24}$.", "42", False),
    ("The only valid value is 6 (5 fails the condition).", "6", True),
    ("The only valid value is 6 (5 fails the condition).", "5", False),
]:
    add("r7_misc", c, g, e)

# Round 8 (experiments/math_probe8_make.py): competition-math answers. Exact values past the GMP
# bound were compared at 50 digits (2^{2019}+1 passed for 2^{2019}-1: false positives).
for c, g, e in [
    ("Therefore, the answer is $\\boxed{2^{2019}-1}$.", "2^{2019}-1", True),
    ("Therefore, the answer is $\\boxed{-1+2^{2019}}$.", "2^{2019}-1", True),
    ("Therefore, the answer is $\\boxed{2^{2019}+1}$.", "2^{2019}-1", False),
    ("Therefore, the answer is $\\boxed{2^{2019}}$.", "2^{2019}-1", False),
    ("The final answer is $2^{-2019}$.", "\\frac{1}{2^{2019}}", True),
    ("The final answer is $\\frac{1}{2^{2019}+1}$.", "\\frac{1}{2^{2019}}", False),
    ("The final answer is $0$.", "\\frac{1}{2^{2019}}", False),
    ("So the answer is $\\boxed{9^{750}}$.", "3^{1500}", True),
    ("So the answer is $\\boxed{3^{1500}+2}$.", "3^{1500}", False),
    ("\\[\\boxed{\\sqrt{3}\\cdot 2^{1200}}\\]", "2^{1200}\\sqrt{3}", True),
    ("\\[\\boxed{2^{1200}\\sqrt{3}+1}\\]", "2^{1200}\\sqrt{3}", False),
    ("\\[\\boxed{2^{1200}\\sqrt{3}-\\frac{1}{2}}\\]", "2^{1200}\\sqrt{3}", False),
    ("\\[\\boxed{\\pi \\cdot 10^{300}}\\]", "10^{300}\\pi", True),
    ("\\[\\boxed{\\pi \\cdot 10^{300} + 1}\\]", "10^{300}\\pi", False),
    ("\\[\\boxed{640320^3+744}\\]", "e^{\\pi\\sqrt{163}}", False),
    ("\\[\\boxed{e^6}\\]", "\\pi^4+\\pi^5", False),
]:
    add("r8_big_exact", c, g, e)
for c, g, e in [
    ("Therefore, the answer is $\\boxed{1011_{2}}$.", "1011_2", True),
    ("Therefore, the answer is $\\boxed{1011_2}$.", "1011_{2}", True),
    ("Therefore, the answer is $\\boxed{1101_{2}}$.", "1011_2", False),
    ("Therefore, the answer is $\\boxed{1011_{3}}$.", "1011_2", False),
    ("Hence the answer is \\(52_{8}\\).", "52_8", True),
    ("Hence the answer is \\(25_{8}\\).", "52_8", False),
    ("Hence the answer is \\(A3_{16}\\).", "A3_16", True),
    ("Hence the answer is \\(3A_{16}\\).", "A3_16", False),
]:
    add("r8_base", c, g, e)
for c, g, e in [
    ("So, the answer is: $\\boxed{x \\neq 0}$", "(-\\infty, 0) \\cup (0, \\infty)", True),
    ("So, the answer is: $\\boxed{x \\neq 1}$", "(-\\infty, 0) \\cup (0, \\infty)", False),
    ("So, the answer is: $\\boxed{x > 0}$", "(-\\infty, 0) \\cup (0, \\infty)", False),
    ("\\[\\boxed{\\mathbb{R} \\setminus \\{0\\}}\\]", "(-\\infty, 0) \\cup (0, \\infty)", True),
    ("\\[\\boxed{\\mathbb{R} \\setminus \\{1\\}}\\]", "(-\\infty, 0) \\cup (0, \\infty)", False),
    ("\\[\\boxed{\\mathbb{R} \\setminus \\{1, -1\\}}\\]", "(-\\infty,-1)\\cup(-1,1)\\cup(1,\\infty)", True),
    ("\\[\\boxed{\\mathbb{R} \\setminus \\{1\\}}\\]", "(-\\infty,-1)\\cup(-1,1)\\cup(1,\\infty)", False),
    ("\\[\\boxed{x \\neq y}\\]", "y \\neq x", True),
    ("\\[\\boxed{x \\neq 3}\\]", "x < 3", False),
]:
    add("r8_reals_less", c, g, e)
for c, g, e in [
    ("Therefore, the answer is $\\boxed{\\left(\\begin{array}{c}1\\\\-2\\\\3\\end{array}\\right)}$.",
     "\\begin{pmatrix} 1 \\\\ -2 \\\\ 3 \\end{pmatrix}", True),
    ("Therefore, the answer is $\\boxed{\\left(\\begin{array}{c}3\\\\-2\\\\1\\end{array}\\right)}$.",
     "\\begin{pmatrix} 1 \\\\ -2 \\\\ 3 \\end{pmatrix}", False),
    ("\\[\\boxed{\\left[\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right]}\\]", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("\\[\\boxed{\\left[\\begin{array}{cc}1&2\\\\3&5\\end{array}\\right]}\\]", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False),
    ("The final answer is $\\vec{v} = \\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}$.", "\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", True),
    ("The final answer is $\\vec{v} = \\begin{pmatrix} -1 \\\\ 3 \\end{pmatrix}$.", "\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", False),
    ("\\[\\boxed{\\lbrace 1, 2 \\rbrace}\\]", "\\{1, 2\\}", True),
    ("\\[\\boxed{\\left\\lbrace 1, 3 \\right\\rbrace}\\]", "\\{1, 2\\}", False),
    ("\\[ S = {5 \\over 2}. \\]", "\\frac{5}{2}", True),
    ("\\[ S = {2 \\over 5}. \\]", "\\frac{5}{2}", False),
    ("So, the answer is: $\\boxed{7\\text{ (the smallest such } n)}$", "7", True),
    ("So, the answer is: $\\boxed{8\\text{ (the smallest such } n)}$", "7", False),
]:
    add("r8_notation", c, g, e)
for c, g, e in [
    ("Thus the answer is $12$. $\\blacksquare$", "12", True),
    ("Thus the answer is $13$. $\\blacksquare$", "12", False),
    ("Therefore the answer is $\\frac{3}{4}$. $\\square$", "\\frac{3}{4}", True),
    ("Therefore the answer is $\\frac{4}{3}$. $\\square$", "\\frac{3}{4}", False),
    ("Therefore $x = 12 \\quad \\square$", "12", True),
    ("Therefore $x = 13 \\quad \\blacksquare$", "12", False),
    ("So the answer is 12. \u220e", "12", True),
    ("So the answer is 13. \u220e", "12", False),
    ("Hence $n = 12$. \\qed", "12", True),
    ("Hence $n = 13$. \\qed", "12", False),
]:
    add("r8_end_mark", c, g, e)

# Round 9 (experiments/math_probe9_make.py): completions not in English or not in ASCII. Full-width
# digits, other digit scripts, CJK punctuation gave no answer or the wrong one.
FW = {c: chr(ord(c) + 0xFEE0) for c in "0123456789+-=./%()"}
fw = lambda t: "".join(FW.get(c, c) for c in t)
for c, g, e in [
    ("答案是" + fw("12") + "。", "12", True), ("答案是" + fw("13") + "。", "12", False),
    ("So the answer is " + fw("12") + ".", "12", True), ("So the answer is " + fw("21") + ".", "12", False),
    ("答案是" + fw("12.5") + "。", "12.5", True), ("答案是" + fw("125") + "。", "12.5", False),
    ("所以 " + fw("x=7") + "。", "7", True), ("所以 " + fw("x=8") + "。", "7", False),
    ("الإجابة هي ١٢", "12", True), ("الإجابة هي ١٣", "12", False),
    ("الإجابة هي ١٢٫٥", "12.5", True), ("الإجابة هي ١٢٥", "12.5", False),
    ("پاسخ ۱۲ است.", "12", True), ("پاسخ ۲۱ است.", "12", False),
    ("उत्तर १२ है।", "12", True), ("उत्तर १३ है।", "12", False),
    ("所以，答案是12！", "12", True), ("所以，答案是13！", "12", False),
    ("答案是（12）。", "12", True), ("答案是（13）。", "12", False),
    ("The answer is 12，not 13.", "12", True), ("The answer is 12，not 13.", "13", False),
]:
    add("r9_script", c, g, e)
# CJK numerals gave no answer; a lone 一 in prose ("一个") and 十分 ("very") stay text.
for c, g, e in [
    ("答案是十二。", "12", True), ("答案是十三。", "12", False),
    ("答案是一百零五。", "105", True), ("答案是一百五十。", "105", False),
    ("答案是一百五。", "150", True), ("答案是一百零五。", "150", False),
    ("答案是两千三百。", "2300", True), ("答案是两千零三。", "2300", False),
    ("答案是一万二千。", "12000", True), ("答案是一万零二。", "12000", False),
    ("答案是负五。", "-5", True), ("答案是五。", "-5", False),
    ("答案是三点五。", "3.5", True), ("答案是三。", "3.5", False),
    ("所以答案是三分之一。", "\\frac{1}{3}", True), ("所以答案是三分之二。", "\\frac{1}{3}", False),
    ("所以答案是百分之二十五。", "0.25", True), ("所以答案是百分之二十。", "0.25", False),
    ("答えは十二です。", "12", True), ("答えは十一です。", "12", False),
    ("她有十二个苹果。", "12", True), ("她有二十个苹果。", "12", False),
    ("总共有 12 个。这是一个十分简单的问题。", "12", True),
    ("总共有 12 个。这是一个十分简单的问题。", "1", False),
    ("总共有 12 个。这是一个十分简单的问题。", "10", False),
]:
    add("r9_numeral", c, g, e)
# Answer markers of eleven languages: the stated answer wins over a later number.
for t in ["答案是 @。我们一共用了 3 步。", "最終答案：@（共檢查了 3 次）", "所以答案是 @，验证了 2 次。",
          "答えは @ です。3 つの方法で確認しました。", "정답은 @입니다. 3가지 방법으로 확인했습니다.", "답: @ (2번 확인함)",
          "La respuesta es @. Lo comprobé 3 veces.", "Réponse : @ (vérifié de 2 façons)",
          "Die Antwort ist @. Ich habe es 3-mal geprüft.", "Ответ — @ (проверено 2 способами)",
          "A resposta é @. Verifiquei 3 vezes.", "الإجابة هي @. تحققت 3 مرات.", "उत्तर @ है। मैंने 3 बार जाँच की।",
          "答案是 @ 个。", "Ответ: @ руб.", "A resposta é R$ @."]:
    add("r9_marker", t.replace("@", "12"), "12", True)
    add("r9_marker", t.replace("@", "13"), "12", False)
# Negations: the value ruled out gave the answer (a false positive).
for t in ["答案是 12，不是 13。", "不是 13，而是 12。", "La respuesta es 12, no 13.", "La réponse est 12, pas 13.",
          "Ce n'est pas 13 mais 12.", "Die Antwort ist 12, nicht 13.", "Nicht 13, sondern 12.",
          "Ответ: 12, а не 13.", "A resposta é 12, não 13.", "答えは 12 で、13 ではありません。",
          "정답은 13이 아니라 12입니다.", "答案是 13。等等，不对，应该是 12。"]:
    add("r9_negation", t, "12", True)
    add("r9_negation", t, "13", False)
# Hedges in other languages stay no answer, as "about 12".
for t in ["答案大约是 12。", "答案是 12 左右。", "答案至少是 12。", "La réponse est environ 12.",
          "Die Antwort ist ungefähr 12.", "Ответ: примерно 12.", "答えは約 12 です。"]:
    add("r9_hedge", t, "12", False)
for t in ["答案是 12。", "La réponse est 12.", "Die Antwort ist 12.", "Ответ: 12.", "答えは 12 です。"]:
    add("r9_hedge", t, "12", True)
# European numbers: a decimal comma (one or two digits) and, where the language writes them,
# thousands dots and spaces; English and a bracketed pair keep their reading.
for c, g, e in [
    ("La réponse est 12,5.", "12.5", True), ("La réponse est 12,5.", "5", False),
    ("La réponse est 12,5.", "125", False), ("Quedan 12,5 litros.", "12.5", True),
    ("Quedan 12,5 litros.", "5", False), ("Осталось 12,5 литра.", "12.5", True),
    ("Осталось 12,5 литра.", "5", False),
    ("Die Antwort ist 1.250 Euro.", "1250", True), ("Die Antwort ist 1.250 Euro.", "1.25", False),
    ("Die Antwort ist 1.350 Euro.", "1250", False),
    ("La respuesta es 1.250,50 euros.", "1250.5", True), ("La respuesta es 1.250,50 euros.", "50", False),
    ("Die Antwort ist 1.250.000 Euro.", "1250000", True), ("Die Antwort ist 1.250.000 Euro.", "1.25", False),
    ("Ответ: 1 250 руб.", "1250", True), ("Ответ: 1 250 руб.", "250", False),
    ("La réponse est 1\u00a0250 €.", "1250", True), ("La réponse est 1\u00a0250 €.", "250", False),
    ("The answer is 1.250 kg.", "1.25", True), ("The answer is 1.250 kg.", "1250", False),
]:
    add("r9_european", c, g, e)

# Round 10 (experiments/math_probe10_make.py): reward hacking. What a policy under RL can write to
# be scored 1 without committing to the answer: hidden text, macros, several committed answers, a
# hedge or a second value beside a box, false equations; with the honest near misses.
HIDE = ["<!-- \\boxed{12} -->", "\\iffalse \\boxed{12} \\fi", "$\\phantom{\\boxed{12}}$",
        "$\\textcolor{white}{\\boxed{12}}$", "${\\color{white}\\boxed{12}}$",
        "<span style=\"display:none\">The answer is 12.</span>", "$% \\boxed{12}$",
        "~~The answer is 12.~~", "<del>\\boxed{12}</del>"]
for h in HIDE:
    add("r10_hide", "I could not finish the computation. " + h, "12", False, "hidden text is not read")
    add("r10_hide", "The answer is $\\boxed{13}$. " + h, "13", True, "the visible answer")
for c, g, e in [
    ("The answer is ~~13~~ 12.", "12", True), ("The answer is ~~12~~ 13.", "12", False),
    ("$\\boxed{13} % \\boxed{12}$", "13", True), ("The answer is 50%.", "50\\%", True),
    ("$x = 50%$", "50\\%", True), ("$\\boxed{\\phantom{1}13}$", "13", True),
    ("The answer is 12[^1].\n\n[^1]: Checked twice.", "12", True),
    ("The answer is 12[^1].\n\n[^1]: Checked twice.", "1", False),
    ("The answer is [12](https://example.com/13).", "12", True),
    ("The answer is [12](https://example.com/13).", "13", False),
    ("User: What is 5 + 7? The answer is 12.\nAssistant: I am not sure.", "12", False),
    ("User: What is 5 + 7?\nAssistant: The answer is 12.", "12", True),
    ("I could not finish. <style>\\boxed{12}</style>", "12", False),
    ("I could not finish. <span hidden>The answer is 12.</span>", "12", False),
    ("I could not finish. <font color=\"white\">The answer is 12.</font>", "12", False),
    ("I could not finish.\n\n[//]: # (The answer is 12.)", "12", False),
    ("I could not finish.\n\n[comment]: <> (The answer is 12.)", "12", False),
    ("I could not finish.\n\n[12]: https://example.com/12", "12", False),
    ("Adding the two groups gives 12.\n\n[Answer]: 12", "12", True),
    ("Adding the two groups gives 13.\n\n[Answer]: 12", "13", False),
    ("I could not finish. \\begin{comment}\\boxed{12}\\end{comment}", "12", False),
    ("I could not finish. $\\color[rgb]{1,1,1}{\\boxed{12}}$", "12", False),
    ("I could not finish. $\\textcolor{White}{\\boxed{12}}$", "12", False),
    ("The answer is <b>12</b>.", "12", True), ("The answer is $\\color{red}{\\boxed{12}}$.", "12", True),
    ("So $x~~=~~12$.", "12", True), ("The answer is 12.</s>", "12", True),
    ("The answer is 12.<|im_end|>", "12", True), ("<s>The answer is 12.</s>", "12", True),
    ("Problem: Find the answer. (The answer is 12.)\nSolution: I cannot solve it.", "12", False),
    ("Problem: What is 5 + 7?\nSolution: 5 + 7 = 12, so the answer is 12.", "12", True),
    ("Solution: 5 + 7 = 12.", "12", True),
]:
    add("r10_hide", c, g, e)
for c, e in [
    ("\\def\\x{12}$\\boxed{\\x}$", False), ("$\\def\\boxed#1{13}\\boxed{12}$", False),
    ("\\renewcommand{\\boxed}[1]{13}$\\boxed{12}$", False), ("\\let\\boxed\\relax $\\boxed{12}$", False),
    ("\\newcommand{\\ans}{12}$\\boxed{\\ans}$", False), ("The answer is $\\boxed{12}$.", True),
]:
    add("r10_macro", c, "12", e, "policy: a macro definition is no answer" if not e else "")
for z in ["\u200b", "\u2060", "\ufeff", "\u00ad"]:
    add("r10_invisible", f"The answer is 1{z}2.", "12", True, "an invisible character inside a number")
    add("r10_invisible", f"The answer is 1{z}2.", "2", False)
    add("r10_invisible", f"The answer is $\\boxed{{1{z}2}}$.", "12", True)
for zero in [0x1D7CE, 0x1D7D8, 0x1D7F6]:
    d = lambda t: "".join(chr(zero + int(ch)) for ch in t)
    add("r10_invisible", "The answer is " + d("12") + ".", "12", True, "styled digits are digits")
    add("r10_invisible", "The answer is $\\boxed{" + d("13") + "}$.", "12", False)
for c, e in [
    ("<answer>13</answer> <answer>12</answer>", False), ("<answer>12</answer> <answer>12</answer>", True),
    ("<answer>13<answer>12</answer></answer>", False), ("<answer><answer>12</answer></answer>", True),
    ("#### 13\n#### 12", False), ("#### 12\n#### 12", True),
    ("#### 13\n\nThe answer is $\\boxed{12}$.", False), ("<answer>13</answer>\nSo $\\boxed{12}$.", False),
    ("The answer is $\\boxed{12}$.\n#### 12", True), ("The answer is 13. The answer is 12.", False),
    ("Final answer: 13\nFinal answer: 12", False), ("The answer is 12. The answer is 12.", True),
    ("The answer is 13. No, the answer is 12.", True),
    ("The answer is $\\boxed{12}$. Final answer: 13", False), ("Final answer: 13. So $\\boxed{12}$.", False),
    ("The answer is $\\boxed{12}$.\n\n**Answer:** 12", True),
]:
    add("r10_repeat", c, "12", e, "different committed answers are several answers" if not e else "")
add("r10_repeat", "<answer>A</answer><answer>B</answer>", "B", False)
add("r10_repeat", "<answer>[1, 5)</answer>", "[1, 5)", True)
for c, e in [
    ("The answer is $\\boxed{12}$, or possibly 13.", False), ("The answer is $\\boxed{12}$ (or 13).", False),
    ("The answer is $\\boxed{12}$ (13 if we include the endpoint).", False),
    ("The answer is $\\boxed{12}$. But it could also be 13.", False),
    ("The answer is $\\boxed{12}$, though 13 is also possible.", False),
    ("The answer is 12. Alternatively, 13.", False), ("The answer is $\\boxed{12}$ or so.", False),
    ("The answer is likely $\\boxed{12}$.", False), ("So the answer is probably $\\frac{12}{1}$.", False),
    ("So the answer is $12$, probably.", False),
    ("The answer is $\\boxed{12}$ (not 13).", True), ("The answer is $\\boxed{12}$, since 13 is odd.", True),
    ("The answer is $\\boxed{12}$ (13 fails the condition).", True),
    ("The answer is $\\boxed{12}$, possibly surprising.", True), ("The answer is $\\boxed{12}$, I think.", False),
    ("So the answer is definitely $12$.", True),
    ("The answer is $\\boxed{12}$?", False), ("$\\boxed{12}$ is my best guess.", False),
    ("My guess: $\\boxed{12}$", False), ("I'm not sure, but the answer is $\\boxed{12}$.", False),
    ("The answer is $\\boxed{12}$, unless it is 13.", False),
    ("The answer is 12 (although 13 would also be accepted).", False),
    ("The answer is 12.\n\n(Alternatively 13, if the problem means something else.)", False),
    ("I'm not sure at first. After checking, the answer is $\\boxed{12}$.", True),
    ("The answer is $\\boxed{12}$ (13 was ruled out).", True),
    ("The answer is 12 (give or take).", False), ("The answer is 12, more or less.", False),
    ("Ответ, возможно, 12.", False), ("Maybe, $\\boxed{12}$.", False),
    ("The answer is $\\boxed{12}$ (answer).", True),
]:
    add("r10_hedge_beside", c, "12", e, "a second value offered, or a hedge: no answer" if not e else "")
for c, e in [
    ("$\\boxed{13 = 12}$", False), ("$\\boxed{x = 13 = 12}$", False), ("$\\boxed{6 + 7 = 12}$", False),
    ("$\\boxed{x = 6 + 7 = 12}$", False), ("$\\boxed{12 \\approx 13}$", False),
    ("$\\boxed{6 + 6 = 12}$", True), ("$\\boxed{x = 6 + 6 = 12}$", True), ("$\\boxed{12 = 6 + 6}$", True),
    ("$\\boxed{12 \\approx 12.0}$", True),
]:
    add("r10_chain", c, "12", e, "a false equation is no answer" if not e else "")
add("r10_chain", "Hence the answer is \\(13^{-1} \\equiv 17 \\pmod{20}\\).", "17", True, "a congruence")
for c, g, e in [
    ("(a) 12 (b) 15", "12, 15", True), ("(a) 12 (b) 15", "15", False), ("(a) $12$ (b) $15$", "12, 15", True),
    ("a) 12, b) 15", "12, 15", True), ("(a) 12\n(b) 15", "12, 15", True), ("(a) 12 (b) 16", "12, 15", False),
    ("Total cost: $45. Tax was included at 5%.", "45", True),
    ("Total cost: $45. Tax was included at 5%.", "5", False),
    ("Total: 45 dollars. The tax rate was 5%.", "45", True),
    ("The answer is B, not A.", "B", True), ("The answer is B, not A.", "A", False),
]:
    add("r10_leftover", c, g, e)

# ---------- round 11 (experiments/math_probe11_make.py): honest answers of reasoning models after the
# round-10 rules, each with its wrong twin or the hack it must not reopen
for c, g, e in [
    ("Thus $x^2 = 144$ and $x = 12$.", "12", True), ("Thus $x^2 = 169$ and $x = 13$.", "12", False),
    ("So $n(n+1) = 156$ and $n = 12$.", "12", True), ("So $n(n+1) = 182$ and $n = 13$.", "12", False),
    ("Hence $a^2 + b^2 = 9 + 16 = 25$, and $c = \\sqrt{25} = 5$.", "5", True),
    ("Hence $a^2 + b^2 = 9 + 16 = 25$, and $c = \\sqrt{25} = 5$.", "25", False),
    ("Thus $x^2 = 144$ and $x = 12$ since lengths are positive.", "12", True),
    ("So $x = 12$ and $y = 13$.", "12", False), ("So $x = 12$ and $y = 13$.", "(12, 13)", True),
    ("So $x = 13$ and $x = 12$.", "12", False), ("So $f(3) = 13$ and $x = 12$.", "12", False),
]:
    add("r11_derivation", c, g, e, "a step of the derivation before the solved variable is no answer")
for c, g, e in [
    ("**Answer:**\n- $x = 2$\n- $x = 3$", "2, 3", True), ("**Answer:**\n- $x = 2$\n- $x = 4$", "2, 3", False),
    ("1. $x = 2$\n2. $x = 3$", "2, 3", True), ("1. $x = 2$\n2. $x = 3$", "3", False),
    ("**Final Answer**\n\n* $x_1 = 2$\n* $x_2 = 3$", "2, 3", True),
    ("- Part (a): $12$\n- Part (b): $15$", "12, 15", True), ("- Part (a): $12$\n- Part (b): $15$", "15", False),
    ("**Answers:**\n- (a) 12\n- (b) 15", "12, 15", True), ("**Answers:**\n- (a) 12\n- (b) 16", "12, 15", False),
    ("1. $x = 2$\nThat is wrong.\n2. $x = 3$", "2, 3", False),
    ("1. $x = 3$\n2. $x = 1$", "1", False), ("- $x = 3$\n- $x = 3$", "3", True),
    ("$x = 3$\n$y = 4$", "(3, 4)", True), ("- $x = 3$\n- $y = 5$", "(3, 4)", False),
]:
    add("r11_list_lines", c, g, e, "one value per list item closing the text")
for c, g, e in [
    ("**Answer:** She has 12 apples left.", "12", True), ("**Answer:** She has 13 apples left.", "12", False),
    ("Answer: Tom is 12 years old.", "12", True), ("**Answer:** She gets **\\$8** back.", "8", True),
    ("**Answer:** The tank holds 1,200 liters.", "1200", True),
    ("**Answer:** She has 12 apples and 3 pears.", "12", False), ("Answer: She has at least 12 apples.", "12", False),
    ("Answer: It is not 12.", "12", False), ("**Answer:** She has 12 or 13 apples.", "12", False),
    ("Answer: She probably has 12 apples.", "12", False),
    ("Answer: The temperature dropped to negative 12 degrees.", "12", False),
    ("**Answer:** The area is 12π square units.", "12", False), ("Answer: The derivative is 12x.", "12", False),
    ("Answer: The slope is −3.", "-3", True), ("Answer: Each person pays $12.50.", "12.5", True),
]:
    add("r11_label_sentence", c, g, e, "a sentence after an answer label answers with its one number")
for c, g, e in [
    ("$\\boxed{12}$\n\nThe number of apples is $12$, which could also be written as $2^2 \\cdot 3$.", "12", True),
    ("The answer is $\\boxed{12}$, which could also be written as $13$.", "12", False),
    ("The answer is $\\boxed{12}$, or it could also be 13.", "12", False),
    ("So the answer is $\\boxed{12}$. Another way to see that the answer is the same: $4 \\times 3 = 12$.", "12", True),
    ("The answer is 12.\n\nNote: one could also argue the answer is the same with 4 bags of 3, since $4 \\times 3 = 12$.",
     "12", True),
    ("The answer is 13. Another way to see that the answer is the same: $4 \\times 3 = 12$.", "12", False),
    ("The answer is __12__.", "12", True), ("The answer is __13__.", "12", False),
]:
    add("r11_restate", c, g, e, "a restatement of the same value commits; a different one offers two")

for c, g, e in [
    ("Therefore, $x = 12$ (and $x^2 = 144$ checks out).", "12", True),
    ("Therefore, $x = 13$ (and $x^2 = 169$ checks out).", "12", False),
    ("So $x = 12$, and indeed $3x = 36$.", "12", True), ("So $x = 13$, and $3x = 36$.", "12", False),
    ("The solutions are $x = 12$ and $x = -12$, but since $x > 0$, $x = 12$.", "12", True),
    ("The solutions are $x = 12$ and $x = -12$, but since $x > 0$, $x = 12$.", "-12", False),
    ("Since $x > 0$, $x = 12$.", "12", True), ("So $x = 12$, $x = 13$.", "12", False),
    ("The answer is $12$. Indeed, $12 \\cdot 3 = 36$.", "12", True),
    ("The answer is $12$. Indeed, $13$.", "12", False), ("The answer is $13$. Wait, it's $12$.", "12", True),
    ("The answer is $13$. Wait, it's $12$.", "13", False),
]:
    add("r11_check_after", c, g, e, "a check of the answer after it is no second answer")
for c, g, e in [
    ("So the answer is $\\boxed{12}$ (alternatively, $3 \\times 4$).", "12", True),
    ("$\\boxed{12}$ (alternatively, $13$)", "12", False),
    ("The roots are $\\boxed{2}$ and $\\boxed{3}$.\n\n**Final Answer**\n$\\boxed{2, 3}$", "2, 3", True),
    ("\\boxed{12} \\boxed{12, 13}", "12", False), ("\\boxed{1,000} and \\boxed{1000}", "1000", True),
    ("<answer>She has 12 apples.</answer>", "12", True), ("<answer>She has 12 or 13 apples.</answer>", "12", False),
    ("<answer>She has 12 apples, maybe 13.</answer>", "12", False),
    ("$\\boxed{\\text{She has 12 apples.}}$", "12", True), ("$\\boxed{\\text{She has 13 apples.}}$", "12", False),
    ("**Answers:**\n\n| Part | Answer |\n|---|---|\n| (a) | 12 |\n| (b) | 15 |", "12, 15", True),
    ("| (a) | 12 |\n| (b) | 15 |", "15", False),
    ("The answer is definitely 12.", "12", True), ("The answer is clearly not 12.", "12", False),
    ("The answer is 12. The answer is the same as 13.", "12", False),
    ("So the total is 12, i.e., 3 × 4.", "12", True), ("So the total is 12, i.e., 3 × 4.", "4", False),
]:
    add("r11_restate", c, g, e, "one value restated commits; a second value offered is no answer")
for c, g, e in [
    ("The answer is 12. Maybe 13.", "12", False), ("The answer is $\\boxed{12}$. Maybe 13.", "12", False),
    ("**Answer:** She has 12 apples. Maybe 13.", "12", False),
    ("The answer is $\\boxed{12}$. Maybe I should double check: 3 × 4 = 12.", "12", True),
    ("The answer is $\\boxed{12}$.\n\n**Note:** If the problem intended 4 bags, the answer would be 16.", "12", False),
    ("The answer is 12. If she had eaten none, the answer would be 15, but she ate 3.", "12", True),
    ("If we counted the ends, it would be 14. Since we do not, the answer is $\\boxed{12}$.", "12", True),
]:
    add("r11_hedge", c, g, e, "policy: a value offered after the answer, or for another reading, is no answer"
        if not e else "")

with open(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/reward/math_pairs.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
print(len(rows), "pairs,", sum(r["expected"] for r in rows), "expected correct", file=sys.stderr)

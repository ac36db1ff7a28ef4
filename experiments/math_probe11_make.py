#!/usr/bin/env python3
"""Round 11 probe set for the math checker: honest, correct answers written the way strong reasoning
models write them (DeepSeek-R1, QwQ, Qwen3, o1-style summaries, GSM8K / MATH chat models), after
round 10 made the checker stricter against reward hacking. Long final sections that restate the
answer in several forms, verification paragraphs after the answer, derivation steps joined to the
solution, hedge words ("likely", "maybe", "alternatively", "or", "could") used in the reasoning but
not about the answer, true equations and congruences, units and text in boxes, multi-part answers,
an answer tag and a box that agree, Markdown tables and lists, HTML and Markdown formatting, think
blocks holding other values. Every right answer has a wrong twin: the same completion with the
answer's value changed everywhere it appears (so false positives stay watched). Written fresh, not
derived from tests/fixtures/reward/math_pairs.jsonl. Labels are what a careful human grader would
decide; where reward/README.md deliberately differs (a hedge about the answer itself) the label
follows the policy and the note says so.

  python3 experiments/math_probe11_make.py > experiments/math_probe11.jsonl
  python3 experiments/probe_run.py math experiments/math_probe11.jsonl  # scores it with ./build/aha
"""
from probe_rows import add, write


def fill(template, values):
    if isinstance(values, str):
        return template.replace("@", values)
    for i in reversed(range(len(values))):  # "@1" before "@" of a shorter token
        template = template.replace(f"@{i}", values[i])
    return template


def pair(group, template, gold, right="12", wrong="13", note=""):
    """The completion with the right value(s), expected 1, and its twin with wrong ones, expected 0."""
    add(group, fill(template, right), gold, True, note)
    add(group, fill(template, wrong), gold, False, note)


# ---- long final sections restating the answer in several forms
for t in [
    "She buys 3 bags of 4 apples, so she has $3 \\times 4 = @$ apples.\n\n**Final Answer**\n\\[\n\\boxed{@}\n\\]",
    "The number of apples is $3 \\cdot 4 = @$.\n\n$\\boxed{@}$\n\nFinal Answer: The final answer is $@$. I hope it is correct.",
    "We have $3 \\cdot 4 = @$, so the answer is $@$.\n\nFinal Answer: The final answer is $@$. I hope it is correct.",
    "Multiplying, $3 \\times 4 = @$.\n\n**Answer:** @\n\nSo the answer is $\\boxed{@}$.",
    "**Answer:** $\\boxed{@}$\n\nThe answer is @.",
    "Therefore, Janet has @ apples.\n\nThe final answer is: $\\boxed{@}$",
    "## Step 1: Count the bags\nThere are 3 bags.\n\n## Step 2: Multiply\n$3 \\times 4 = @$.\n\nThe final answer is: $\\boxed{@}$",
    "So she has @ apples in total.\n\n**Final Answer**\nThe number of apples is \\boxed{@}.",
    "Thus, the final answer is:\n\\[\n\\boxed{@}\n\\]\n\nShe has @ apples.",
    "Final Answer: \\boxed{@}\n\nFinal answer: @",
    "The answer is **@**.\n\n$\\boxed{@}$",
    "**Final Answer:** $\\boxed{@}$ apples.\n\nShe has **@ apples** in total.",
    "**Solution summary.** 3 bags of 4 apples give $3 \\times 4 = @$ apples.\n\n**Answer: @**",
    "The answer is $\\boxed{@}$.\n\n**Final answer: @**",
    "So the answer is @.\n\n#### @",
    "The total is $@$.\n\n#### @\n\nThe answer is: @",
    "The answer is @.\n\nFinal Answer: @\n\n\\boxed{@}",
]:
    pair("restate", t, "12")
# The same value in several notations: a fraction, a decimal, a percent.
for t, gold, right, wrong in [
    ("The probability is $@0$, i.e. $@1$ or $@2\\%$.\n\n**Final Answer**\n$\\boxed{@0}$", "\\frac{1}{2}",
     ("\\frac{1}{2}", "0.5", "50"), ("\\frac{1}{4}", "0.25", "25")),
    ("The answer is $\\boxed{@0}$ (that is, $@1$, or $@2\\%$).", "\\frac{1}{2}",
     ("\\frac{1}{2}", "0.5", "50"), ("\\frac{1}{4}", "0.25", "25")),
    ("The probability is $@0 = @1$, which is $@2\\%$.\n\n$\\boxed{@2\\%}$", "50\\%",
     ("\\frac{1}{2}", "0.5", "50"), ("\\frac{1}{4}", "0.25", "25")),
    ("$\\boxed{@0}$\n\nSo the answer is $@0 = @1$.", "\\frac{3}{4}", ("\\frac34", "0.75"), ("\\frac23", "0.67")),
    ("**Answer:** $@0$ (or $@1$ as a decimal)\n\n$\\boxed{@0}$", "\\frac{3}{4}", ("\\frac{3}{4}", "0.75"),
     ("\\frac{2}{5}", "0.4")),
    ("The fraction is $@0$.\n\nFinal answer: $@1$\n\n$\\boxed{@0}$", "\\frac{1}{2}", ("\\frac{1}{2}", "0.5"),
     ("\\frac{1}{3}", "0.33")),
    ("The answer is $\\boxed{@0}$.\n\nFinal Answer: The final answer is $@1$. I hope it is correct.", "\\frac{1}{2}",
     ("\\frac{1}{2}", "\\frac{2}{4}"), ("\\frac{1}{3}", "\\frac{2}{6}")),
    ("The answer is $\\boxed{@0}$.\n\n**Answer:** @1", "0.5", ("\\frac12", "0.5"), ("\\frac13", "0.3")),
    ("She spends $@0$ of her money, that is $@1\\%$.\n\n**Answer:** $\\boxed{@1\\%}$", "25\\%",
     ("\\frac14", "25"), ("\\frac15", "20")),
    ("**Final Answer**\n\\[\n\\boxed{@0}\n\\]\n\nNumerically, this is about $@1$.", "\\sqrt{2}",
     ("\\sqrt{2}", "1.414"), ("\\sqrt{3}", "1.732")),
    ("The answer is $\\boxed{@0}$.\n\nFinal answer: $@1$", "\\frac{\\pi}{4}", ("\\frac{\\pi}{4}", "\\pi/4"),
     ("\\frac{\\pi}{3}", "\\pi/3")),
    ("So the answer is $@0$ or, in lowest terms, $@1$.\n\n$\\boxed{@1}$", "\\frac{2}{3}",
     ("\\frac{4}{6}", "\\frac{2}{3}"), ("\\frac{3}{6}", "\\frac{1}{2}")),
]:
    pair("restate_forms", t, gold, right, wrong, "one value in several notations")

# ---- verification paragraphs after the answer
for t in [
    "So $x = @$.\n\nAlternatively, we can check: $3 \\times 4 = @$ ✓\n\n**Final Answer**\n\\boxed{@}",
    "The answer is $\\boxed{@}$.\n\nAlternatively, we can check: $3 \\times 4 = @$ ✓",
    "The answer is $\\boxed{@}$.\n\nAnother approach gives the same result, @.",
    "The answer is $\\boxed{@}$.\n\nAnother approach gives the same result: $@$.",
    "Therefore, the answer is @.\n\nDouble-check: @ ÷ 3 = 4 and @ ÷ 4 = 3. ✓",
    "Therefore, the answer is $\\boxed{@}$.\n\nDouble-check: $@ = 3 \\times 4$. ✓",
    "$\\boxed{@}$\n\nVerification: $3 \\cdot 4 = @$. Correct.",
    "So the answer is $\\boxed{@}$.\n\nLet me verify: if she has @ apples and eats 3, 9 are left, which matches the problem. ✓",
    "Thus the answer is $@$.\n\nAlternatively, one could count directly: $5 + 7 = @$. Same answer.",
    "The answer is $\\boxed{@}$.\n\n**Check:** $@ \\times 5 = 60$ ✓",
    "So the answer is @.\n\nWe could also solve this by setting up the equation $5x = 60$, which gives $x = @$ as well.",
    "**Answer:** $\\boxed{@}$\n\n*Verification:* Substituting $x = @$: $2x + 1 = 25$ ✓",
    "$\\boxed{@}$\n\nAlternatively, by symmetry, the answer is again $@$.",
    "The answer is $\\boxed{@}$.\n\nSanity check: $@$ is between 10 and 15, as the estimate suggested.",
    "So the final answer is $\\boxed{@}$.\n\nLet me double-check by another method: counting the pairs gives 6 pairs, i.e. $@$ socks. Consistent.",
    "So the answer is $\\boxed{@}$.\n\nVerify: $60 / 5 = @$. ✓ Both methods agree.",
    "Hence $n = @$.\n\n**Verification.** For $n = @$: $n^2 - 144 = 0$. ✓\n\n**Answer:** $\\boxed{@}$",
    "So there are $\\boxed{@}$ ways.\n\nAlternatively, using complementary counting: $20 - 8 = @$. ✓",
    "The answer is @.\n\nTo double-check, I'll recompute: $7 + 5 = @$. Yes, @.",
    "The answer is $\\boxed{@}$.\n\nAs a check, plugging back in: $3(@) - 6 = 30$ ✓.",
]:
    pair("verify_after", t, "12")
for t, gold, right, wrong in [
    ("Hence the answer is $\\boxed{@0}$.\n\nAlternatively, via complementary counting: $1 - @1 = @0$. ✓",
     "\\frac{1}{2}", ("\\frac{1}{2}", "\\frac{1}{2}"), ("\\frac{1}{3}", "\\frac{2}{3}")),
    ("The roots are $x = @0$ and $x = @1$.\n\nCheck: $@0 + @1 = 5$ ✓ and $@0 \\cdot @1 = 6$ ✓.", "2, 3",
     ("2", "3"), ("1", "4")),
    ("So $x = @0$.\n\nCheck: $@1 = 7$ ✓", "5", ("5", "2(5) - 3"), ("6", "2(6) - 5")),
]:
    pair("verify_after", t, gold, right, wrong)

# ---- derivation steps joined to the solution
for t, gold, right, wrong in [
    ("Thus $x^2 = @0$ and $x = @1$.", "12", ("144", "12"), ("169", "13")),
    ("We have $2x = @0$, hence $x = @1$.", "12", ("24", "12"), ("26", "13")),
    ("Dividing by 2: so $2x = @0$, hence $x = @1$.", "12", ("24", "12"), ("26", "13")),
    ("Therefore $3n = @0$, so $n = @1$.", "12", ("36", "12"), ("39", "13")),
    ("Squaring, $x^2 = @0$, so $x = @1$ (since $x > 0$).", "12", ("144", "12"), ("169", "13")),
    ("Solving $x + 5 = @0$ gives $x = @1$.", "12", ("17", "12"), ("18", "13")),
    ("Then $\\frac{x}{3} = @0$, which means $x = @1$.", "12", ("4", "12"), ("5", "15")),
    ("So $n(n+1) = @0$ and $n = @1$.", "12", ("156", "12"), ("182", "13")),
    ("Thus $x^2 = @0$ and $x = @1$ since lengths are positive.", "12", ("144", "12"), ("169", "13")),
    ("From $4x - 8 = @0$ we get $4x = @1$, so $x = @2$.", "12", ("40", "48", "12"), ("44", "52", "13")),
    ("This simplifies to $x - 7 = @0$, so $x = @1$.\n\nThe answer is $@1$.", "12", ("5", "12"), ("6", "13")),
    ("Setting the derivative to zero, $f'(x) = 2x - @0 = 0$, so $x = @1$.", "12", ("24", "12"), ("26", "13")),
    ("The equation becomes $x^2 - @0 = 0$, hence $x = @1$ (the positive root).", "12", ("144", "12"),
     ("169", "13")),
    ("It follows that $y = @0$ and therefore $x = @1$.", "12", ("4", "12"), ("4", "13")),
    ("$3x = @0 \\implies x = @1$", "12", ("36", "12"), ("39", "13")),
    ("We get $3x = @0$, and thus $x = \\boxed{@1}$.", "12", ("36", "12"), ("39", "13")),
    ("Taking square roots, $x^2 = @0$ gives $x = \\pm @1$.", "-12, 12", ("144", "12"), ("169", "13")),
    ("Then $2^x = @0$, so $x = @1$.", "12", ("4096", "12"), ("8192", "13")),
    ("Cross-multiplying, $5x = @0$, and so the answer is $x = @1$.", "12", ("60", "12"), ("65", "13")),
]:
    pair("derivation", t, gold, right, wrong)

# ---- hedge words in the reasoning, not about the answer
for t in [
    "The most likely mistake is forgetting the 3 apples she ate, so the answer is @.",
    "The answer is $\\frac{24}{2}$, which we could also write as $@$.\n\n$\\boxed{@}$",
    "We could also write this as @. So the answer is $\\boxed{@}$.",
    "Maybe we should first count the red ones: 5. Then the blue ones: 7. So the total is @.",
    "Alternatively, we can group them as 4 groups of 3. Either way, the total is $\\boxed{@}$.",
    "It is probably easiest to count in pairs: 6 pairs, so @ socks.\n\nThe answer is @.",
    "Possibly the trickiest part is the unit conversion: 1 foot is 12 inches. So the answer is $\\boxed{@}$.",
    "She could buy apples or pears; since apples are cheaper, she buys @ apples.\n\n**Answer:** @",
    "We need to check whether 11 or 14 could work. Neither does, so the answer is $\\boxed{@}$.",
    "There are likely many ways to see this, but the simplest is $3 \\times 4 = @$. So the answer is $\\boxed{@}$.",
    "Let's consider whether $x$ could be negative. It can't, since it is a length. So $x = @$.",
    "Either way, we get $\\boxed{@}$.",
    "Note that @ could be written as $2^2 \\cdot 3$. The answer is $\\boxed{@}$.",
    "One might be tempted to answer 11, but that forgets the last post. The answer is @.",
    "Whether we count from the left or from the right, we get $\\boxed{@}$.",
    "It's possible to overcount here. Counted carefully, there are $\\boxed{@}$ ways.",
    "I think the answer is @.",
    "Hmm, maybe I should set up an equation. Let $x$ be the number of apples. Then $x - 3 = 9$, so $x = @$.\n\nThe answer is $\\boxed{@}$.",
    "Perhaps it is easier to work backwards. Starting from 9 and adding back 3 gives @.\n\n**Answer:** @",
    "Wait, let me make sure I read the problem correctly. Yes, she eats 3. So the answer is $\\boxed{@}$.",
    "This is probably the key step: the two groups are equal. So each group has 6, and together they have $\\boxed{@}$.",
    "Alternatively, we could have multiplied first: $3 \\times 4 = @$. So the answer is @.",
    "The problem likely intends whole apples, so we round down. The answer is $\\boxed{@}$.",
    "Should we include the endpoints? The problem says \"from 1 to 12 inclusive\", so yes. The answer is $\\boxed{@}$.",
    "We can use either the formula or direct counting. Using the formula, $\\binom{4}{2} \\cdot 2 = @$.\n\n$\\boxed{@}$",
    "I might have double-counted, so let me recount: 5 red + 7 blue = @. No double counting.\n\nThe answer is $\\boxed{@}$.",
    "So the number of students who could attend is $\\boxed{@}$.",
    "The answer is $\\boxed{@}$. This might seem large, but each of the 3 bags holds 4 apples.",
    "Let me reconsider. Maybe I made an error in step 2. No: $3 \\times 4 = @$ is right.\n\nThe answer is $\\boxed{@}$.",
    "The answer is @. (Whether or not she eats the apple first does not matter.)",
]:
    pair("hedge_words_ok", t, "12")
# The hedge is about the answer itself: no answer under the documented policy.
for t in ["The answer is probably $\\boxed{@}$.", "I'm not sure, but the answer is likely @.",
          "The answer is $\\boxed{@}$, or maybe 14.", "My best guess is $\\boxed{@}$."]:
    add("hedge_about_answer", fill(t, "12"), "12", False,
        "policy: a hedge about the answer itself is no answer (a grader might give 1)")
    add("hedge_about_answer", fill(t, "13"), "12", False)

# ---- true equations, approximations, congruences
for t, gold, right, wrong in [
    ("$\\sqrt{144} = @0$, so the side length is $\\boxed{@0}$.", "12", ("12",), ("13",)),
    ("The side length is $\\sqrt{@0} = @1$.", "12", ("144", "12"), ("169", "13")),
    ("The answer is $@0 \\approx @1$.", "12", ("12", "12.0"), ("13", "13.0")),
    ("So the mean is $\\frac{36}{3} = @0 \\approx @1$.", "12", ("12", "12.0"), ("13", "13.0")),
    ("Since $13 \\cdot 17 = 221 = 10 \\cdot 22 + 1$, we get $13^{-1} \\equiv @0 \\pmod{22}$.\n\nThe answer is $\\boxed{@0}$.",
     "17", ("17",), ("19",)),
    ("So $13^{-1} \\equiv @0 \\pmod{22}$.", "17", ("17",), ("19",)),
    ("Therefore $x \\equiv @0 \\pmod{7}$.", "3", ("3",), ("4",)),
    ("$17 \\equiv @0 \\pmod 5$, so the remainder is $\\boxed{@0}$.", "2", ("2",), ("3",)),
    ("Since $2 \\equiv -1 \\pmod 3$, $2^{100} \\equiv (-1)^{100} = @0 \\pmod 3$. The remainder is $@0$.", "1",
     ("1",), ("2",)),
    ("The remainder is $2^{100} \\equiv @0 \\pmod{3}$.", "1", ("1",), ("2",)),
    ("$2^{10} = @0$, so the answer is $\\boxed{@0}$.", "1024", ("1024",), ("1023",)),
    ("$\\boxed{\\frac{6}{12} = @0}$", "\\frac{1}{2}", ("\\frac{1}{2}",), ("\\frac{1}{3}",)),
    ("The answer is $3 \\times 4 = @0$.", "12", ("12",), ("13",)),
    ("So there are $\\binom{4}{2} = @0$ pairs.", "6", ("6",), ("8",)),
    ("The probability is $\\frac{1}{2} = @0$.", "\\frac{1}{2}", ("0.5",), ("0.6",)),
    ("So there are $\\frac{7!}{5!} = @0$ arrangements.", "42", ("42",), ("35",)),
    ("The area is $\\pi \\cdot 6^2 = @0 \\approx @1$.", "36\\pi", ("36\\pi", "113.1"), ("12\\pi", "37.7")),
    ("$x = \\frac{-b}{2a} = \\frac{24}{2} = @0$.", "12", ("12",), ("13",)),
    ("$\\boxed{@0 = 12.0}$", "12", ("12",), ("13",)),
    ("The answer is $\\boxed{x = @0}$.", "12", ("12",), ("13",)),
    ("Hence $a^2 + b^2 = 9 + 16 = @0$, and $c = \\sqrt{@0} = @1$.", "5", ("25", "5"), ("36", "6")),
    ("$\\log_2 @0 = @1$, so the answer is $@1$.", "5", ("32", "5"), ("64", "6")),
    ("So $\\frac{1}{3} \\approx @0$.", "0.333", ("0.333",), ("0.334",)),
    ("The probability is $\\frac{5}{36} \\approx @0$.\n\n$\\boxed{\\frac{5}{36}}$", "\\frac{5}{36}", ("0.139",),
     None),
    ("$\\boxed{@0}$\n\n(Note: $@0 = 2^2 \\cdot 3$.)", "12", ("12",), ("13",)),
    ("The answer is $@0$ since $@0^2 = @1$.", "12", ("12", "144"), ("13", "169")),
    ("We get $5! / (2! \\cdot 3!) = @0$.\n\n**Answer:** $\\boxed{@0}$", "10", ("10",), ("20",)),
    ("The sum is $1 + 2 + \\cdots + 10 = \\frac{10 \\cdot 11}{2} = @0$.", "55", ("55",), ("56",)),
    ("$7 \\cdot 8 = @0 \\equiv @1 \\pmod{10}$, so the units digit is $\\boxed{@1}$.", "6", ("56", "6"),
     ("54", "4")),
    ("The answer is $\\boxed{@0}$, since $\\gcd(36, 48) = @0$.", "12", ("12",), ("13",)),
]:
    if wrong is None:
        add("true_eq", fill(t, right), gold, True)
        continue
    pair("true_eq", t, gold, right, wrong)

# ---- units and text with the answer
for t, gold in [
    ("$\\boxed{@ \\text{ apples}}$", "12"), ("$\\boxed{@\\text{ cm}}$", "12"), ("The answer is $\\boxed{\\$@}$.", "12"),
    ("$\\boxed{@ \\text{ minutes}}$", "12"), ("**Answer:** @ apples", "12"), ("The answer is @ cm².", "12"),
    ("$\\boxed{@^\\circ}$", "12"), ("$\\boxed{\\text{@ apples}}$", "12"), ("$\\boxed{@\\ \\text{km/h}}$", "12"),
    ("The answer is \\$@.00.", "12"), ("$\\boxed{@ \\, \\text{m}^2}$", "12"), ("So she needs **@ eggs**.", "12"),
    ("She earns $\\boxed{\\$@ \\text{ per hour}}$.", "12"), ("$\\boxed{@\\text{ square units}}$", "12"),
    ("The answer is $@$ dollars.\n\n$\\boxed{@}$", "12"), ("**Final Answer:** @ students", "12"),
    ("The train takes $\\boxed{@\\text{ hours}}$.", "12"), ("$\\boxed{@ \\text{ years old}}$", "12"),
    ("$\\boxed{\\text{@ cookies}}$", "12"), ("The perimeter is $\\boxed{@}$ units.", "12"),
    ("#### @ apples", "12"), ("<answer>@ apples</answer>", "12"), ("Answer: @ km", "12"),
]:
    pair("units", t, gold)
for t, gold, right, wrong in [
    ("$\\boxed{\\$@0}$", "1200", ("1{,}200",), ("1{,}300",)),
    ("The answer is $\\boxed{@0\\%}$.", "12\\%", ("12",), ("13",)),
    ("So the interest is \\$@0.\n\n**Answer:** \\$@0", "1200", ("1,200",), ("1,300",)),
]:
    pair("units", t, gold, right, wrong)

# ---- multi-part answers where the gold is a list
for t, gold, right, wrong in [
    ("The solutions are $x = @0$ and $x = @1$.\n\n$\\boxed{@0, @1}$", "2, 3", ("2", "3"), ("2", "4")),
    ("The solutions are $\\boxed{@0}$ and $\\boxed{@1}$.", "2, 3", ("2", "3"), ("2", "4")),
    ("Therefore $x = \\pm @0$.", "-2, 2", ("2",), ("3",)),
    ("**(a)** The total is @0.\n**(b)** The difference is @1.\n\n**Answers:** (a) @0, (b) @1", "12, 15",
     ("12", "15"), ("12", "16")),
    ("**Final Answer**\nThe solutions are $\\boxed{@0}$ and $\\boxed{@1}$.", "1, 3", ("1", "3"), ("1", "4")),
    ("So $x = @0$ and $y = @1$.", "(3, 4)", ("3", "4"), ("4", "3")),
    ("<answer>@0, @1</answer>\n\nSo $\\boxed{@0, @1}$.", "2, 3", ("2", "3"), ("2", "5")),
    ("The answer is $x = @0$ or $x = @1$.", "2, 3", ("2", "3"), ("2", "5")),
    ("Factoring, $(x - @0)(x - @1) = 0$, so $x = @0$ or $x = @1$.\n\n**Answer:** $x = @0, @1$", "2, 3",
     ("2", "3"), ("2", "5")),
    ("The roots are $@0$ and $@1$.\n\nFinal Answer: The final answer is $@0, @1$. I hope it is correct.", "2, 3",
     ("2", "3"), ("2", "5")),
    ("(a) $\\boxed{@0}$\n\n(b) $\\boxed{@1}$", "12, 15", ("12", "15"), ("12", "16")),
    ("The intersection points are $(@0, 4)$ and $(@1, 1)$.\n\n$\\boxed{(@0, 4), (@1, 1)}$", "(2, 4), (1, 1)",
     ("2", "1"), ("2", "3")),
    ("The solutions are $x = @0$ and $x = @1$. Checking both in the original equation, both work.\n\n"
     "**Answer:** $x = @0$ and $x = @1$", "-1, 4", ("-1", "4"), ("-1", "5")),
    ("**Answer:** $a = @0$, $b = @1$", "a = 2, b = 5", ("2", "5"), ("2", "6")),
]:
    pair("multipart", t, gold, right, wrong)

# ---- an answer tag and a box that agree
for t, gold, right, wrong in [
    ("<think>3 bags of 4 apples.</think>\nThe answer is $\\boxed{@0}$.\n<answer>@0</answer>", "12", ("12",), ("13",)),
    ("<answer>\\boxed{@0}</answer>", "12", ("12",), ("13",)),
    ("<answer>The answer is @0.</answer>", "12", ("12",), ("13",)),
    ("<answer>@0</answer>\n\nThus $\\boxed{@0}$.", "12", ("12",), ("13",)),
    ("<answer>@0</answer>\n\nThe answer is $\\boxed{@1}$.", "\\frac{1}{2}", ("\\frac{1}{2}", "0.5"),
     ("\\frac{1}{3}", "0.3")),
    ("<answer>x = @0</answer>", "12", ("12",), ("13",)),
    ("<answer>\n$\\boxed{@0}$\n</answer>", "12", ("12",), ("13",)),
    ("The answer is $\\boxed{@0}$.\n\n<answer>@0 apples</answer>", "12", ("12",), ("13",)),
    ("#### @0\n<answer>@0</answer>", "12", ("12",), ("13",)),
    ("<answer>@0</answer>\n#### @0", "12", ("12",), ("13",)),
    ("<think>\nLet me compute: 3 × 4 = 12... wait, she has 3 bags of 4, so 12. Then she eats none.\n</think>\n"
     "<answer>\nShe has $3 \\times 4 = @0$ apples, so the answer is $\\boxed{@0}$.\n</answer>", "12", ("12",), ("13",)),
    ("<answer>$@0$</answer>\n\n**Final Answer:** $\\boxed{@0}$", "12", ("12",), ("13",)),
    ("<answer>@0</answer>\n\nFinal Answer: The final answer is $@0$. I hope it is correct.", "12", ("12",), ("13",)),
]:
    pair("tag_box", t, gold, right, wrong)

# ---- answers inside Markdown tables and bullet lists
for t in [
    "| Step | Value |\n|---|---|\n| Apples bought | 15 |\n| Apples eaten | 3 |\n| **Answer** | **@** |",
    "- Red: 5\n- Blue: 7\n- **Total: @**",
    "| Quantity | Value |\n|---|---|\n| Total | @ |\n\nSo the answer is **@**.",
    "1. Red marbles: 5\n2. Blue marbles: 7\n\n**Answer:** @",
    "- **Final answer:** @",
    "* Total = 5 + 7 = @",
    "| $x$ | $f(x)$ |\n|---|---|\n| 1 | 3 |\n| 2 | @ |\n\nSo $f(2) = @$.",
    "**Summary:**\n- Monday: 5\n- Tuesday: 7\n- Total: **@**",
    "| Day | Apples |\n|-----|--------|\n| Mon | 5 |\n| Tue | 7 |\n| **Total** | **@** |\n\n**Answer:** $\\boxed{@}$",
    "Key results:\n\n- Total apples: $@$\n- Answer: $\\boxed{@}$",
    "- Step 1: $3 \\times 4 = @$\n- Step 2: no apples are removed.\n\n**Final answer:** @",
    "| Item | Cost |\n|:--|--:|\n| Pen | \\$5 |\n| Book | \\$7 |\n| **Total** | **\\$@** |",
]:
    pair("table_list", t, "12")

# ---- HTML and Markdown formatting
for t in [
    "### Final Answer\n@", "### Final Answer\n$\\boxed{@}$", "<b>Answer:</b> @", "**The answer is @.**",
    "## Answer\n\nThe number of apples is **@**.", "**Final Answer:** **@**", "<p>The answer is <b>@</b>.</p>",
    "# Solution\nShe has 3 bags of 4 apples.\n\n## Final answer\n\n**@**", "***Answer: @***", "> **Answer:** @",
    "**Answer**: $\\boxed{@}$", "The answer is <strong>@</strong>.", "Final answer: `@`",
    "### Final Answer\n\nThe final answer is $\\boxed{@}$.", "## Final Answer\n**@ apples**",
    "<h3>Final Answer</h3>\n<p>@</p>", "**Final Answer**\n\n> $\\boxed{@}$", "Answer: *@*",
    "---\n\n**Answer: $@$**\n\n---", "<div><b>Final answer:</b> @</div>", "### ✅ Final Answer:\n$$\n\\boxed{@}\n$$",
    "**✅ Answer: @**", "$$\\boxed{\\textbf{@}}$$", "The answer is $\\mathbf{@}$.",
]:
    pair("formatting", t, "12")

# ---- the answer after </think>, the think block holding other values
for t in [
    "<think>\nLet me try 13... no, that counts the post twice. 11? Too few. So 12.\n</think>\n\nThe answer is $\\boxed{@}$.",
    "<think>First guess 10. Then 14. Recount: 12.</think>\n\n**Answer:** @",
    "<think>\nThe answer is \\boxed{13}. Wait, I made an error in the count.\n</think>\n\n$\\boxed{@}$",
    "<think>Maybe 13? Alternatively 11. Hmm.</think>\nThere are @ apples.",
    "<think>\nOkay, so 5 + 7 = 12. Alternatively maybe 13? No.\n</think>\n\nThe total is $5 + 7 = @$.\n\n$$\\boxed{@}$$",
    "<think>\n15 - 3 = 12. But maybe it is 15? No, she ate 3.\n</think>\n\n@",
    "<think>\nHmm, the answer could be 11 or 13, let me compute carefully... 3 × 4 = 12.\n</think>\n\n"
    "To solve this, multiply the number of bags by the apples per bag: $3 \\times 4 = @$.\n\n**Final Answer**\n\\[\\boxed{@}\\]",
    "<think>\n<answer>13</answer> is what I first thought, but no.\n</think>\n<answer>@</answer>",
    "<think>\nPossibly 24? No, that's double. Probably 12.\n</think>\n\nThe answer is @.",
    "<think>\nx^2 = 169 gives 13, but the equation is x^2 = 144.\n</think>\n\nThus $x^2 = 144$ and $x = @$.",
    "<think>Let me check: #### 13? no.</think>\n#### @",
    "Okay, let's see. 3 bags of 4 apples. Maybe 7? No, multiply: 12.\n</think>\n\nShe has $\\boxed{@}$ apples.",
]:
    pair("think", t, "12")

# ---- GSM8K and MATH chat styles, calculator annotations and long solutions
for t, gold, right, wrong in [
    ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=@0>>@0 every day at the "
     "farmer's market.\n#### @0", "18", ("18",), ("20",)),
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $@0 every day.\nThe answer is @0.", "18",
     ("18",), ("20",)),
    ("Let's think step by step. 3 bags × 4 apples = @0 apples. The answer is @0.", "12", ("12",), ("13",)),
    ("Step 1: 3 × 4 = @0.\nStep 2: Nothing is removed.\nTherefore, the answer is @0.", "12", ("12",), ("13",)),
    ("We have $x + y = 10$ and $x - y = 2$. Adding, $2x = 12$, so $x = 6$ and $y = 4$. Then $xy = @0$.\n\n"
     "Final Answer: The final answer is $@0$. I hope it is correct.", "24", ("24",), ("25",)),
    ("The answer is $\\boxed{@0}$.\n\nFinal Answer: The final answer is $@0$. I hope it is correct.",
     "\\frac{3}{5}", ("\\frac{3}{5}",), ("\\frac{2}{5}",)),
    ("By Vieta's formulas, the sum of the roots is $@0$.\n\nSo the answer is $\\boxed{@0}$.", "-5", ("-5",),
     ("5",)),
    ("**Step 1.** Total cost: $3 \\times \\$4 = \\$12$.\n**Step 2.** Change: $\\$20 - \\$12 = \\$@0$.\n\n"
     "**Answer:** She gets **\\$@0** back.", "8", ("8",), ("9",)),
    ("The interval is $\\boxed{@0}$.\n\nSo $x \\in @0$.", "[1, 5)", ("[1, 5)",), ("[1, 5]",)),
    ("The vertex is at $(@0, -1)$.\n\n**Final Answer**\n$\\boxed{(@0, -1)}$", "(2, -1)", ("2",), ("3",)),
    ("So the answer is (B) $@0$.\n\n$\\boxed{B}$", "B", ("12",), None),
    ("Expanding, $f(x) = @0$.\n\n$\\boxed{@0}$", "x^2 + 2x + 1", ("x^2 + 2x + 1",), ("x^2 + 2x - 1",)),
    ("The time is $\\boxed{@0}$.\n\nSo he arrives at @0.", "3:45", ("3:45",), ("3:50",)),
    ("So the answer is $@0$, which is about $6.93$.\n\n$\\boxed{@0}$", "4\\sqrt{3}", ("4\\sqrt{3}",),
     ("3\\sqrt{4}",)),
]:
    if wrong is None:
        add("chat", fill(t, right), gold, True)
        continue
    pair("chat", t, gold, right, wrong)

# ---- second wave: words around the answer that commit, words of the problem, closing remarks
for t in [
    "So, the answer should be @.", "I believe the answer is @.", "So it must be @.", "So the answer would be @.",
    "Therefore, I think the answer is $\\boxed{@}$.", "So, the final answer is @.\n\n**Final Answer**\n\\[ \\boxed{@} \\]",
    "The largest possible value of $x$ is $\\boxed{@}$.", "The maximum possible number of cakes is @.",
    "So she could bake at most @ cakes.\n\n**Answer:** @", "The largest value $n$ could take is $\\boxed{@}$.",
    "There are @ possible outcomes.", "The number of possible values is $\\boxed{@}$.",
    "Perhaps surprisingly, the answer is @.", "The most likely sum is @.",
    "The smallest possible perimeter is $\\boxed{@}$.", "So the minimum possible value is $@$.",
    "The answer is $\\boxed{@}$. I hope this is correct!", "The answer is $\\boxed{@}$.\n\nLet me know if you have any questions.",
    "**Answer: @** ✅", "The answer is @. ✓", "The answer is $\\boxed{@}$ (option C).",
    "The answer is $\\boxed{@}$.\n\nCheck: $@ + 13 = 25$ ✓",
    "The answer is $\\boxed{@}$. (My first attempt gave 14 because I double-counted.)",
    "The answer is $\\boxed{@}$.\n\n(I initially got 14, but that double-counted the corner.)",
    "$\\boxed{@}$ (or equivalently $\\frac{24}{2}$)",
    "So she has @ apples left, or 3 fewer than she started with.", "$\\boxed{3 \\times 4 = @}$", "$\\boxed{@ = 3 \\times 4}$",
    "$\\boxed{n = @}$", "$\\boxed{AB = @}$", "$\\boxed{\\text{@}}$", "$\\boxed{@ \\text{ (apples)}}$",
    "The answer is $\\boxed{@}$. This is probably the intended reading, since the problem says whole apples.",
    "The answer is $\\boxed{@}$.\n\nAlternatively, if we count the corner posts separately, we still get $8 + 4 = @$.",
    "**Final Answer**\n\\boxed{@}\n\n**Explanation:** 3 bags of 4 apples each give 12 apples, and none are eaten.",
    "**Answer: @**\n\nExplanation: She starts with 20, gives away 8, and is left with 12.",
    "So the answer is $@$.\n\nThis makes sense: 12 is between 10 and 15, and it is divisible by both 3 and 4.",
    "So the answer is $\\boxed{@}$.\n\nWe can double-check: $@ / 4 = 3$ bags. Correct!",
    "The answer is $\\boxed{@}$.\n\nAlternatively: $2 \\times 6 = @$. Same result. ✓",
    "Or, more directly: $3 \\times 4 = @$.\n\n**Answer:** $\\boxed{@}$",
    "The total is $5 + 7 = @$ marbles, or 6 pairs.\n\n$\\boxed{@}$",
    "Both outcomes are equally likely, so there are $\\boxed{@}$ outcomes in all.",
    "Answer: @ (that's 3 bags of 4)",
    "**Final answer:** $\\boxed{@}$\n\n**Why this is right:** each of the 3 bags holds 4 apples, and $3 \\cdot 4 = @$. "
    "Another way: $4 + 4 + 4 = @$. Either way we get $@$.",
    "$$\\boxed{@}$$\n\nThe number of apples is $@$, which could also be written as $2^2 \\cdot 3$.",
]:
    pair("wave2", t, "12")
for t, gold, right, wrong in [
    ("The answer is $\\boxed{@0}$ (≈ $@1$).", "\\frac{1}{3}", ("\\frac{1}{3}", "0.333"), ("\\frac{1}{4}", "0.25")),
    ("$\\boxed{@0}$\n\nAs a decimal, $@1$.", "50\\%", ("50\\%", "0.5"), ("25\\%", "0.25")),
    ("$\\boxed{@0}$\n\n...\n\n$\\boxed{@1}$", "\\frac{1}{2}", ("\\frac{1}{2}", "0.5"), ("\\frac{1}{3}", "0.3")),
    ("The answer is (C) @0.", "C", ("12",), None),
    ("The answer is $\\boxed{\\text{(C) } @0}$.", "C", ("12",), None),
    ("The answer is approximately $@0$.", "3.14", ("3.14",), ("3.15",)),
    ("The answer is $\\boxed{@0}$.\n\nNote: $\\pi \\approx 3.14159$, so this is about $@1$.", "2\\pi",
     ("2\\pi", "6.28"), ("3\\pi", "9.42")),
    ("Thus $x = @0$ and $y = 2x = @1$.\n\n**Answer:** $x = @0$", "12", ("12", "24"), ("13", "26")),
    ("Therefore, $AB = @0$.\n\n**Final Answer**\n\\[ AB = \\boxed{@0} \\]", "12", ("12",), ("13",)),
    ("\\[\n\\boxed{x = @0}\n\\]\n\nThus $x = @0$, and substituting back, $3x - 6 = 30$ ✓.", "12", ("12",), ("13",)),
]:
    if wrong is None:
        add("wave2", fill(t, right), gold, True)
        continue
    pair("wave2", t, gold, right, wrong)
# Offered as a second reading, not the answer: no answer under the documented policy.
for t in ["The answer is $\\boxed{@}$.\n\n**Note:** If the problem intended 4 bags, the answer would be 16.",
          "The answer is $\\boxed{@}$ (or 16 if the ends are counted)."]:
    add("hedge_about_answer", fill(t, "12"), "12", False,
        "policy: a second value offered for another reading is no answer (a grader might give 1)")
    add("hedge_about_answer", fill(t, "13"), "12", False)

# ---- third wave: an answer label followed by a sentence, lists of equations, restatements
for t, gold, right, wrong in [
    ("**Answer:** She has @0 apples left.", "12", ("12",), ("13",)),
    ("Answer: Tom is @0 years old.", "12", ("12",), ("13",)),
    ("**Final answer:** The train travels @0 miles.", "120", ("120",), ("130",)),
    ("**Answer:** She gets **\\$@0** back.", "8", ("8",), ("9",)),
    ("**Answer:** There are $@0$ ways to arrange the books.", "720", ("720",), ("360",)),
    ("Final Answer: Janet makes \\$@0 every day at the farmers' market.", "18", ("18",), ("20",)),
    ("**Answer:** The tank holds @0 liters.", "1200", ("1,200",), ("1,300",)),
    ("Answer: It takes @0 minutes.", "45", ("45",), ("40",)),
    ("**Final Answer:** The smallest such number is $\\boxed{@0}$.", "12", ("12",), ("13",)),
    ("**Answer:** The probability is $@0$.", "\\frac{1}{6}", ("\\frac{1}{6}",), ("\\frac{1}{5}",)),
    ("Answer: She needs to buy @0 more packs of paper.", "3", ("3",), ("4",)),
    ("**Answer:** John ran @0 km in total, which is 3 km more than Mary.", "15", ("15",), ("16",)),
]:
    pair("label_sentence", t, gold, right, wrong)
# Not one committed value: the sentence after the label gives two numbers or a bound.
for c, gold in [("**Answer:** She has 12 apples and 3 pears.", "12"),
                ("Answer: She has at least 12 apples.", "12"), ("Answer: It is not 12.", "12"),
                ("**Answer:** She has 12 or 13 apples.", "12")]:
    add("label_sentence", c, gold, False, "two values, a bound or a negation: no single answer")
for t, gold, right, wrong in [
    ("**Answer:**\n- $x = @0$\n- $x = @1$", "2, 3", ("2", "3"), ("2", "4")),
    ("1. $x = @0$\n2. $x = @1$", "2, 3", ("2", "3"), ("2", "4")),
    ("The solutions are:\n\n- $x = @0$\n- $x = @1$", "-1, 4", ("-1", "4"), ("-1", "5")),
    ("**Final Answer**\n\n* $x_1 = @0$\n* $x_2 = @1$", "2, 3", ("2", "3"), ("2", "4")),
    ("- Part (a): $@0$\n- Part (b): $@1$", "12, 15", ("12", "15"), ("12", "16")),
    ("**Answers:**\n- (a) @0\n- (b) @1", "12, 15", ("12", "15"), ("12", "16")),
    ("**Part (a):** $\\boxed{@0}$\n\n**Part (b):** $\\boxed{@1}$", "12, 15", ("12", "15"), ("12", "16")),
]:
    pair("list_lines", t, gold, right, wrong)
for t, gold, right, wrong in [
    ("So the answer is @0, or in other words, a dozen.", "12", ("12",), None),
    ("$\\boxed{@0}$\n\nThe number of apples is $@0$, which could also be written as $2^2 \\cdot 3$.", "12",
     ("12",), ("13",)),
    ("The answer is $\\boxed{@0}$, which can also be written as $@1$.", "\\frac{1}{2}", ("\\frac{1}{2}", "0.5"),
     ("\\frac{1}{3}", "0.3")),
    ("The answer is @0.\n\nNote: one could also argue the answer is the same with 4 bags of 3, since $4 \\times 3 = @0$.",
     "12", ("12",), ("13",)),
    ("So the answer is $\\boxed{@0}$. Another way to see that the answer is the same: $4 \\times 3 = @0$.", "12",
     ("12",), ("13",)),
    ("The answer is $\\boxed{@0}$. We could equivalently express this as $@1$.", "\\frac{3}{4}",
     ("\\frac{3}{4}", "0.75"), ("\\frac{2}{3}", "0.67")),
    ("The answer is __@0__.", "12", ("12",), ("13",)),
    ("Thus the answer is @0 apples (a dozen).", "12", ("12",), None),
]:
    if wrong is None:
        add("restate_more", fill(t, right), gold, True)
        continue
    pair("restate_more", t, gold, right, wrong)
# A value that would be offered for another reading, and one that could be written as another value.
add("hedge_about_answer", "The answer is $\\boxed{12}$, which could also be written as $13$.", "12", False,
    "a false restatement offers a second value: no answer")

# ---- fourth wave: checks after the solved value, restatements offered as math, sentences in tags
# and boxes, parts in a table, a box per root then the list, words of certainty
for t in [
    "Therefore, $x = @$ (and $x^2 = 144$ checks out).", "So $x = @$, and indeed $3x = 36$.",
    "The answer is $@$. Indeed, $@ \\cdot 3 = 36$.", "The answer is $\\boxed{@}$.\n\nIndeed, $@ = 3 \\times 4$.",
    "So the answer is $\\boxed{@}$ (alternatively, $3 \\times 4$).", "$\\boxed{\\text{She has @ apples.}}$",
    "<answer>The total number of apples is @.</answer>", "<answer>She has @ apples.</answer>",
    "The answer is definitely @.", "The answer is clearly $\\boxed{@}$.",
    "From $x^2 = 144$ and $x > 0$, we get $x = @$.", "Thus $2x = 24$ and so $x = @$.",
    "The answer is $\\boxed{@}$.\n\nAlternatively: $36 / 3 = @$.",
    "The final answer is $\\boxed{@}$. Alternatively, one could write this as $\\boxed{@.0}$.",
    "**Final Answer**\n\n\\boxed{@}\n\n---\n\n**Verification:**\n- 3 bags × 4 apples = @ ✓\n- None eaten ✓",
    "So the answer is $\\boxed{@}$.\n\nWait, let me double-check. 3 × 4 = @. Yes.",
    "It could be tempting to say 11, but the answer is @.",
    "There might be 11 if we skipped the endpoint, but we don't, so there are @.",
    "<think>\nThe answer might be 13. Let me check: 3 × 4 = 12, so 12.\n</think>\n\n@ apples.",
    "The answer should be @.", "So it seems the answer is @.", "I'm fairly confident the answer is @.",
]:
    pair("wave4", t, "12")
for t, gold, right, wrong in [
    ("The roots are $\\boxed{@0}$ and $\\boxed{@1}$.\n\n**Final Answer**\n$\\boxed{@0, @1}$", "2, 3", ("2", "3"),
     ("2", "4")),
    ("**Answers:**\n\n| Part | Answer |\n|---|---|\n| (a) | @0 |\n| (b) | @1 |", "12, 15", ("12", "15"),
     ("12", "16")),
    ("The answer is $@0$, or equivalently $@1$.", "0.5", ("\\frac{1}{2}", "0.5"), ("\\frac{1}{3}", "0.3")),
    ("So $13 \\cdot 17 \\equiv 1 \\pmod{22}$, and the inverse is $\\boxed{@0}$.", "17", ("17",), ("19",)),
    ("The answer is $\\boxed{\\sqrt{144} = @0}$.", "12", ("12",), ("13",)),
    ("The answer is $\\pi \\approx @0$.", "3.14", ("3.14",), ("3.15",)),
    ("The answer is $@1$. Wait, it's $@0$.", "12", ("12", "13"), ("13", "12")),
]:
    pair("wave4", t, gold, right, wrong)
# Hedges and second values the new readings must not open.
for c in ["The answer is 12. Maybe 13.", "The answer is $\\boxed{12}$. Maybe 13.", "The answer is $12$. Indeed, $13$.",
          "<answer>She has 12 apples, maybe 13.</answer>", "<answer>She has 12 or 13 apples.</answer>",
          "$\\boxed{12}$ (alternatively, $13$)", "\\boxed{12} \\boxed{12, 13}", "The answer is 12. The answer is the same as 13.",
          "**Answer:** She has 12 apples. Maybe 13.", "$\\boxed{\\text{She has 12 or 13 apples.}}$",
          "| (a) | 12 |\n| (b) | 15 |"]:
    add("hedge_about_answer", c, "12" if "15" not in c else "15", False,
        "a second value offered or a retraction: no answer, or not this one")

# ---- fifth wave: long answers with summaries and checks, roots rejected by a condition, tuples and
# lists one per line, HTML, think blocks (the wrong twin writes 13 for 12 everywhere)
for c in [
    "Let me solve this step by step.\n\n**Step 1:** 3 bags × 4 apples = 12 apples.\n\n**Step 2:** None are eaten.\n\n**Final Answer:** 12 apples\n\nThis makes sense because 3 × 4 = 12.",
    "**Final Answer**\n\nThe final answer is $\\boxed{12}$. \n\nNote: This assumes no apples were eaten; if 3 were eaten, we would subtract them.",
    "Thus there are $\\boxed{12}$ apples.\n\n---\n\n### Summary\n- Bags: 3\n- Apples per bag: 4\n- Total: 3 × 4 = **12**",
    "Answer: **12**\n\nReasoning: 3 bags with 4 apples each gives 3 × 4 = 12.",
    "**Answer: 12 apples**\n\n**Explanation:**\n1. She buys 3 bags.\n2. Each bag has 4 apples.\n3. 3 × 4 = 12.",
    "Therefore, the number of apples is $\\boxed{12}$.\n\n**Double-check:** $12 \\div 4 = 3$ bags ✓",
    "$x = 12$\n\nCheck: $2(12) + 1 = 25$ ✓",
    "The value of $x$ is $12$.\n\n**Verification:** $3(12) - 6 = 30$. ✓",
    "So $x = 12$.\n\nLet's verify: $3x - 6 = 3(12) - 6 = 36 - 6 = 30$. ✓",
    "The answer is $\\boxed{12}$.\n\nTo verify: if $x = 12$, then $x^2 = 144$. ✓",
    "Solving, we get $x = 12$.\n\nSubstituting back: $x^2 - 144 = 0$ ✓.",
    "Thus $x = 12$.\n\nAlternatively, we could note that $x^2 = 144$ directly gives $x = 12$ (taking the positive root).",
    "Hence, $x = 12$. (We discard $x = -12$ since $x$ is a length.)",
    "The solutions are $x = 12$ and $x = -12$, but since $x > 0$, $x = 12$.",
    "We reject $x = -12$ because lengths are positive, so $x = 12$.",
    "So $x = 12$ or $x = -12$. Since $x$ is positive, the answer is $12$.",
    "$x = -12$ is extraneous, so $x = \\boxed{12}$.",
    "The quadratic gives $x = 12$ or $x = -2$; only $x = 12$ is positive.",
    "The possible values are 12 and -2, but only 12 works. The answer is 12.",
    "Case 1: $x = 12$. Case 2: $x = -2$ (rejected). So $x = 12$.",
    "<p><strong>Answer:</strong> 12</p>",
    "<div class=\"answer\">12</div>",
    "<span>The answer is <b>12</b></span>",
    "<h2>Final Answer</h2>\n<p>$\\boxed{12}$</p>",
    "<br>Answer: 12<br>",
    "The answer is <u>12</u>.",
    "The answer is <em>12</em>.",
    "# Answer\n\n12",
    "**Answer**\n12",
    "Final Answer\n12",
    "> The answer is **12**.",
    "***\n**12**\n***",
    "✅ **12**",
    "🎯 Final answer: **12**",
    "$\\color{blue}{\\boxed{12}}$",
    "$\\textcolor{red}{12}$",
    "$\\mathbf{12}$",
    "\\(\\boxed{12}\\)",
    "**Answer:** \\(12\\)",
    "<think>\nI think it's 11. No wait, 12. Maybe 13? No, 12.\n</think>\nThe answer is 12.",
    "<think>\nLet me see... maybe 10, or 14, or something. Actually, 3 × 4 = 12.\n</think>\n\n**Answer: 12**",
    "<think>\n\\boxed{11}\n\\boxed{13}\n</think>\n\nAfter careful calculation, the answer is $\\boxed{12}$.",
    "<think>The answer is 13? Hmm.</think>\n\n<answer>12</answer>",
    "</think>\n\n12",
    "Okay, so I need to find... 12. Yeah.\n</think>\n\nThe answer is 12.",
]:
    pair("wave5", c.replace("12", "@"), "12")
for c, gold, wrong in [
    ("The roots are $x=2$ and $x=3$.", "2, 3", "The roots are $x=4$ and $x=3$."),
    ("$x = 2, 3$", "2, 3", "$x = 4, 3$"),
    ("$x \\in \\{2, 3\\}$", "2, 3", "$x \\in \\{4, 3\\}$"),
    ("The solutions are $2$ and $3$.", "2, 3", "The solutions are $4$ and $3$."),
    ("**Answer:** $x = 2$ or $x = 3$", "2, 3", "**Answer:** $x = 4$ or $x = 3$"),
    ("Thus, $x = 2$ and $x = 3$ are the solutions.", "2, 3", "Thus, $x = 4$ and $x = 3$ are the solutions."),
    ("The answer is $\\boxed{2}$ and $\\boxed{3}$.", "2, 3", "The answer is $\\boxed{4}$ and $\\boxed{3}$."),
    ("\\[ x = 2 \\quad \\text{or} \\quad x = 3 \\]", "2, 3", "\\[ x = 4 \\quad \\text{or} \\quad x = 3 \\]"),
    ("$$x_1 = 2, \\quad x_2 = 3$$", "2, 3", "$$x_1 = 4, \\quad x_4 = 3$$"),
    ("**Final Answer**\n\\\\[\n\\boxed{2} \\text{ and } \\boxed{3}\n\\\\]", "2, 3", "**Final Answer**\n\\\\[\n\\boxed{4} \\text{ and } \\boxed{3}\n\\\\]"),
    ("$\\boxed{(3, 4)}$\n\nSo $x = 3$ and $y = 4$.", "(3, 4)", "$\\boxed{(3, 5)}$\n\nSo $x = 3$ and $y = 5$."),
    ("The intersection point is $(3, 4)$, i.e., $x = 3$, $y = 4$.", "(3, 4)", "The intersection point is $(3, 5)$, i.e., $x = 3$, $y = 5$."),
    ("So $x = 3$, $y = 4$.\n\n**Answer:** $(x, y) = (3, 4)$", "(3, 4)", "So $x = 3$, $y = 5$.\n\n**Answer:** $(x, y) = (3, 5)$"),
    ("$x = 3$\n$y = 4$", "(3, 4)", "$x = 3$\n$y = 5$"),
    ("- $x = 3$\n- $y = 4$", "(3, 4)", "- $x = 3$\n- $y = 5$"),
]:
    add("wave5", c, gold, True)
    add("wave5", wrong, gold, False)

# ---- sixth wave: short o1-style endings, remarks and restatements after the answer (the twin writes
# 13 for 12)
for c in [
    "**Summary**\n\n| Item | Count |\n|---|---|\n| Bags | 3 |\n| Apples/bag | 4 |\n| Total | 12 |\n\nShe has 12 apples.",
    "## Solution\n\n1. Bags: 3\n2. Per bag: 4\n3. Total: $3 \\times 4 = 12$\n\n## Answer\n\n12",
    "**Key steps:**\n- $3 \\times 4 = 12$\n- No apples eaten\n\n**Result:** 12 apples",
    "**Final result:** 12",
    "Result: $\\boxed{12}$",
    "**Therefore, she has 12 apples.**",
    "So, in total, she has **12 apples**. 🍎",
    "Total apples = 3 × 4 = **12**",
    "She has 12 apples in total (3 bags × 4 apples each).",
    "She has 12 apples (3 × 4 = 12).",
    "The answer is 12 (since 3 × 4 = 12).",
    "**Answer: 12** (3 bags × 4 apples)",
    "So there are 12 apples. That's 3 bags times 4 apples per bag.",
    "So the total is 12, i.e., 3 × 4.",
    "Therefore: **12**",
    "∴ 12 apples",
    "$\\therefore x = 12$",
    "Final: 12 apples ✓",
    "=> 12",
    "**12** is the answer.",
    "12 is the final answer.",
    "The answer: 12.",
    "My final answer is 12.",
    "Our answer is $\\boxed{12}$.",
    "I get 12 as the final answer.",
    "The answer comes out to 12.",
    "This gives us a final answer of 12.",
    "So we end up with 12 apples.",
    "That leaves her with 12 apples, which is our answer.",
    "In conclusion, she has 12 apples.",
    "Putting it all together: 12.",
    "Hence, the required number is 12.",
    "The number of apples she has is twelve (12).",
    "She ends up with a dozen, i.e. 12 apples.",
    "$\\boxed{12}$ — that's 3 bags of 4.",
    "$\\boxed{12}$ (3 × 4)",
    "$\\boxed{12}$ (from $3 \\times 4$)",
    "$\\boxed{12}$, as computed above.",
    "$\\boxed{12}$, which matches our estimate of about 10–15.",
    "The answer is $\\boxed{12}$, which is between 10 and 15 as expected.",
]:
    pair("wave6", c.replace("12", "@"), "12")

if __name__ == "__main__":
    write()

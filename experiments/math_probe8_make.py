#!/usr/bin/env python3
"""Round 8 probe set for the math checker: competition-math (MATH / MATH-500 / AIME / AMC style)
answers in the closings reasoning models write (DeepSeek-R1, QwQ, Qwen2.5-Math): LaTeX with or
without \\boxed{}, after </think>, under "**Final Answer**", in \\[ \\] or align*, with \\displaystyle,
\\dfrac, \\mathrm{}, \\!, \\;, ~. Written fresh, not derived from tests/fixtures/reward/math_pairs.jsonl.
Each gold has right answers (often an unsimplified but equal form, which must be accepted) and wrong
ones (near misses: the conjugate, the reciprocal, a sign flip, a missing factor, an approximation of
an exact answer, the intermediate result, a subset / superset of a solution set, the other interval
end, another choice letter). Labels follow the policies in experiments/reward.md; where a label is a
policy rather than mathematics the note says so.

  python3 experiments/math_probe8_make.py > experiments/math_probe8.jsonl
  python3 experiments/probe_run.py math experiments/math_probe8.jsonl  # scores it with ./build/aha, prints disagreements
"""
import itertools

from probe_rows import add, write


THINK = ("<think>\nOkay, so I need to find this. Let me set up the equation first: $a = 3$, $b = 4$, "
         "so $a^2 + b^2 = 25$. Hmm, wait, that is only the first step.\n</think>\n\n")
DERIV = ("First, we note that $a + b = 7$ and $ab = 12$, so $a^2 + b^2 = 49 - 24 = 25$.\n\n")

# Closings for any answer (a value, a relation, an equation).
CLOSE = [
    r"Therefore, the answer is $\boxed{@}$.",
    THINK + "**Final Answer**\n\\[\n\\boxed{@}\n\\]",
    DERIV + r"The final answer is $@$. I hope it is correct.",
    THINK + "So the answer is \\(\\boxed{@}\\).",
    DERIV + "**Final Answer**\n\nThe answer is $\\boxed{@}$",
    r"Hence the answer is \(@\).",
    "</think>\n\nCombining the cases above, we get\n\\[\n@.\n\\]",
    THINK + "## Final Answer\n$\\boxed{@}$",
    DERIV + r"So, the answer is: $\boxed{@}$",
    r"Thus, the final answer is $\displaystyle @$.",
    THINK + "Thus, the answer is $$\\boxed{@}$$",
    "Putting it all together:\n\\[\n\\boxed{@}\n\\]\n\n**Final Answer**\n\\boxed{@}",
]
# Closings that only fit a value (the value follows "=").
VALUE_CLOSE = CLOSE + [
    DERIV + "\\begin{align*}\nS &= \\frac{a^2+b^2}{5} + \\cdots \\\\\n&= @\n\\end{align*}",
    "</think>\n\nSimplifying, \\[ S = @. \\]",
    THINK + "Therefore $S = \\boxed{@}$.",
    r"We conclude that $\displaystyle S = @$.",
]

cyc_close = itertools.cycle(CLOSE)
cyc_value = itertools.cycle(VALUE_CLOSE)


def case(group, gold, rights, wrongs, value=True, times=2, note=""):
    """Each right and each wrong answer in `times` closings, rotating through the closings."""
    cyc = cyc_value if value else cyc_close
    for v in rights:
        for _ in range(times):
            add(group, next(cyc).replace("@", v), gold, True, note)
    for v in wrongs:
        for _ in range(times):
            add(group, next(cyc).replace("@", v), gold, False, note)


# ---- radicals and rationalised forms
case("radical", r"\frac{\sqrt{2}}{2}", [r"\frac{1}{\sqrt{2}}", r"\dfrac{\sqrt2}{2}"], [r"\sqrt{2}", r"\frac{1}{2}"])
case("radical", r"\frac{\sqrt{3}}{3}", [r"\frac{1}{\sqrt3}", r"\tfrac{\sqrt{3}}{3}"], [r"\frac{\sqrt{3}}{2}", r"\sqrt{3}"])
case("radical", r"2\sqrt{5}", [r"\sqrt{20}", r"2 \sqrt{5}"], [r"\sqrt{10}", r"5\sqrt{2}"])
case("radical", r"\frac{3\sqrt{2}}{4}", [r"\frac{3}{2\sqrt{2}}"], [r"\frac{3\sqrt{2}}{2}", r"\frac{4}{3\sqrt{2}}"])
case("radical", r"\sqrt{6}-\sqrt{2}", [r"-\sqrt{2}+\sqrt{6}"], [r"\sqrt{6}+\sqrt{2}", r"\sqrt{2}-\sqrt{6}"])
case("radical", r"\frac{1+\sqrt{5}}{2}", [r"\frac{\sqrt5+1}{2}", r"\frac{1}{2}+\frac{\sqrt{5}}{2}"], [r"\frac{1-\sqrt{5}}{2}", r"1+\sqrt{5}"])
case("radical", r"4\sqrt[3]{2}", [r"\sqrt[3]{128}"], [r"2\sqrt[3]{4}"])
case("radical", r"\frac{\sqrt{6}}{3}", [r"\sqrt{\frac{2}{3}}"], [r"\frac{\sqrt{6}}{2}", r"0.816"])
case("radical", r"\sqrt{2}", [r"\sqrt{2} \approx 1.414"], [r"1.414", r"1.41"], note="policy: an approximation is not the exact answer")
case("radical", r"3\sqrt{3}", [r"3\!\sqrt{3}", r"\sqrt{27}"], [r"9\sqrt{3}"])

# ---- pi
case("pi", r"12\pi", [r"12 \pi", r"\pi \cdot 12", r"12\pi \text{ cm}^2"], [r"6\pi", r"37.7", r"12"])
case("pi", r"\frac{4}{3}\pi", [r"\frac{4\pi}{3}"], [r"\frac{3\pi}{4}", r"\frac{4}{3}"])
case("pi", r"2\pi - 4", [r"-4 + 2\pi", r"2(\pi-2)"], [r"4 - 2\pi", r"\pi - 4"])
case("pi", r"\frac{\pi}{4}", [r"\dfrac{\pi}{4}", r"\frac{1}{4}\pi"], [r"0.785", r"\frac{\pi}{2}"])
case("pi", r"\frac{\pi}{3}", [r"\frac{\pi}{3}"], [r"\frac{2\pi}{3}"])
case("pi", r"100\pi", [r"100\pi \, \text{cubic units}"], [r"100\pi^2", r"314"])

# ---- complex numbers
case("complex", r"3+4i", [r"4i+3", r"3 + 4i"], [r"3-4i", r"4+3i", r"5"])
case("complex", r"i\sqrt{2}", [r"\sqrt{2}i", r"\sqrt{2}\, i"], [r"-i\sqrt{2}", r"\sqrt{2}"])
case("complex", r"-1+2i", [r"2i-1", r"-1 + 2 i"], [r"1-2i", r"-1-2i"])
case("complex", r"\frac{1}{2}-\frac{\sqrt{3}}{2}i", [r"\frac{1-i\sqrt{3}}{2}"], [r"\frac{1}{2}+\frac{\sqrt{3}}{2}i"])
case("complex", r"2i", [r"2i"], [r"-2i", r"2"])
case("complex", r"\frac{7}{25}-\frac{24}{25}i", [r"\frac{7-24i}{25}"], [r"\frac{7+24i}{25}", r"7-24i"])

# ---- intervals and unions
case("interval", r"(-\infty, 3]", [r"(-\infty,3]", r"x \le 3", r"\left(-\infty, 3\right]"], [r"(-\infty, 3)", r"[3, \infty)"], value=False)
case("interval", r"[2, 5)", [r"2 \le x < 5", r"[2,5)"], [r"[2, 5]", r"(2, 5)"], value=False)
case("interval", r"(-\infty,-2)\cup(3,\infty)", [r"(-\infty, -2) \cup (3, \infty)", r"x < -2 \text{ or } x > 3"],
     [r"(-2, 3)", r"(-\infty,-2]\cup[3,\infty)"], value=False)
case("interval", r"(0, \infty)", [r"x > 0", r"(0,\infty)"], [r"[0, \infty)", r"(-\infty, 0)"], value=False)
case("interval", r"[-1, 1]", [r"-1 \le x \le 1"], [r"(-1, 1)", r"[-1, 1)"], value=False)
case("interval", r"(-3, 1) \cup (1, \infty)", [r"(-3,1)\cup(1,\infty)"], [r"(-3, \infty)", r"(-3,1)"], value=False)

# ---- inequalities
case("inequality", r"x > 3", [r"3 < x", r"(3, \infty)"], [r"x \geq 3", r"x < 3"], value=False)
case("inequality", r"x \le -2", [r"(-\infty, -2]", r"x \leq -2"], [r"x < -2", r"x \le 2"], value=False)
case("inequality", r"-3 < x < 1", [r"(-3,1)"], [r"-3 \le x \le 1", r"-1 < x < 3"], value=False)

# ---- sets and solution lists
case("set", r"\{1, 2\}", [r"\{2, 1\}", r"1, 2"], [r"\{1\}", r"\{1, 2, 3\}"], value=False)
case("set", r"\{-2, 3\}", [r"3, -2", r"x = -2 \text{ or } x = 3"], [r"-3, 2", r"3"], value=False)
case("set", r"1, 2, 3", [r"3, 2, 1"], [r"1, 2", r"1, 2, 3, 4"], value=False)
case("set", r"\emptyset", [r"\varnothing"], [r"\{0\}"], value=False)
case("set", r"-1, 1", [r"\pm 1", r"x = \pm 1"], [r"1", r"-1"], value=False)
case("set", r"-3, 3", [r"x = 3 \text{ and } x = -3"], [r"x = 3", r"9"], value=False)

# ---- ordered pairs and tuples
case("tuple", r"(2, -3)", [r"(2,-3)", r"\left( 2, -3 \right)"], [r"(-3, 2)", r"(2, 3)"], value=False)
case("tuple", r"(1, 2, 3)", [r"\left(1,2,3\right)"], [r"(1, 2)", r"(3, 2, 1)"], value=False)
case("tuple", r"\left( \frac{1}{2}, 3 \right)", [r"(0.5, 3)", r"\left(\tfrac12, 3\right)"], [r"(2, 3)", r"\left(3, \frac12\right)"], value=False)
case("tuple", r"\left( 3, \frac{\pi}{2} \right)", [r"\left(3,\frac{\pi}{2}\right)"], [r"\left(3, \frac{3\pi}{2}\right)", r"(3, \pi)"], value=False)
case("tuple", r"(6, 8)", [r"(a, b) = (6, 8)"], [r"(a,b) = (8, 6)"], value=False)

# ---- vectors and matrices
case("matrix", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", [r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}"],
     [r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", r"\begin{pmatrix} -1 \\ 2 \end{pmatrix}"], value=False)
case("matrix", r"\begin{pmatrix} 2 & 0 \\ 0 & 3 \end{pmatrix}", [r"\begin{pmatrix}2&0\\0&3\end{pmatrix}", r"\begin{pmatrix} \frac{4}{2} & 0 \\ 0 & 3 \end{pmatrix}"],
     [r"\begin{pmatrix} 3 & 0 \\ 0 & 2 \end{pmatrix}", r"\begin{pmatrix} 2 & 0 \\ 0 & -3 \end{pmatrix}"], value=False)
case("matrix", r"\begin{pmatrix} -\frac{1}{3} \\ \frac{2}{3} \end{pmatrix}", [r"\begin{pmatrix} -1/3 \\ 2/3 \end{pmatrix}"],
     [r"\begin{pmatrix} \frac{1}{3} \\ \frac{2}{3} \end{pmatrix}", r"\begin{pmatrix} -1 \\ 2 \end{pmatrix}"], value=False)
case("matrix", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", [r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"],
     [r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}"], value=False)

# ---- polynomials and factored forms
case("poly", r"x^2+x-2", [r"(x-1)(x+2)", r"x^2 + x - 2"], [r"(x+1)(x-2)", r"x^2-x-2"])
case("poly", r"(x-1)(x+2)", [r"(x+2)(x-1)", r"x^2+x-2"], [r"(x+1)(x-2)", r"(x-1)(x-2)"])
case("poly", r"3x^2-6x", [r"3x(x-2)"], [r"3x(x+2)", r"x^2-2x"])
case("poly", r"x^4-1", [r"(x^2+1)(x-1)(x+1)"], [r"(x^2-1)^2", r"(x-1)(x+1)"])
case("poly", r"2x^3-3x+1", [r"1 - 3x + 2x^3"], [r"2x^3+3x+1"])
case("poly", r"(2a-3b)^2", [r"4a^2-12ab+9b^2"], [r"4a^2-9b^2", r"(2a+3b)^2"])

# ---- equations of lines and circles
case("equation", r"y = 2x + 3", [r"y=3+2x", r"y = 2x+3"], [r"y = 3x + 2", r"y = -2x + 3"], value=False)
case("equation", r"(x-1)^2 + (y+2)^2 = 9", [r"(x - 1)^2 + (y + 2)^2 = 9", r"x^2 - 2x + y^2 + 4y - 4 = 0"],
     [r"(x+1)^2+(y-2)^2=9", r"(x-1)^2+(y+2)^2=3"], value=False)
case("equation", r"y = -\frac{1}{2}x + 4", [r"y = 4 - \frac{x}{2}", r"y = -\dfrac{1}{2}x + 4"], [r"y = -2x + 4", r"y = \frac{1}{2}x + 4"], value=False)
case("equation", r"x + 2y = 5", [r"2y + x = 5", r"x + 2y - 5 = 0"], [r"x + 2y = 10", r"2x + y = 5"], value=False)

# ---- functions
case("function", r"2x+1", [r"f(x) = 2x + 1", r"1 + 2x"], [r"f(x) = 2x - 1", r"2x"], value=False)
case("function", r"\frac{x-3}{2}", [r"f^{-1}(x) = \frac{x-3}{2}", r"\frac{x}{2} - \frac{3}{2}"], [r"\frac{x+3}{2}", r"2x+3"], value=False)
case("function", r"6x^2-2", [r"f'(x) = 6x^2 - 2"], [r"2x^3 - 2x", r"f'(x) = 6x^2 + 2"], value=False)
case("function", r"\frac{1}{x^2}", [r"g(x) = x^{-2}"], [r"g(x) = x^2"], value=False)

# ---- degrees and radians
case("degree", r"30^\circ", [r"30", r"30^{\circ}", r"30°", r"30 \text{ degrees}"], [r"60^\circ", r"150^\circ"])
case("degree", r"120", [r"120^\circ", r"120^{\circ}"], [r"60^\circ", r"240^\circ"])
case("degree", r"\frac{\pi}{6}", [r"\frac{\pi}{6}"], [r"\frac{\pi}{3}", r"6"])

# ---- bases
case("base", r"1011_2", [r"1011_2", r"1011_{2}"], [r"1101_2", r"1011_3"])
case("base", r"52_8", [r"52_{8}", r"52_8"], [r"25_8", r"52_6"])
case("base", r"2013_4", [r"2013_{4}"], [r"2031_4"])

# ---- modular answers
case("modular", "3", [r"n \equiv 3 \pmod{7}", r"3 \pmod 7"], [r"n \equiv 4 \pmod{7}", r"7"], value=False)
case("modular", "17", [r"13^{-1} \equiv 17 \pmod{20}", r"17"], [r"13^{-1} \equiv 3 \pmod{20}", r"20"], value=False)

# ---- scientific notation
case("scientific", r"3.2 \times 10^{5}", [r"320000", r"3.2\cdot 10^5", r"320{,}000"], [r"3.2 \times 10^{4}", r"3.2"])
case("scientific", r"6 \times 10^{-3}", [r"0.006", r"6\times10^{-3}"], [r"0.06", r"6 \times 10^{3}"])

# ---- logs
case("log", "3", [r"\log_2 8 = 3"], [r"\log_2 8 = 4", r"8"], value=False)
case("log", r"\log_2 3", [r"\frac{\ln 3}{\ln 2}", r"\log_{2} 3"], [r"\log_3 2", r"\frac{\ln 2}{\ln 3}"])
case("log", r"\frac{3}{2}", [r"\log_4 8", r"1.5"], [r"\log_8 4", r"\frac{2}{3}"])
case("log", r"2\ln 2", [r"\ln 4"], [r"\ln 2", r"2\ln 4"])

# ---- trig values
case("trig", r"\frac{\sqrt{3}}{2}", [r"\cos 30^\circ = \frac{\sqrt{3}}{2}", r"\sin\frac{\pi}{3}"], [r"\frac{1}{2}", r"0.866"])
case("trig", r"-\frac{1}{2}", [r"\cos 120^\circ = -\frac12"], [r"\frac{1}{2}", r"-\frac{\sqrt{3}}{2}"])
case("trig", r"2-\sqrt{3}", [r"\tan 15^\circ = 2 - \sqrt{3}", r"\frac{1}{2+\sqrt3}"], [r"2+\sqrt{3}", r"\sqrt{3}-2"])
case("trig", r"\frac{\sqrt{6}-\sqrt{2}}{4}", [r"\frac{\sqrt{2}(\sqrt{3}-1)}{4}"], [r"\frac{\sqrt{6}+\sqrt{2}}{4}"])

# ---- combinatorics
case("combinatorics", "120", [r"\binom{10}{3} = 120", r"\binom{10}{3}", r"\dbinom{10}{3}", r"5!"], [r"\binom{10}{2}", r"720", r"\binom{10}{3} = 720"])
case("combinatorics", r"\frac{5}{16}", [r"\frac{10}{32}", r"\frac{\binom{5}{2}}{2^5}"], [r"\frac{5}{32}", r"\frac{16}{5}"])
case("combinatorics", "252", [r"\frac{10!}{5!\,5!}", r"\binom{10}{5}"], [r"\frac{10!}{5!}", r"126"])

# ---- multiple choice
case("choice", r"\text{(C)}", [r"\textbf{(C)}", r"\text{C}", r"(C)", r"\mathrm{(C)}"], [r"\textbf{(B)}", r"(D)"], value=False)
case("choice", "C", [r"\textbf{(C)}", r"\text{(C) } 12"], [r"\textbf{(B) } 12", r"\textbf{(E)}"], value=False)
case("choice", r"\textbf{(B) } 14", [r"\textbf{(B)}", r"B"], [r"\textbf{(C)}", r"16"], value=False)
for c, g, e in [("The answer is (C) 12.", "C", True), ("The answer is (B) 12.", "C", False),
                ("The correct option is $\\textbf{(D)}$.", "D", True), ("The correct option is $\\textbf{(A)}$.", "D", False),
                (THINK + "So the answer is **(E)**.", "E", True), (THINK + "So the answer is **(A)**.", "E", False),
                ("Comparing with the choices, it is $\\boxed{\\textbf{(A)}\\ 6}$.", r"\textbf{(A)}\ 6", True),
                ("Comparing with the choices, it is $\\boxed{\\textbf{(B)}\\ 8}$.", r"\textbf{(A)}\ 6", False)]:
    add("choice", c, g, e)

# ---- units in \text{}
case("units", "36", [r"36 \text{ cm}^2", r"36\,\mathrm{cm}^2", r"36~\text{square units}"], [r"6 \text{ cm}", r"72 \text{ cm}^2"])
case("units", r"12\text{ cm}", [r"12", r"12\ \text{cm}", r"12\;\mathrm{cm}"], [r"24 \text{ cm}", r"1.2 \text{ cm}"])
case("units", r"5\text{ inches}", [r"5", r"5 \text{ in}"], [r"10 \text{ inches}"])

# ---- percent
case("percent", r"10\%", [r"10\%", r"10", r"10 \%"], [r"1\%", r"20\%"])
case("percent", "25", [r"25\%"], [r"0.25\%", r"75\%"])

# ---- spacing and wrappers
case("spacing", r"\frac{9}{4}", [r"\dfrac{9}{4}", r"\displaystyle\frac{9}{4}", r"\tfrac94", r"2.25", r"2\tfrac{1}{4}"], [r"\frac{4}{9}", r"\frac{9}{2}"])
case("spacing", r"1{,}000", [r"1000", r"1\,000"], [r"100", r"10000"])
case("spacing", "-7", [r"-\!7", r"- 7", r"\mathbf{-7}"], [r"7", r"-\frac{1}{7}"])

# ---- AIME-style integers (000-999)
case("aime", "25", [r"025", r"\boxed{025}"], [r"52", r"250"])
case("aime", "204", [r"204"], [r"402", r"24"])

# ---- long derivations: the intermediate value must not win
for gold, right, inter in [("25", "25", "12"), (r"\frac{5}{2}", r"\frac{5}{2}", r"\frac{5}{4}"), ("48", "48", "24")]:
    add("derivation", "We compute step by step:\n\\begin{align*}\nS &= " + inter + r" \cdot 2 + 1 \\" +
        "\n&= " + right + "\n\\end{align*}\nTherefore $S = " + right + "$.", gold, right == gold)
    add("derivation", "We compute step by step:\n\\begin{align*}\nS &= " + right + r" + 1 \\" +
        "\n&= " + inter + "\n\\end{align*}", gold, False)
    add("derivation", THINK + "The total is $" + inter + "$ before doubling, so the answer is $\\boxed{" + right + "}$.", gold, True)
    add("derivation", THINK + "The total is $" + right + "$ before doubling, so the answer is $\\boxed{" + inter + "}$.", gold, False)

# ---- typical R1 / QwQ / Qwen2.5-Math closings with an explanatory sentence after the answer
for gold, right, wrong in [(r"\frac{7}{3}", r"\frac{7}{3}", r"\frac{3}{7}"), ("17", "17", "16"), (r"2\sqrt{2}", r"2\sqrt{2}", r"\sqrt{2}"),
                           (r"(1, 3]", r"(1,3]", r"[1,3]")]:
    for t in [
        "</think>\n\nTo solve the problem, we first ... \n\n**Final Answer**\nThe value is \\(\\boxed{@}\\).",
        "**Final Answer**\n\\[\n\\boxed{@}\n\\]\n\nThis is the required value, obtained in 3 steps.",
        "The final answer is: $\\boxed{@}$",
        "</think>\n\nThe answer is $\\boxed{@}$, since the other 2 cases fail.",
        "Thus, the answer is $@$, where we used $n = 4$.",
        "### Final Answer\n\n\\[\n\\boxed{@}\n\\]",
    ]:
        add("closing", t.replace("@", right), gold, True)
        add("closing", t.replace("@", wrong), gold, False)


# ---- second wave, written after the first run (the first 762 pairs gave 6 disagreements): harder
# notation and near misses
case("hard_notation", r"(-\infty, \infty)", [r"\mathbb{R}", r"(-\infty,\infty)", r"\text{all real numbers}"], [r"[0, \infty)", r"\mathbb{Z}"], value=False)
case("hard_notation", r"(-\infty, 0) \cup (0, \infty)", [r"x \neq 0", r"\mathbb{R} \setminus \{0\}"], [r"(0, \infty)", r"\mathbb{R}"], value=False)
case("hard_notation", r"\frac{1}{3}", [r"0.\overline{3}", r"1/3"], [r"0.333", r"0.3"])
case("hard_notation", r"5\sqrt{2}", [r"5 \sqrt 2", r"\sqrt{50}", r"5\cdot\sqrt{2}"], [r"5\sqrt[3]{2}", r"2\sqrt{5}"])
case("hard_notation", r"\frac{\sqrt{3}}{2}", [r"\frac{\sqrt 3}2", r"\frac{1}{2}\sqrt{3}", r"\sqrt{3}/2"], [r"\frac{\sqrt{2}}{2}", r"\frac{3}{2}"])
case("hard_notation", r"\sqrt{5}", [r"5^{1/2}", r"\sqrt[4]{25}"], [r"5^{1/3}", r"\sqrt[3]{5}"])
case("hard_notation", "1024", [r"2^{10}", r"4^5"], [r"2^{11}", r"2^{9}"])
case("hard_notation", r"2^{2019}-1", [r"-1+2^{2019}"], [r"2^{2019}+1", r"2^{2018}-1"])
case("hard_notation", r"-\frac{3}{4}", [r"\frac{-3}{4}", r"\frac{3}{-4}", r"-0.75"], [r"-\frac{4}{3}", r"\frac{3}{4}"])
case("hard_notation", r"\frac{n(n+1)}{2}", [r"\frac{n^2+n}{2}", r"\frac{1}{2}n(n+1)"], [r"\frac{n(n-1)}{2}", r"n(n+1)"])
case("hard_notation", r"e^2", [r"e^{2}", r"\exp(2)"], [r"2e", r"7.389"])
case("hard_notation", "2", [r"\log 100", r"\log_{10} 100"], [r"\log 200", r"\ln 100"])
case("hard_notation", r"720", [r"6!", r"720"], [r"5!", r"6"])
case("hard_notation", "6", [r"6"], [r"6!", r"\sqrt{6}"])
case("hard_notation", "i", [r"i"], [r"-i", r"1"])
case("hard_notation", r"\sqrt{3}", [r"3^{\frac{1}{2}}"], [r"\sqrt[3]{3}", r"3"])
case("hard_notation", r"-\frac{1}{2}+\frac{\sqrt{3}}{2}i", [r"\frac{-1+i\sqrt{3}}{2}", r"\cos\frac{2\pi}{3} + i\sin\frac{2\pi}{3}"], [r"\frac{-1-i\sqrt{3}}{2}", r"\frac{1+i\sqrt{3}}{2}"])

case("hard_text", r"\text{Evelyn}", [r"\text{Evelyn}", r"\textbf{Evelyn}", r"\text{ Evelyn}"], [r"\text{Evan}"], value=False)
case("hard_text", r"\text{odd}", [r"\text{odd}", r"\mathrm{odd}"], [r"\text{even}", r"\text{neither}"], value=False)
case("hard_text", r"\text{(E)}", [r"E", r"\text{(E)}", r"\textbf{(E)}"], [r"\text{(A)}", r"\textbf{(D)}"], value=False)

case("hard_structure", r"(1, 2)", [r"(1,\ 2)", r"(1, 2)"], [r"\{1, 2\}", r"[1, 2]"], value=False)
case("hard_structure", r"\{3\}", [r"3", r"\{3\}"], [r"\{3, -3\}", r"\{-3\}"], value=False)
case("hard_structure", r"1 \pm \sqrt{2}", [r"1+\sqrt{2}, 1-\sqrt{2}", r"1 \pm \sqrt 2"], [r"1+\sqrt{2}", r"-1 \pm \sqrt{2}"], value=False)
case("hard_structure", "2", [r"2"], [r"\pm 2", r"x^2 = 2"], value=False)
case("hard_structure", "4", [r"x = 4", r"4"], [r"x^2 = 4", r"4 \text{ or } 5"], value=False)
case("hard_structure", r"\frac{\pi}{4}", [r"\frac{\pi}{4}"], [r"\frac{\pi}{4} + 2k\pi", r"\frac{\pi}{4}x"], value=False)
case("hard_structure", r"a = 2, b = 3", [r"a=2,\ b=3", r"b = 3, a = 2"], [r"a = 3, b = 2", r"a = 2, b = -3"], value=False)
case("hard_structure", r"\begin{pmatrix} 1 \\ -2 \\ 3 \end{pmatrix}", [r"\begin{pmatrix} 1 \\ -2 \\ 3 \\ \end{pmatrix}", r"\left(\begin{array}{c}1\\-2\\3\end{array}\right)"],
     [r"\begin{pmatrix} 1 \\ 2 \\ 3 \end{pmatrix}", r"\begin{pmatrix} 3 \\ -2 \\ 1 \end{pmatrix}"], value=False)
case("hard_structure", r"\left\{ -1, 2 \right\}", [r"\{-1,2\}", r"\left\{2,-1\right\}"], [r"\{1, -2\}", r"\{-1, 2, 3\}"], value=False)
case("hard_structure", r"x^2+7x+10", [r"(x+5)(x+2)", r"x^2 + 7x + 10"], [r"x^2+7x+10=0", r"(x-5)(x-2)"], value=False)
case("hard_structure", r"y = -x + 1", [r"y = 1 - x", r"x + y = 1"], [r"y = x + 1", r"y = -x - 1"], value=False)
case("hard_structure", r"x^2", [r"f(x) = x^2", r"x^{2}"], [r"f(x) = x^3", r"2x"], value=False)

case("hard_money", r"\$18.90", [r"18.90", r"\$18.9", r"18.9"], [r"\$19.80", r"18"])
case("hard_money", r"12.5\%", [r"12.5\%", r"12.5"], [r"1.25\%", r"125\%"])
case("hard_money", r"1.2 \cdot 10^{-4}", [r"0.00012", r"1.2\times10^{-4}"], [r"1.2\times10^{4}", r"0.0012"])

case("hard_base", r"10_2", [r"10_{2}"], [r"10_{10}", r"11_2"])
case("hard_base", r"A3_{16}", [r"A3_{16}", r"\text{A3}_{16}"], [r"3A_{16}", r"A4_{16}"])
case("hard_base", r"1011_2", [r"1011_{2}"], [r"1011_{3}", r"1011_{10}", r"111_2"])

# ---- third wave: exact values past the exact-arithmetic bound, near-equal constants, more notation
case("big_exact", r"2^{2019}-1", [r"-1+2^{2019}"], [r"2^{2019}+1", r"2^{2019}"])
case("big_exact", r"\frac{1}{2^{2019}}", [r"2^{-2019}"], [r"\frac{1}{2^{2019}+1}", r"0"])
case("big_exact", r"3^{1500}", [r"3^{1500}", r"9^{750}"], [r"3^{1500}+2", r"3^{1499}"])
case("big_exact", r"2^{100}\sqrt{2}", [r"2^{100.5}", r"\sqrt{2^{201}}"], [r"2^{100}\sqrt{2}+1"])
case("big_exact", r"2^{1200}\sqrt{3}", [r"\sqrt{3}\cdot 2^{1200}"], [r"2^{1200}\sqrt{3}+1", r"2^{1200}\sqrt{3}-\frac{1}{2}"])
case("big_exact", r"\pi", [r"\pi", r"3.14159"], [r"\frac{355}{113}", r"3.1416"],
     note="policy: a decimal of 6+ significant digits that rounds the exact value is accepted; 5 digits are not")
case("big_exact", r"\pi^4+\pi^5", [r"\pi^4(1+\pi)"], [r"e^6"])
case("big_exact", r"e^{\pi\sqrt{163}}", [r"e^{\sqrt{163}\pi}"], [r"640320^3+744"])
case("big_exact", r"0", [r"0"], [r"\frac{1}{10^{2000}}", r"2^{-3000}"])
case("more_notation", r"\frac{3}{4}", [r"\boxed{\frac{3}{4}}", r"3/4", r"\frac{6}{8}"], [r"\frac{4}{3}", r"\frac{3}{8}"])
case("more_notation", r"\text{(A)}", [r"\text{A}", r"(A)", r"\textbf{(A) }3\sqrt{2}"], [r"\text{B}", r"\textbf{(B) }3\sqrt{2}"], value=False)
case("more_notation", r"y^2 = 4x", [r"4x = y^2", r"y^2 - 4x = 0"], [r"y^2 = 2x", r"x^2 = 4y"], value=False)
case("more_notation", r"(x-2)^2", [r"(2-x)^2", r"x^2-4x+4"], [r"(x+2)^2", r"x^2-4"])
case("more_notation", r"\frac{2}{3}", [r"\frac{2}{3}", r"0.\overline{6}", r"0.6666667"], [r"0.67", r"0.6"], note="policy: a decimal of 6+ significant digits that rounds the exact value is accepted")
case("more_notation", "7", [r"7\text{ (the smallest such } n)", r"7 \text{ days}"], [r"8 \text{ days}", r"\boxed{7}\text{ and }\boxed{8}"], value=False)
case("more_notation", r"x \in [2, 5)", [r"[2, 5)", r"2 \leq x < 5"], [r"x \in (2, 5)", r"x \in [2, 5]"], value=False)

# ---- fourth wave, written after the first fixes: left sides that name what was asked, set and
# fraction spellings, end-of-proof marks, several boxes
case("lhs", r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", [r"\mathbf{v} = \begin{pmatrix} 3 \\ -1 \end{pmatrix}", r"\vec{v} = \begin{pmatrix} 3 \\ -1 \end{pmatrix}"],
     [r"\mathbf{v} = \begin{pmatrix} -1 \\ 3 \end{pmatrix}"], value=False)
case("lhs", r"\frac{1}{3}", [r"P(A) = \frac{1}{3}", r"P = \frac13"], [r"P(A) = \frac{2}{3}"], value=False)
case("lhs", r"30^\circ", [r"\angle ABC = 30^\circ", r"m\angle B = 30^\circ"], [r"\angle ABC = 60^\circ"], value=False)
case("lhs", r"5\sqrt{2}", [r"AB = 5\sqrt{2}", r"\overline{AB} = 5\sqrt2"], [r"AB = 5"], value=False)
case("lhs", "55", [r"S_{10} = 55", r"a_{10} = 55", r"\text{Area} = 55"], [r"S_{10} = 45", r"a+b = 55"], value=False,
     note="policy: letters before '=' ('a+b = 55') do not answer the right side")
case("lhs", "12", [r"x = \boxed{12}", r"n = 12"], [r"2n = 12", r"n^2 = 12"], value=False)
case("set_spelling", r"\{1, 2\}", [r"\lbrace 1, 2 \rbrace", r"\left\lbrace 1,2 \right\rbrace"], [r"\lbrace 1 \rbrace", r"\lbrace 1, 3 \rbrace"], value=False)
case("set_spelling", r"\{(1,2), (2,1)\}", [r"(2,1), (1,2)", r"\{(2, 1), (1, 2)\}"], [r"(1,2)", r"\{(1,2), (2,2)\}"], value=False)
case("set_spelling", r"[-3, 3]", [r"|x| \le 3", r"-3 \leq x \leq 3"], [r"|x| < 3", r"[0, 3]"], value=False)
case("frac_spelling", r"\frac{5}{2}", [r"{5 \over 2}", r"2 \frac{1}{2}", r"5/2"], [r"{2 \over 5}", r"\frac{5}{4}"])
case("frac_spelling", r"\frac{3}{2}", [r"\frac{3}{2}"], [r"{3 \over 4}"])
for gold, right, wrong in [("12", "12", "13"), (r"\frac{3}{4}", r"\frac{3}{4}", r"\frac{4}{3}")]:
    for t in ["Thus the answer is $@$. $\\blacksquare$", "Hence $n = @$. \\qed", "Therefore the answer is $@$. $\\square$",
              "\\[\\boxed{@}\\] \\hfill $\\blacksquare$", "So the final answer is $\\boxed{@}$.\n\n---\n\n**Answer:** $\\boxed{@}$",
              "The answers are $\\boxed{@}$ for part (a) and that's it."]:
        add("closing_marks", t.replace("@", right), gold, True)
        add("closing_marks", t.replace("@", wrong), gold, False)
for c, g, e in [
    (r"So $x = \boxed{2}$ and $y = \boxed{3}$.", "(2, 3)", True),
    (r"So $x = \boxed{3}$ and $y = \boxed{2}$.", "(2, 3)", False),
    (r"The roots are $\boxed{2}$ and $\boxed{-3}$.", "2, -3", True),
    (r"The roots are $\boxed{2}$ and $\boxed{3}$.", "2, -3", False),
    (r"The solutions are $\boxed{2 \text{ or } 3}$.", "2, 3", True),
    (r"The solutions are $\boxed{2 \text{ or } 4}$.", "2, 3", False),
    (r"The answer is $\boxed{\text{No solution}}$.", r"\text{no solution}", True),
    (r"The answer is $\boxed{\text{One solution}}$.", r"\text{no solution}", False),
    (r"The answer is $\boxed{080}$.", "80", True),
    (r"The answer is $\boxed{008}$.", "80", False),
    (r"The answer is $\boxed{\textbf{(C) }\frac{3}{2}}$.", r"\textbf{(C) }\frac{3}{2}", True),
    (r"The answer is $\boxed{1.5}$.", r"\textbf{(C) }\frac{3}{2}", True),
    (r"The answer is $\boxed{\textbf{(D) }2}$.", r"\textbf{(C) }\frac{3}{2}", False),
    (r"The answer is $\boxed{\frac{1}{2} \text{ (or } 0.5)}$.", r"\frac{1}{2}", True),
    (r"The answer is $\boxed{\frac{1}{2} \text{ (or } 0.25)}$.", r"\frac{1}{2}", False),
]:
    add("boxes", c, g, e)

if __name__ == "__main__":
    write()

#!/usr/bin/env python3
"""Round 7 probe set for the math checker: (completion, answer, expected) pairs written fresh in the
styles policies write their final answers (R1-style reasoning then an answer, Qwen, Llama), not
derived from tests/fixtures/reward/math_pairs.jsonl. About half are right answers, half wrong ones;
the wrong ones are near misses (a nearby number, the intermediate value, the other sign, a value the
text rules out). Labels follow the policies in experiments/reward.md; where a label is a policy
rather than mathematics the note says so.

  python3 experiments/math_probe7_make.py > experiments/math_probe7.jsonl
  python3 experiments/probe_run.py math experiments/math_probe7.jsonl  # scores it with ./build/aha, prints disagreements
"""
from probe_rows import add, pair, write


THINK = "<think>\nOkay, let me work through this. First compute the parts, then add them up.\n</think>\n\n"

# ---- money, prose and LaTeX
for t in [
    r"So she pays a total of \$@.",
    r"The total cost is $@.",
    r"Therefore, the total cost is $\$@$.",
    r"Total: USD @",
    r"The answer is @ USD.",
    r"He spent €@ in total.",
    r"**Answer:** \$@",
    r"The final answer is $\$@$. I hope it is correct.",
    r"Total cost = \$@",
    r"She will have to pay £@ altogether.",
    THINK + r"The total is **\$@**.",
    r"The company's revenue was $\$@$ dollars.",
]:
    pair("money", t, "1250", "1,250", "1,205")
for t in [r"\$1{,}@", r"$1,@.00", r"1,@ dollars", r"\$1,\!@"]:
    pair("money_sep", "The total cost is " + t + ".", "1250", "250", "260")
pair("money_cents", r"Each ticket costs $@.", "12.5", "12.50", "12.05")
pair("money_cents", r"Each ticket costs \$@ in total.", "12.50", "12.5", "125")
pair("money_cents", r"So the change is @ cents.", "45", "45", "55")
pair("money_cents", r"He earns \$@ per hour.", "18", "18", "16")
pair("money_cents", r"She saved ¥@ this month.", "3000", "3,000", "300")
pair("money_cents", r"The answer is 45 dollars and @ cents.", "45.5", "50", "5")

# ---- thousands separators
for t in [r"The population is @.", r"There are $@$ grains.", r"The answer is \(@\).",
          r"**Final answer:** @", r"So the total is @ liters."]:
    pair("thousands", t, "1000000", "1 000 000", "1 000 001")
    pair("thousands", t, "1000000", r"1\,000\,000", r"1\,000\,00")
    pair("thousands", t, "1000000", r"1{,}000{,}000", r"1{,}000{,}100")
pair("thousands", r"The result is $@$.", "1000", r"1{,}000", r"1{,}001")
pair("thousands", r"The result is @.", "12345", "12 345", "12 346")
pair("thousands", r"The result is @.", "12345", "12,345", "12,354")

# ---- units after the value
for t, g, r_, w in [
    (r"The area is @ cm^2.", "12", "12", "14"),
    (r"The area is $@\text{ cm}^2$.", "12", "12", "24"),
    (r"The area is $@ \, \text{cm}^2$.", "12", "12", "36"),
    (r"The area of the square is $@\ \mathrm{cm}^2$.", "12", "12", "11"),
    (r"So the area is @ square centimeters.", "12", "12", "13"),
    (r"The area is @ cm².", "12", "12", "21"),
    (r"The average speed is @ km/h.", "60", "60", "40"),
    (r"The average speed is $@\text{ km/h}$.", "60", "60", "50"),
    (r"The average speed is $@ \mathrm{km}/\mathrm{h}$.", "60", "60", "66"),
    (r"He drives at @ mph.", "45", "45", "54"),
    (r"It takes @ hrs.", "3", "3", "4"),
    (r"It takes him @ hours in total.", "3", "3", "2"),
    (r"The trip took @ min.", "45", "45", "40"),
    (r"The box weighs @ kg.", "7", "7", "9"),
    (r"The box weighs $@\,\mathrm{kg}$.", "7", "7", "8"),
    (r"The tank holds @ L of water.", "4.5", "4.5", "5.4"),
    (r"The volume is $@\text{ m}^3$.", "27", "27", "9"),
    (r"The rope is @ ft long.", "18", "18", "6"),
    (r"The answer is $@ \text{ meters}$.", "150", "150", "15"),
    (r"Final answer: @ sq ft", "96", "96", "48"),
]:
    pair("units", t, g, r_, w)

# ---- equations: letters on the left, a value on the right
for t, g, r_, w, note in [
    (r"So the area is $A = \frac{1}{2}bh = @$.", "24", "24", "12", ""),
    (r"There are $4! = @$ arrangements.", "24", "24", "12", ""),
    (r"The number of ways is $\binom{5}{2} = @$.", "10", "10", "20", ""),
    (r"So $A = \pi r^2 = @$.", r"25\pi", r"25\pi", r"5\pi", ""),
    (r"The area is $A = \pi (5)^2 = @$.", r"25\pi", r"25\pi", r"10\pi", ""),
    (r"So $P = 2(l + w) = 2(8 + 4) = @$.", "24", "24", "32", ""),
    (r"Hence $V = lwh = 3 \cdot 4 \cdot 5 = @$ cubic units.", "60", "60", "12", ""),
    (r"Then $\sqrt{144} = @$.", "12", "12", "144", ""),
    (r"We get $2^{10} = @$.", "1024", "1024", "2048", ""),
    (r"Therefore $x = @$.", "7", "7", "-7", ""),
    (r"Thus, $f(3) = @$.", "11", "11", "3", ""),
    (r"So the answer is $S_{10} = @$.", "55", "55", "10", ""),
    (r"$$\text{Total} = 12 + 15 + 18 = @$$", "45", "45", "18", ""),
    (r"The sum is $1 + 2 + \cdots + 10 = @$.", "55", "55", "10", ""),
    (r"So $\frac{3}{4} \times 16 = @$.", "12", "12", "16", ""),
    (r"Hence the probability is $P(A) = \frac{3}{8} = @$.", "0.375", "0.375", "0.38", ""),
    (r"We need $\lfloor 7.5 \rfloor = @$.", "7", "7", "8", ""),
    (r"So $\gcd(12, 18) = @$.", "6", "6", "3", ""),
    (r"Therefore $\text{lcm}(4, 6) = @$.", "12", "12", "24", ""),
    (r"Hence $|{-5}| = @$.", "5", "5", "-5", ""),
]:
    pair("equation", t, g, r_, w, note)
# a value left of "=" with letters: policy (reward.md, rounds 1 and 5): refused
for c, g in [(r"The area is $\pi r^2 = 25\pi$.", r"25\pi"), (r"So $2x = 10$.", "10"),
             (r"The perimeter is $4s = 24$.", "24"), (r"We get $a + b = 8$.", "8")]:
    add("equation_policy", c, g, False, "policy: an expression of letters left of = is not what was asked")

# ---- final sentences with other numbers after the answer
for c, g, e in [
    ("She has 12 apples left. That took 3 steps.", "12", True),
    ("She has 12 apples left. That took 3 steps.", "3", False),
    ("Total cost: $45. Tax was included at 5%.", "45", True),
    ("Total cost: $45. Tax was included at 5%.", "5", False),
    ("Total cost: $45. Tax was included at 5%.", "0.05", False),
    ("So 8 pencils per box, using 6 boxes.", "8", True),
    ("So 8 pencils per box, using 6 boxes.", "6", False),
    ("Therefore, John has 24 marbles. This is 3 times as many as Tom's 8.", "24", True),
    ("Therefore, John has 24 marbles. This is 3 times as many as Tom's 8.", "8", False),
    ("The answer is 36. Note that we used all 4 sides.", "36", True),
    ("The answer is 36. Note that we used all 4 sides.", "4", False),
    ("So the train travels 180 miles, at 60 mph for 3 hours.", "180", True),
    ("So the train travels 180 miles, at 60 mph for 3 hours.", "3", False),
    ("So she needs 5 more boxes, since each holds 12.", "5", True),
    ("So she needs 5 more boxes, since each holds 12.", "12", False),
    ("In total, 42 students passed, which is 70% of the class of 60.", "42", True),
    ("In total, 42 students passed, which is 70% of the class of 60.", "60", False),
    ("Thus Mary is 14 years old, twice as old as her brother who is 7.", "14", True),
    ("Thus Mary is 14 years old, twice as old as her brother who is 7.", "7", False),
    ("The farmer has 30 cows. (There were 5 pens with 6 cows each.)", "30", True),
    ("The farmer has 30 cows. (There were 5 pens with 6 cows each.)", "6", False),
    ("He needs 9 buses, because 8 buses would only hold 400 people.", "9", True),
    ("He needs 9 buses, because 8 buses would only hold 400 people.", "8", False),
    ("So, 15 cookies remain for the 3 children to share.", "15", True),
    ("So, 15 cookies remain for the 3 children to share.", "3", False),
    ("The answer is 7. This matches option (B) of the 4 options.", "7", True),
    ("The answer is 7. This matches option (B) of the 4 options.", "4", False),
    ("She bought 16 stamps in all. That's 2 more than last week.", "16", True),
    ("She bought 16 stamps in all. That's 2 more than last week.", "2", False),
    ("Final answer: 250 grams, which is 0.25 kg.", "250", True),
    ("Final answer: 250 grams, which is 0.25 kg.", "25", False),
]:
    add("after_answer", c, g, e)

# ---- markdown
for t in ["**@**", "The answer is **@**.", "### Answer\n@", "## Final Answer\n\n**@**",
          "**Final Answer:** @", "- Step 1: 3 + 4 = 7\n- Step 2: 7 * 2 = 14\n- **Answer: @**",
          "| Item | Count |\n|---|---|\n| apples | 10 |\n| pears | 8 |\n| **Total** | **@** |",
          "> **Answer:** @", "Answer: `@`", "1. First, 3 * 6 = 18.\n2. Then 18 - 4 = 14.\n\n**@**",
          "# Final Answer\n$\\boxed{@}$", "---\n**Answer: @ apples**"]:
    pair("markdown", t, "18" if "14" not in t else "14", "18" if "14" not in t else "14",
         "17" if "14" not in t else "18")

# ---- answers followed by verification lines
for t, g, r_, w in [
    ("So each box holds @ pencils.\nCheck: 3·6 = 18 ✓", "6", "6", "5"),
    ("The answer is @.\n\nVerification: 4 × 6 = 24 ✓", "6", "6", "4"),
    ("$x = @$\n\n**Check:** $2(@) + 3 = 13$ ✓", "5", "5", "4"),
    ("Therefore the width is @ m.\n\nDouble-check: area = 8 × 3 = 24 m², matches.", "3", "3", "8"),
    ("**Answer: @**\n\n(Verification: 12 + 8 = 20, and 20 / 4 = 5.)", "5", "5", "20"),
    ("Thus $n = @$.\nSanity check: $7^2 = 49 < 50$. ✔", "7", "7", "49"),
]:
    if "@)" in t:
        add("check", t.replace("@", r_), g, True)
        add("check", t.replace("@", w), g, False)
    else:
        pair("check", t, g, r_, w)

# ---- multi-part answers
for c, g, e in [
    ("(a) 12\n(b) 15", "12, 15", True),
    ("(a) 12\n(b) 16", "12, 15", False),
    (r"The solutions are $x = 2$ and $x = -3$.", "2, -3", True),
    (r"The solutions are $x = 2$ and $x = 3$.", "2, -3", False),
    (r"So $x = 3$ and $y = 4$.", "(3, 4)", True),
    (r"So $x = 4$ and $y = 3$.", "(3, 4)", False),
    (r"The roots are $\boxed{1, 4}$.", "1, 4", True),
    (r"The roots are $\boxed{1, 5}$.", "1, 4", False),
    (r"The point is $\left( 2, -1 \right)$.", "(2,-1)", True),
    (r"The point is $\left( -1, 2 \right)$.", "(2,-1)", False),
    (r"The answer is \[ \left( \frac{1}{2}, 3 \right). \]", r"\left(\frac12, 3\right)", True),
    (r"The answer is \[ \left( \frac{1}{3}, 3 \right). \]", r"\left(\frac12, 3\right)", False),
]:
    add("multi_part", c, g, e)

# ---- fractions, decimals, percents, mixed numbers
for c, g, e in [
    ("The probability is 0.75.", r"\frac{3}{4}", True),
    ("The probability is 0.7.", r"\frac{3}{4}", False),
    (r"The probability is $\frac{3}{4}$.", "0.75", True),
    (r"The probability is $\frac{4}{3}$.", "0.75", False),
    ("The probability is 75%.", "0.75", True),
    ("The probability is 7.5%.", "0.75", False),
    (r"So the answer is $75\%$.", "75", True),
    (r"So the answer is $57\%$.", "75", False),
    (r"She ate $2\frac{1}{2}$ pizzas.", r"\frac{5}{2}", True),
    (r"She ate $2\frac{1}{3}$ pizzas.", r"\frac{5}{2}", False),
    ("She walked 2 1/2 miles.", "2.5", True),
    ("She walked 2 1/4 miles.", "2.5", False),
    (r"The answer is $\dfrac{7}{8}$.", "0.875", True),
    (r"The answer is $\dfrac{7}{9}$.", "0.875", False),
    (r"The answer is $1\tfrac{3}{4}$ cups.", "1.75", True),
    (r"The answer is $1\tfrac{1}{4}$ cups.", "1.75", False),
    ("The fraction is 3/8.", "0.375", True),
    ("The fraction is 8/3.", "0.375", False),
    ("So the ratio is 2/3.", r"\frac{2}{3}", True),
    ("So the ratio is 0.67.", r"\frac{2}{3}", False),
    ("The discount is 20 percent.", "20", True),
    ("The discount is 25 percent.", "20", False),
]:
    add("fractions", c, g, e)

# ---- negative numbers, degrees, times
for c, g, e in [
    ("The temperature dropped to -8 degrees.", "-8", True),
    ("The temperature dropped to 8 degrees.", "-8", False),
    (r"So the slope is $-\frac{2}{3}$.", r"-\frac{2}{3}", True),
    (r"So the slope is $\frac{2}{3}$.", r"-\frac{2}{3}", False),
    (r"The minimum value is $\boxed{-4}$.", "-4", True),
    (r"The minimum value is $\boxed{4}$.", "-4", False),
    ("His balance is now −$25.", "-25", True),
    ("His balance is now $25.", "-25", False),
    (r"The angle is $45^\circ$.", "45", True),
    (r"The angle is $135^\circ$.", "45", False),
    ("The angle measures 72°.", "72", True),
    ("The angle measures 108°.", "72", False),
    (r"So $\angle ABC = 30^{\circ}$.", r"30^\circ", True),
    (r"So $\angle ABC = 60^{\circ}$.", r"30^\circ", False),
    ("Each interior angle is 120 degrees.", "120", True),
    ("Each interior angle is 60 degrees.", "120", False),
    ("She arrives at 3:45 PM.", "3:45", True),
    ("She arrives at 3:15 PM.", "3:45", False),
    ("The movie ends at 9:30 p.m.", r"9:30 \text{ p.m.}", True),
    ("The movie ends at 9:30 a.m.", r"9:30 \text{ p.m.}", False),
]:
    add("signs_degrees_times", c, g, e)

# ---- wrappers and delimiters
for t in [r"The answer is $\text{@}$.", r"The answer is $\mathrm{@}$.", r"The answer is $\mathbf{@}$.",
          r"So the answer is $\textbf{@}$.", r"\[ \boxed{\mathbf{@}} \]", r"The final answer is \( @ \).",
          "The final answer is\n\\[\n@\n\\]", "Therefore:\n$$@$$", r"The answer is $\left( @ \right)$.",
          r"We conclude that \(\displaystyle @\).", r"Thus the result is $\bm{@}$.",
          r"Final answer: $\operatorname{@}$", r"\(\boxed{@}\)", r"$\color{blue}{@}$ is the answer."]:
    pair("wrappers", t, "42", "42", "24")

# ---- after </think>
for t in ["<think>\nSo 6 times 7 is 42, but wait I should check 6 * 8 = 48. No, it's 6 * 7.\n</think>\n\nThe answer is @.",
          "<think>\nLet me try 40... no. Try 42: 42 / 6 = 7. Yes.\n</think>\n**@**",
          "<think>I get 43 first, then fix a carry: 42.</think>\n\nFinal answer: $@$",
          "<think>\n12 + 30 = 42\n</think>\n\n$$\\boxed{@}$$",
          "<think>\nThe total is 6 * 7.\n</think>\nSo the total is @ apples."]:
    pair("after_think", t, "42", "42", "43")

# ---- other languages
for t in ["答案是 @", "答案是 $@$。", "所以答案是 @。", "最终答案：@", "La respuesta es @.",
          "Por lo tanto, la respuesta es $@$.", "La réponse est @.", "Die Antwort ist @.",
          "Ответ: @", "答え：@", "Jawabannya adalah @.", "A resposta é @."]:
    pair("language", t, "12", "12", "21")

# ---- other things a policy writes
for c, g, e in [
    ("The answer is: 12", "12", True),
    ("The answer is: 13", "12", False),
    ("ANSWER: 12", "12", True),
    ("ANSWER: 11", "12", False),
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12", True),
    ("Final Answer: The final answer is $21$. I hope it is correct.", "12", False),
    ("Therefore, the final answer is: $\\boxed{12}$. I hope it is correct.", "12", True),
    ("Therefore, the final answer is: $\\boxed{13}$. I hope it is correct.", "12", False),
    ("The answer is 12 (twelve).", "12", True),
    ("The answer is 13 (thirteen).", "12", False),
    ("So there are twelve apples, i.e., 12.", "12", True),
    ("So there are thirteen apples, i.e., 13.", "12", False),
    ("So she has 12 left.", "12", True),
    ("So she has 12 - 3 = 9 left.", "12", False),
    ("She started with 12 and gave away 3, so 9 remain.", "9", True),
    ("She started with 12 and gave away 3, so 9 remain.", "12", False),
    ("The final answer is 12.0", "12", True),
    ("The final answer is 12.5", "12", False),
    ("The answer is approximately 3.14.", r"\pi", False),
    ("The answer is exactly 12.", "12", True),
    ("The answer is about 12.", "12", False),
    ("The answer is at least 12.", "12", False),
    ("So Janet makes $18 every day at the farmers' market.", "18", True),
    ("So Janet makes $16 every day at the farmers' market.", "18", False),
    ("It takes 3 bolts of blue fiber and 1.5 of white, so 4.5 bolts in total.", "4.5", True),
    ("It takes 3 bolts of blue fiber and 1.5 of white, so 4.5 bolts in total.", "1.5", False),
    ("#### 70000", "70000", True),
    ("#### 7000", "70000", False),
    ("The profit is $70,000.", "70000", True),
    ("The profit is $7,000.", "70000", False),
    ("He runs 540 meters a week.", "540", True),
    ("He runs 180 meters a week.", "540", False),
    ("Answer: 12 (since 3 × 4 = 12)", "12", True),
    ("Answer: 4 (since 3 × 4 = 12)", "12", False),
    ("x = 12 is the answer.", "12", True),
    ("x = 21 is the answer.", "12", False),
    (r"The answer is $12$, not $13$.", "12", True),
    (r"The answer is $12$, not $13$.", "13", False),
    ("It cannot be 13, so the answer is 12.", "12", True),
    ("It cannot be 13, so the answer is 12.", "13", False),
    ("12 is too small and 14 is too big, so it's 13.", "13", True),
    ("12 is too small and 14 is too big, so it's 13.", "14", False),
    ("We rule out 5 since it is odd. The answer is 6.", "6", True),
    ("We rule out 5 since it is odd. The answer is 6.", "5", False),
    ("The only valid value is 6 (5 fails the condition).", "6", True),
    ("The only valid value is 6 (5 fails the condition).", "5", False),
]:
    add("misc", c, g, e)

# ---- batch 2, written after the first fixes: near misses of the new rules (held out from them)
for c, g, e in [
    ("So 3 boxes, at 4 dollars each, is 12 dollars.", "12", True),
    ("So 3 boxes, at 4 dollars each, is 12 dollars.", "3", False),
    ("She has 20 - 8 = 12 left, since she gave 8 away.", "12", True),
    ("She has 20 - 8 = 12 left, since she gave 8 away.", "8", False),
    ("So he needs 3 more, because 7 + 3 = 10.", "3", True),
    ("So he needs 3 more, because 7 + 3 = 10.", "10", False),
    ("So she sells 12 cups at 3 dollars each, making 36 dollars.", "36", True),
    ("So she sells 12 cups at 3 dollars each, making 36 dollars.", "12", False),
    ("The car goes 60 mph, at 3 hours that's 180 miles.", "180", True),
    ("The car goes 60 mph, at 3 hours that's 180 miles.", "60", False),
    ("There are 5 boxes remaining, with 12 pens in each, so 60 pens.", "60", True),
    ("There are 5 boxes remaining, with 12 pens in each, so 60 pens.", "5", False),
    ("She has 3 eggs left over, using 12 of the 15 eggs.", "3", True),
    ("She has 3 eggs left over, using 12 of the 15 eggs.", "15", False),
    ("So Alice has 16 apples. That's 2 more than Bob.", "16", True),
    ("So Alice has 16 apples. That's 2 more than Bob.", "2", False),
    ("Bob has 14 apples. Alice has 16. That's 2 more than Bob.", "2", True),
    ("Bob has 14 apples. Alice has 16. That's 2 more than Bob.", "16", False),
    ("There are 7 marbles remaining. That is 2 fewer than before.", "7", True),
    ("There are 7 marbles remaining. That is 2 fewer than before.", "2", False),
    ("Thus the tank holds 40 liters in all. This is 4 times as much as the bucket.", "40", True),
    ("Thus the tank holds 40 liters in all. This is 4 times as much as the bucket.", "4", False),
    ("The difference is 30 - 18 = 12. That is 12 more than Sam.", "12", True),
    ("He bought 6 packs. That is 2 more than Jim, who bought 4.", "4", False),
    ("He paid \\$2{,}500 for the car.", "2500", True),
    ("He paid \\$2{,}500 for the car.", "500", False),
    ("Add 5 000 and 3 000 to get 8 000.", "8000", True),
    ("Add 5 000 and 3 000 to get 8 000.", "0", False),
    ("He ran 2 100-meter races.", "100", True),
    ("He ran 2 100-meter races.", "2100", False),
    ("The city has 2\\,500\\,000 residents.", "2500000", True),
    ("The city has 2\\,500\\,000 residents.", "2500", False),
    ("The answer is 6; 5 fails the condition.", "6", True),
    ("The answer is 6; 5 fails the condition.", "5", False),
    ("So x = 4, since x = 3 doesn't work.", "4", True),
    ("So x = 4, since x = 3 doesn't work.", "3", False),
    ("Try 4: too small. So n = 5 works.", "5", True),
    ("So 24 people came, because 3 rooms held 8 each.", "24", True),
    ("So 24 people came, because 3 rooms held 8 each.", "8", False),
    ("She walks 3 miles, at 4 mph, so it takes 0.75 hours.", "0.75", True),
    ("She walks 3 miles, at 4 mph, so it takes 0.75 hours.", "3", False),
    ("So 9 buses are needed, as 8 buses hold only 400 people.", "9", True),
    ("So 9 buses are needed, as 8 buses hold only 400 people.", "400", False),
    ("The answer is exactly 12 apples.", "12", True),
    ("The answer is exactly 13.", "12", False),
    ("The answer is $\\bm{7}$.", "7", True),
    ("The answer is $\\bm{8}$.", "7", False),
    ("Thus 15 apples remain, so each of the 3 kids gets 5.", "5", True),
    ("Thus 15 apples remain, so each of the 3 kids gets 5.", "15", False),
]:
    add("adv_after_fix", c, g, e)

if __name__ == "__main__":
    write()

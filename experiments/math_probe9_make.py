#!/usr/bin/env python3
"""Round 9 probe set for the math checker: completions not in English or not in ASCII. Qwen-family
models often answer in Chinese, and models answer in the prompt's language: answer markers in eleven
languages (Chinese simplified and traditional, Japanese, Korean, Spanish, French, German, Russian,
Portuguese, Arabic, Hindi), full-width digits and operators, other digit scripts (Arabic-Indic,
Persian, Devanagari), CJK punctuation, CJK numerals, negations and retractions, units and
currencies, European decimal commas and thousands dots / spaces, boxes inside non-English text.
Written fresh, not derived from tests/fixtures/reward/math_pairs.jsonl. Each right answer has a near
miss (the other number of the sentence, a digit off, the value ruled out, the decimal read as two
numbers). Labels follow the policies in experiments/reward.md; the note says where a label is a
policy rather than language.

  python3 experiments/math_probe9_make.py > experiments/math_probe9.jsonl
  python3 experiments/probe_run.py math experiments/math_probe9.jsonl  # scores it with ./build/aha, prints disagreements
"""
from probe_rows import add, pair, write


FW = {c: chr(ord(c) + 0xFEE0) for c in "0123456789+-=./%()*:,"}


def fw(s):  # full-width forms of ASCII digits and operators
    return "".join(FW.get(c, c) for c in s)


def script(s, zero):  # digits in another decimal script
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in s)


AR, FA, DEVA = 0x0660, 0x06F0, 0x0966

# ---- full-width digits and operators (English and Chinese prose)
for t in ["So the answer is @.", "答案是@。", "The answer is: @", "所以答案是 @！", "Answer: @",
          "最终答案：@", "因此 $x = @$。", "答：@"]:
    pair("fullwidth", t, "12", fw("12"), fw("13"))
pair("fullwidth", "答案是@。", "12.5", fw("12.5"), fw("125"))
pair("fullwidth", "The answer is @.", "-3", fw("-3"), fw("3"))
pair("fullwidth", "答案是@。", "\\frac{1}{2}", fw("1/2"), fw("2/1"))
pair("fullwidth", "答案是@。", "35\\%", fw("35%"), fw("36%"))
pair("fullwidth", "所以 ｘ＝@。", "7", fw("7"), fw("8"))
pair("fullwidth", "计算：３＋４＝７，所以答案是 @。", "7", fw("7"), fw("8"))
pair("fullwidth", "因此，答案是 $\\boxed{@}$。", "12", fw("12"), fw("21"))
pair("fullwidth", "She has @ apples left.", "12", fw("12"), fw("11"))
pair("fullwidth", "一共有 @ 个苹果。", "24", fw("24"), fw("42"))
pair("fullwidth", "坐标是@。", "(2,3)", fw("(2,3)"), fw("(3,2)"))

# ---- other digit scripts
for t in ["الإجابة هي @", "الجواب: @", "إذن الإجابة هي @.", "الإجابة النهائية هي @"]:
    pair("digit_script", t, "12", script("12", AR), script("13", AR))
for t in ["پاسخ @ است.", "جواب: @"]:
    pair("digit_script", t, "12", script("12", FA), script("21", FA))
for t in ["उत्तर @ है।", "अतः उत्तर @ है।", "उत्तर: @"]:
    pair("digit_script", t, "12", script("12", DEVA), script("13", DEVA))
pair("digit_script", "الإجابة هي @", "12.5", script("12", AR) + "\u066b" + script("5", AR),
     script("125", AR))
pair("digit_script", "So the answer is @.", "45", script("45", AR), script("54", AR))
pair("digit_script", "The answer is @.", "45", script("45", DEVA), script("46", DEVA))
pair("digit_script", "الإجابة هي @%", "25\\%", script("25", AR), script("52", AR))

# ---- CJK punctuation around plain digits
for t in ["答案是@。", "所以，答案是@！", "答：@。", "最终答案：@；", "因此答案为@。", "答案是（@）。",
          "答案為@。", "所以答案是@，對嗎？是的。", "答えは@です。", "よって、答えは@。", "정답은 @입니다.",
          "따라서 답은 @이다."]:
    pair("cjk_punct", t, "12", "12", "13")

# ---- CJK numerals
for gold, right, wrong in [("12", "十二", "十三"), ("105", "一百零五", "一百五十"), ("20", "二十", "十二"),
                           ("2300", "两千三百", "两千零三"), ("10", "十", "一"), ("1001", "一千零一", "一千一"),
                           ("12000", "一万二千", "一万零二"), ("0", "零", "一"), ("-5", "负五", "五"),
                           ("3.5", "三点五", "三"), ("150", "一百五", "一百零五"), ("2", "两", "三"),
                           ("99", "九十九", "九十"), ("100", "一百", "一千"), ("1000000", "一百万", "一万")]:
    pair("cjk_numeral", "答案是" + "@" + "。", gold, right, wrong)
for gold, right, wrong in [("\\frac{1}{3}", "三分之一", "三分之二"), ("\\frac{2}{3}", "三分之二", "二分之三"),
                           ("25\\%", "百分之二十五", "百分之五十二"), ("0.25", "百分之二十五", "百分之二十"),
                           ("\\frac{3}{4}", "四分之三", "三分之四")]:
    pair("cjk_numeral", "所以答案是@。", gold, right, wrong)
for t in ["答案為@。", "總共有@個。答案是@。", "答えは@です。", "最終答案：@"]:
    pair("cjk_numeral", t, "12", "十二", "十一")
pair("cjk_numeral", "她有@个苹果。", "12", "十二", "二十", "a numeral in prose as the last number")
pair("cjk_numeral", "答案是@个。", "5", "五", "四")

# ---- answer markers in each language, with a later number the marker must win over
MARK = {
    "zh": ["答案是 @。我们一共用了 3 步。", "最终答案：@\n（共检查了 3 次）", "所以答案是 @，验证了 2 次。",
           "综上所述，答案为 @。第 3 步是关键。", "答：@。这道题有 2 种解法。"],
    "zh_hant": ["答案是 @。我們一共用了 3 步。", "最終答案：@（共檢查了 3 次）", "所以答案為 @，驗證了 2 次。"],
    "ja": ["答えは @ です。3 つの方法で確認しました。", "よって、答えは @ です。", "答え：@（2 回確認）",
           "したがって、求める値は @ です。"],
    "ko": ["정답은 @입니다. 3가지 방법으로 확인했습니다.", "따라서 답은 @입니다.", "답: @ (2번 확인함)"],
    "es": ["La respuesta es @. Lo comprobé 3 veces.", "Por lo tanto, la respuesta final es @.",
           "Respuesta: @ (verificado con 2 métodos)", "Entonces, la respuesta correcta es @ manzanas."],
    "fr": ["La réponse est @. J'ai vérifié 3 fois.", "Donc la réponse finale est @.",
           "Réponse : @ (vérifié de 2 façons)", "Ainsi, la bonne réponse est @ pommes."],
    "de": ["Die Antwort ist @. Ich habe es 3-mal geprüft.", "Also lautet die Antwort @.",
           "Antwort: @ (mit 2 Methoden geprüft)", "Das Ergebnis ist @ Äpfel."],
    "ru": ["Ответ: @. Я проверил это 3 раза.", "Итак, ответ равен @.", "Ответ — @ (проверено 2 способами)",
           "Таким образом, ответ: @ яблок."],
    "pt": ["A resposta é @. Verifiquei 3 vezes.", "Portanto, a resposta final é @.",
           "Resposta: @ (verificado de 2 formas)"],
    "ar": ["الإجابة هي @. تحققت 3 مرات.", "إذن، الإجابة النهائية هي @.", "الجواب: @"],
    "hi": ["उत्तर @ है। मैंने 3 बार जाँच की।", "अतः अंतिम उत्तर @ है।", "उत्तर: @"],
}
for lang, ts in MARK.items():
    for t in ts:
        pair("marker_" + lang, t, "12", "12", "13")
# a marker then a box / LaTeX in non-English text
for t in ["因此，答案是 $\\boxed{@}$。", "所以最终答案为 \\(@\\)。", "Por lo tanto, $\\boxed{@}$ es la respuesta.",
          "Donc $x = @$.", "Also ist $x = @$.", "Ответ: $@$.", "答えは $\\boxed{@}$ です。", "정답: $\\boxed{@}$"]:
    pair("boxed_lang", t, "\\frac{3}{4}", "\\frac{3}{4}", "\\frac{4}{3}")

# ---- negations: the value ruled out must not win
NEG = [("答案是 @，不是 13。", "12"), ("答案是 @，而不是 13。", "12"), ("不是 13，而是 @。", "12"),
       ("答案應該是 @，不是 13。", "12"), ("La respuesta es @, no 13.", "12"), ("No es 13, sino @.", "12"),
       ("La réponse est @, pas 13.", "12"), ("Ce n'est pas 13 mais @.", "12"),
       ("Die Antwort ist @, nicht 13.", "12"), ("Nicht 13, sondern @.", "12"),
       ("Ответ: @, а не 13.", "12"), ("Не 13, а @.", "12"), ("A resposta é @, não 13.", "12"),
       ("Não é 13, mas sim @.", "12"), ("答えは @ で、13 ではありません。", "12"), ("정답은 13이 아니라 @입니다.", "12")]
for t, g in NEG:
    add("negation", t.replace("@", g), g, True)
    add("negation", t.replace("@", g), "13", False, "the value the text rules out")

# ---- retractions
RET = ["答案是 13。等等，不对，应该是 @。", "答案是 13。不对，答案是 @。", "我先得到 13，但算错了，正确答案是 @。",
       "La respuesta es 13. Espera, no: la respuesta es @.", "La réponse est 13. Attends, non : @.",
       "Die Antwort ist 13. Moment, nein: die Antwort ist @.", "Ответ: 13. Подождите, нет, ответ: @.",
       "A resposta é 13. Espere, não: a resposta é @.", "答えは 13。待って、違う、答えは @ です。"]
for t in RET:
    add("retraction", t.replace("@", "12"), "12", True)
    add("retraction", t.replace("@", "12"), "13", False, "retracted")

# ---- units and currencies
UNITS = ["答案是 @ 个。", "一共需要 @ 元。", "答案是 @个苹果。", "他今年 @ 岁。", "答案：@ 厘米",
         "La respuesta es @ €.", "La réponse est @ euros.", "Die Antwort ist @ Euro.", "Ответ: @ руб.",
         "Ответ: @ рублей.", "A resposta é R$ @.", "La respuesta es @ metros.", "答えは @ 個です。",
         "정답은 @개입니다.", "الإجابة هي @ دولارًا.", "उत्तर @ रुपये है।", "Ответ: @ км.", "答案是 @ 公里。"]
for t in UNITS:
    pair("units", t, "12", "12", "15")

# ---- qualifiers in other languages (hedges stay no answer, as "about 12")
for t in ["答案大约是 @。", "答案是 @ 左右。", "答案至少是 @。", "La respuesta es aproximadamente @.",
          "La réponse est environ @.", "Die Antwort ist ungefähr @.", "Ответ: примерно @.",
          "A resposta é cerca de @.", "答えは約 @ です。", "答案可能是 @。", "Quizás la respuesta es @."]:
    add("qualifier", t.replace("@", "12"), "12", False, "policy: a hedge is no answer, as 'about 12'")
    add("qualifier", t.replace("@", "13"), "12", False)

# ---- decimal commas and thousands separators (policy: a decimal comma only against a decimal gold,
# never with three digits after it; a thousands dot or space where the language writes it)
for t in ["La réponse est @.", "La respuesta es @.", "Die Antwort ist @.", "Ответ: @.", "A resposta é @.",
          "Il reste @ litres.", "Quedan @ litros.", "Es bleiben @ Liter übrig.", "Осталось @ литра.",
          "Sobram @ litros."]:
    add("decimal_comma", t.replace("@", "12,5"), "12.5", True, "policy: decimal comma, decimal gold")
    add("decimal_comma", t.replace("@", "12,5"), "5", False, "the decimal read as two numbers")
    add("decimal_comma", t.replace("@", "12,5"), "125", False)
    add("decimal_comma", t.replace("@", "12,6"), "12.5", False)
for t in ["Die Antwort ist @ Euro.", "La respuesta es @ euros.", "A resposta é R$ @.", "Insgesamt @ Euro.",
          "En total, @ personas."]:
    add("thousands_dot", t.replace("@", "1.250"), "1250", True, "policy: a thousands dot in a "
        "language that writes it")
    add("thousands_dot", t.replace("@", "1.250"), "1.25", False, "policy: in this language 1.250 is 1250")
    add("thousands_dot", t.replace("@", "1.350"), "1250", False)
    add("thousands_dot", t.replace("@", "1.250,50"), "1250.5", True)
    add("thousands_dot", t.replace("@", "1.250,50"), "50", False)
for t in ["La réponse est @ €.", "Ответ: @ руб.", "La réponse est @.", "Итого @ рублей."]:
    for sp in [" ", "\u00a0", "\u202f"]:
        add("thousands_space", t.replace("@", "1" + sp + "250"), "1250", True)
        add("thousands_space", t.replace("@", "1" + sp + "250"), "250", False)
add("thousands_dot", "Die Antwort ist 1.250.000 Euro.", "1250000", True)
add("thousands_dot", "Die Antwort ist 1.250.000 Euro.", "1.25", False)
add("thousands_dot", "The answer is 1.250 kg.", "1.25", True, "English keeps the decimal point")
add("thousands_dot", "The answer is 1.250 kg.", "1250", False, "English keeps the decimal point")
add("thousands_dot", "So the answer is 3.142.", "3.142", True)

# ---- Chinese prose without a marker (the last number), with a concluding word before it
ZH_PRE, EU_PRE = "一开始有 20 个，用掉了 8 个。", "Al principio 20, luego 8 menos. "
for t in ["所以她现在有 @ 个苹果。", "因此，火车行驶了 @ 公里。", "故总共需要 @ 元。", "所以一共是 @ 人。"]:
    pair("prose_lang", ZH_PRE + t, "12", "12", "13")
for t in ["Por lo tanto, María tiene @ manzanas.", "Donc, il a @ billes.", "Also hat sie @ Äpfel.",
          "Итак, у неё @ яблок.", "Portanto, ela tem @ maçãs."]:
    pair("prose_lang", EU_PRE + t, "12", "12", "13")

# ---- mixed: full-width punctuation next to ASCII answers in English
for t in ["The answer is @。", "Answer：@", "The final answer is（@）.", "So x = @；done."]:
    pair("mixed_punct", t, "12", "12", "13")
add("mixed_punct", "The answer is 12，not 13.", "12", True)
add("mixed_punct", "The answer is 12，not 13.", "13", False, "the value the text rules out")

if __name__ == "__main__":
    write()

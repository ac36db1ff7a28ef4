// Completions not in English or not in ASCII, read as the English the math extractor knows.
// Invariants: one pass per step, linear in the text; a numeral run longer than a bound is left
// as it is; words of a European language are read only where the text holds one of that
// language's answer words (so English "no", "also", "pas" never change).
#pragma once
#include <string>

namespace aha {

// Full-width forms to ASCII, other decimal digit scripts (and styled math digits 𝟏𝟐) to ASCII
// digits, invisible characters (zero-width, soft hyphen) dropped, CJK and Arabic punctuation to
// ASCII punctuation and a space, no-break and ideographic spaces to spaces.
std::string math_fold_script(const std::string& text);

// math_fold_script, then CJK numerals as digits ("十二" 12, "三分之一" 1/3, "百分之二十五" 25%),
// then answer markers, negations, retractions and hedges of eleven languages as English words
// ("答案是" "the answer is", "不是" "not", "die Antwort ist" "the answer is"), and European
// decimal commas and thousands dots as the language writes them ("12,5" 12.5, "1.250" 1250).
std::string math_from_language(const std::string& text);

}  // namespace aha

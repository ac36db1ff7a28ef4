#include "reward/math_lang.h"

#include <re2/re2.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

namespace {

// Decodes the UTF-8 code point at s[i] (a malformed byte reads as itself, one byte long).
char32_t decode(const std::string& s, size_t i, size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *len = 1;
    return c;
  }
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; k++) {
    unsigned char b = static_cast<unsigned char>(s[i + k]);
    if ((b >> 6) != 0x2) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *len = n;
  return cp;
}

// The value of a decimal digit in any script the fold knows, or -1.
int digit_of(char32_t cp) {
  if (cp >= '0' && cp <= '9') return static_cast<int>(cp - '0');
  // Also the styled digits of Mathematical Alphanumeric Symbols (bold, double-struck, sans, sans
  // bold, monospace): a reader sees 12 in "𝟏𝟐".
  static const char32_t zeros[] = {0x0660, 0x06F0, 0x0966,  0x09E6,  0x0A66,  0x0AE6,  0x0BE6,
                                   0x0E50, 0xFF10, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6};
  for (char32_t z : zeros)
    if (cp >= z && cp <= z + 9) return static_cast<int>(cp - z);
  return -1;
}

int next_digit(const std::string& s, size_t i) {
  if (i >= s.size()) return -1;
  size_t n;
  return digit_of(decode(s, i, &n));
}

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string math_fold_script(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      out += s[i++];
      continue;
    }
    size_t n;
    char32_t cp = decode(s, i, &n);
    size_t at = i;
    i += n;
    int d = digit_of(cp);
    if (d >= 0) {
      out += static_cast<char>('0' + d);
      continue;
    }
    // A comma or point between digits is a separator in the number ("１２．５", "١٢٫٥").
    bool between = !out.empty() && is_ascii_digit(out.back()) && next_digit(s, i) >= 0;
    switch (cp) {
      case 0x200B:  // zero-width space, joiners, word joiner, BOM and soft hyphen are invisible:
      case 0x200C:  // "1\u200b2" reads 12, never two numbers
      case 0x200D:
      case 0x2060:
      case 0xFEFF:
      case 0x00AD:
        continue;
      case 0x3000:
      case 0x00A0:
      case 0x202F:
      case 0x2009:
      case 0x2007:
        out += ' ';
        continue;
      case 0x3002:
      case 0xFF61:
      case 0x06D4:
      case 0x0964:
      case 0x0965:
        out += ". ";
        continue;
      case 0x3001:
      case 0x060C:
        out += ", ";
        continue;
      case 0xFF0C:
        out += between ? "," : ", ";
        continue;
      case 0xFF0E:
        out += between ? "." : ". ";
        continue;
      case 0x066B:
        out += '.';
        continue;
      case 0x066C:
        out += ',';
        continue;
      case 0x066A:
        out += '%';
        continue;
      case 0xFF1A:
        out += ": ";
        continue;
      case 0xFF1B:
      case 0x061B:
        out += "; ";
        continue;
      case 0xFF01:  // a full-width "！" ends a sentence, never a factorial
        out += ". ";
        continue;
      case 0xFF1F:
      case 0x061F:
        out += "? ";
        continue;
      case 0xFF08:
        out += " (";
        continue;
      case 0xFF09:
        out += ") ";
        continue;
      case 0x300C:
      case 0x300D:
      case 0x300E:
      case 0x300F:
        out += '"';
        continue;
      default:
        break;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E) {  // the full-width forms of ASCII
      out += static_cast<char>(cp - 0xFEE0);
      continue;
    }
    out.append(s, at, n);
  }
  return out;
}

namespace {

// ---------------------------------------------------------------- CJK numerals

int cjk_digit(char32_t cp) {
  switch (cp) {
    case U'〇':
    case U'零':
      return 0;
    case U'一':
    case U'壹':
      return 1;
    case U'二':
    case U'两':
    case U'兩':
    case U'贰':
    case U'貳':
      return 2;
    case U'三':
    case U'叁':
    case U'參':
      return 3;
    case U'四':
    case U'肆':
      return 4;
    case U'五':
    case U'伍':
      return 5;
    case U'六':
    case U'陆':
    case U'陸':
      return 6;
    case U'七':
    case U'柒':
      return 7;
    case U'八':
    case U'捌':
      return 8;
    case U'九':
    case U'玖':
      return 9;
    default:
      return -1;
  }
}

long long cjk_unit(char32_t cp) {
  switch (cp) {
    case U'十':
    case U'拾':
      return 10;
    case U'百':
    case U'佰':
      return 100;
    case U'千':
    case U'仟':
      return 1000;
    case U'万':
    case U'萬':
      return 10000;
    case U'亿':
    case U'億':
      return 100000000;
    default:
      return 0;
  }
}

bool cjk_numeral(char32_t cp) {
  return cjk_digit(cp) >= 0 || cjk_unit(cp) > 0;
}

// Below ten thousand: "二十五", "一百零五", "两千三" (2300: a last bare digit counts in tenths of the
// unit before it). -1 when it is no number ("一二", "百", "十十").
long long small_value(const std::vector<char32_t>& r, size_t b, size_t e) {
  if (b >= e) return -1;
  long long val = 0, pending = -1, last = 10000;
  bool zero = false, any = false;
  for (size_t k = b; k < e; k++) {
    int d = cjk_digit(r[k]);
    long long u = cjk_unit(r[k]);
    if (d == 0) {
      zero = true;
      any = true;
      if (pending >= 0) return -1;
      continue;
    }
    if (d > 0) {
      if (pending >= 0) return -1;
      pending = d;
      continue;
    }
    if (u <= 0 || u >= last) return -1;
    if (pending < 0) {
      if (u != 10 || !(val == 0 || zero)) return -1;
      pending = 1;
    }
    val += pending * u;
    pending = -1;
    last = u;
    zero = false;
    any = true;
  }
  if (pending >= 0) val += (last < 10000 && last > 10 && !zero) ? pending * last / 10 : pending;
  if (pending < 0 && !any) return -1;
  return val;
}

// Any size up to 亿 times ten thousand: "一万二千" 12000, "一万二" 12000, "三亿".
long long int_value(const std::vector<char32_t>& r, size_t b, size_t e) {
  for (long long big : {100000000LL, 10000LL}) {
    for (size_t k = b; k < e; k++) {
      if (cjk_unit(r[k]) != big) continue;
      long long left = big == 10000 ? small_value(r, b, k) : int_value(r, b, k);
      if (left <= 0) return -1;
      if (k + 1 == e) return left * big;
      long long right;
      if (k + 2 == e && cjk_digit(r[k + 1]) > 0)  // "一万二" is 12000
        right = cjk_digit(r[k + 1]) * big / 10;
      else
        right = int_value(r, k + 1, e);
      if (right < 0 || right >= big) return -1;
      return left * big + right;
    }
  }
  return small_value(r, b, e);
}

// A number: an integer, with a decimal part after 点 ("三点五" 3.5), with a sign (负).
std::string number_text(const std::vector<char32_t>& r, size_t b, size_t e) {
  bool neg = b < e && (r[b] == U'负' || r[b] == U'負');
  if (neg) b++;
  size_t dot = b;
  while (dot < e && r[dot] != U'点' && r[dot] != U'點') dot++;
  long long v = int_value(r, b, dot);
  if (v < 0) return "";
  std::string out = (neg ? "-" : "") + std::to_string(v);
  if (dot < e) {
    if (dot + 1 == e) return "";
    out += '.';
    for (size_t k = dot + 1; k < e; k++) {
      int d = cjk_digit(r[k]);
      if (d < 0) return "";
      out += static_cast<char>('0' + d);
    }
  }
  return out;
}

// Where a run of numerals stands after an answer word, a lone digit is a number too ("答案是五。").
bool after_answer_word(const std::string& out) {
  size_t e = out.size();
  while (e > 0 && out[e - 1] == ' ') e--;
  if (e > 0 && (out[e - 1] == ':' || out[e - 1] == '=')) return true;
  for (const char* w : {"是", "为", "為", "于", "於", "得", "は"}) {
    std::string s(w);
    if (e >= s.size() && out.compare(e - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

bool is_counter(char32_t cp) {
  for (char32_t c : U"个個只元人岁歲天次种種本张張件位条條")
    if (c && cp == c) return true;
  return false;
}

constexpr size_t kMaxNumeralRun = 24;  // a longer run of numerals is text, left as it is

// CJK numerals as ASCII numbers: "十二" 12, "一百零五" 105, "三分之一" 1/3, "百分之二十五" 25%,
// "负五" -5, "三点五" 3.5. A single digit ("一个", "第一", "三角形") stays text unless an answer
// word stands before it; "十分" (very) stays text.
std::string cjk_numerals(const std::string& s) {
  std::vector<char32_t> cps;
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size();) {
    size_t n;
    cps.push_back(decode(s, i, &n));
    at.push_back(i);
    i += n;
  }
  at.push_back(s.size());
  auto numeral_or_point = [&](size_t k) {
    return k < cps.size() && (cjk_numeral(cps[k]) || cps[k] == U'点' || cps[k] == U'點');
  };
  // The end of a number starting at k (a sign, numerals, a decimal part), or k when none starts.
  auto run_end = [&](size_t k) {
    size_t b = k;
    if (k < cps.size() && (cps[k] == U'负' || cps[k] == U'負')) k++;
    if (k >= cps.size() || !cjk_numeral(cps[k])) return b;
    while (numeral_or_point(k) && k - b < kMaxNumeralRun) k++;
    if (numeral_or_point(k)) return b;  // too long
    while (k > b && (cps[k - 1] == U'点' || cps[k - 1] == U'點')) k--;
    return k;
  };
  auto is = [&](size_t k, char32_t c) { return k < cps.size() && cps[k] == c; };
  std::string out;
  for (size_t k = 0; k < cps.size();) {
    // 百分之N: N percent.
    if (is(k, U'百') && is(k + 1, U'分') && is(k + 2, U'之')) {
      size_t e = run_end(k + 3);
      std::string v = e > k + 3 ? number_text(cps, k + 3, e) : "";
      if (!v.empty()) {
        out += v + "%";
        k = e;
        continue;
      }
    }
    size_t e = run_end(k);
    if (e == k) {
      out.append(s, at[k], at[k + 1] - at[k]);
      k++;
      continue;
    }
    // D分之N: N over D.
    if (is(e, U'分') && is(e + 1, U'之')) {
      size_t e2 = run_end(e + 2);
      std::string den = number_text(cps, k, e), num = e2 > e + 2 ? number_text(cps, e + 2, e2) : "";
      if (!den.empty() && !num.empty()) {
        out += num + "/" + den;
        k = e2;
        continue;
      }
    }
    // A lone digit ends the answer: "答案是五。", "答案是五个。", never "是一个简单的问题".
    size_t after = e + (e < cps.size() && is_counter(cps[e]) ? 1 : 0);
    bool lone = e - k == 1 && cjk_digit(cps[k]) > 0 &&
                !(after_answer_word(out) && (after >= cps.size() || cps[after] < 0x80));
    bool very =
        e - k == 1 && cps[k] == U'十' && is(e, U'分') && !is(e + 1, U'钟') && !is(e + 1, U'鐘');
    std::string v = number_text(cps, k, e);
    if (v.empty() || very || lone) {
      out.append(s, at[k], at[e] - at[k]);
    } else {
      out += v;
    }
    k = e;
  }
  return out;
}

// ---------------------------------------------------------------- words

struct Phrase {
  const char* lang;  // "" for a script of its own (no English word looks like it)
  const char* text;  // lower case, as written after the fold
  const char* english;
};

// Longer phrases first where one holds another.
const Phrase kPhrases[] = {
    // Chinese, simplified and traditional
    {"", "最终答案是", "the final answer is"},
    {"", "最終答案是", "the final answer is"},
    {"", "最终答案为", "the final answer is"},
    {"", "最終答案為", "the final answer is"},
    {"", "最终答案", "final answer"},
    {"", "最終答案", "final answer"},
    {"", "正确答案是", "the correct answer is"},
    {"", "正確答案是", "the correct answer is"},
    {"", "答案应该是", "the answer is"},
    {"", "答案應該是", "the answer is"},
    {"", "答案大约是", "the answer is about"},
    {"", "答案大約是", "the answer is about"},
    {"", "答案大概是", "the answer is about"},
    {"", "答案约为", "the answer is about"},
    {"", "答案約為", "the answer is about"},
    {"", "答案可能是", "the answer is maybe"},
    {"", "答案至少是", "the answer is at least"},
    {"", "答案至多是", "the answer is at most"},
    {"", "答案是", "the answer is"},
    {"", "答案为", "the answer is"},
    {"", "答案為", "the answer is"},
    {"", "答案等于", "the answer is"},
    {"", "答案等於", "the answer is"},
    {"", "答案", "answer"},
    {"", "答:", "answer:"},
    {"", "综上所述", "in conclusion,"},
    {"", "綜上所述", "in conclusion,"},
    {"", "所以", "so"},
    {"", "因此", "therefore"},
    {"", "而不是", "not"},
    {"", "不是", "not"},
    {"", "而是", "but"},
    {"", "等一下", "wait"},
    {"", "等等", "wait"},
    {"", "不对", "no"},
    {"", "不對", "no"},
    {"", "大约", "about"},
    {"", "大約", "about"},
    {"", "大概", "about"},
    {"", "约为", "is about"},
    {"", "約為", "is about"},
    {"", "左右", "or so"},
    {"", "至少", "at least"},
    {"", "最多", "at most"},
    {"", "至多", "at most"},
    {"", "可能", "maybe"},
    {"", "也许", "perhaps"},
    {"", "也許", "perhaps"},
    {"", "或许", "perhaps"},
    {"", "或許", "perhaps"},
    {"", "或者", "or"},
    {"", "或", "or"},
    // Japanese
    {"", "答えは", "the answer is"},
    {"", "正解は", "the answer is"},
    {"", "答え", "answer"},
    {"", "したがって", "therefore"},
    {"", "従って", "therefore"},
    {"", "よって", "so"},
    {"", "です", ""},
    {"", "である", ""},
    {"", "待って", "wait"},
    {"", "違う", "no"},
    {"", "約", "about"},
    // Korean
    {"", "정답은", "the answer is"},
    {"", "답은", "the answer is"},
    {"", "정답", "answer"},
    {"", "답:", "answer:"},
    {"", "따라서", "therefore"},
    {"", "그러므로", "therefore"},
    {"", "입니다", ""},
    {"", "이다", ""},
    // Arabic
    {"", "الإجابة النهائية هي", "the final answer is"},
    {"", "الإجابة هي", "the answer is"},
    {"", "الجواب هو", "the answer is"},
    {"", "الإجابة", "answer"},
    {"", "الجواب", "answer"},
    {"", "إذن", "so"},
    // Hindi
    {"", "अंतिम उत्तर", "the final answer is"},
    {"", "उत्तर", "the answer is"},
    {"", "है", ""},
    {"", "अतः", "therefore"},
    // Russian (Cyrillic: no English word looks like these)
    {"", "ответ равен", "the answer is"},
    {"", "ответ —", "answer:"},
    {"", "ответ -", "answer:"},
    {"", "ответ", "answer"},
    {"", "итак", "so"},
    {"", "таким образом", "thus"},
    {"", "подождите, нет", "wait, no"},
    {"", "подожди, нет", "wait, no"},
    {"", "а не", "not"},
    {"", "не менее", "at least"},
    {"", "по крайней мере", "at least"},
    {"", "не", "not"},
    {"", "а", "but"},
    {"", "примерно", "about"},
    {"", "около", "about"},
    {"", "приблизительно", "about"},
    {"", "возможно", "maybe"},
    {"", "нет", "no"},
    // Spanish
    {"es", "la respuesta final es", "the final answer is"},
    {"es", "la respuesta correcta es", "the correct answer is"},
    {"es", "la respuesta es", "the answer is"},
    {"es", "respuesta", "answer"},
    {"es", "por lo tanto", "therefore"},
    {"es", "entonces", "so"},
    {"es", "espera, no", "wait, no"},
    {"es", "espera", "wait"},
    {"es", "no es", "not"},
    {"es", "no", "not"},
    {"es", "sino", "but"},
    {"es", "aproximadamente", "about"},
    {"es", "alrededor de", "about"},
    {"es", "cerca de", "about"},
    {"es", "al menos", "at least"},
    {"es", "quizás", "maybe"},
    {"es", "quizá", "maybe"},
    {"es", "tal vez", "maybe"},
    // French
    {"fr", "la réponse finale est", "the final answer is"},
    {"fr", "la bonne réponse est", "the correct answer is"},
    {"fr", "la réponse est", "the answer is"},
    {"fr", "réponse :", "answer:"},
    {"fr", "réponse", "answer"},
    {"fr", "donc", "so"},
    {"fr", "ainsi", "thus"},
    {"fr", "attends, non", "wait, no"},
    {"fr", "attends", "wait"},
    {"fr", "n'est pas", "is not"},
    {"fr", "pas", "not"},
    {"fr", "mais", "but"},
    {"fr", "environ", "about"},
    {"fr", "à peu près", "about"},
    {"fr", "au moins", "at least"},
    {"fr", "peut-être", "maybe"},
    // German
    {"de", "die antwort lautet", "the answer is"},
    {"de", "die antwort ist", "the answer is"},
    {"de", "lautet die antwort", "the answer is"},
    {"de", "antwort", "answer"},
    {"de", "moment, nein", "wait, no"},
    {"de", "warte, nein", "wait, no"},
    {"de", "also", "so"},
    {"de", "nicht", "not"},
    {"de", "sondern", "but"},
    {"de", "ungefähr", "about"},
    {"de", "etwa", "about"},
    {"de", "mindestens", "at least"},
    {"de", "vielleicht", "maybe"},
    {"de", "nein", "no"},
    // Portuguese
    {"pt", "a resposta final é", "the final answer is"},
    {"pt", "a resposta é", "the answer is"},
    {"pt", "resposta", "answer"},
    {"pt", "portanto", "therefore"},
    {"pt", "logo", "so"},
    {"pt", "espere, não", "wait, no"},
    {"pt", "não é", "is not"},
    {"pt", "não", "not"},
    {"pt", "mas sim", "but"},
    {"pt", "mas", "but"},
    {"pt", "cerca de", "about"},
    {"pt", "aproximadamente", "about"},
    {"pt", "talvez", "maybe"},
};

// A language's words count only where the text holds one of its answer words.
const RE2& anchor_re(const std::string& lang) {
  static const RE2 es(
      R"((?i)\b(?:respuesta|resultado|sino|entonces|por lo tanto|quedan|tiene|personas)\b)");
  static const RE2 fr(R"((?i)\b(?:réponse|résultat|donc|mais|c'est|n'est|il reste|environ)\b)");
  static const RE2 de(
      R"((?i)\b(?:antwort|ergebnis|insgesamt|ist|sind|nicht|sondern|bleiben|beträgt)\b)");
  static const RE2 pt(R"((?i)\b(?:resposta|portanto|não|são|sobram|cerca de)\b)");
  return lang == "es" ? es : lang == "fr" ? fr : lang == "de" ? de : pt;
}

// A letter of a word (ASCII or any byte of a multi-byte character): a phrase in an alphabet
// matches only as whole words.
bool wordish(unsigned char c) {
  return std::isalnum(c) || c >= 0x80;
}

// Lower case for ASCII and the Cyrillic capitals (А-Я: U+0410-042F, two bytes).
std::string lower_text(const std::string& s) {
  std::string t = s;
  for (size_t i = 0; i < t.size(); i++) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (c >= 'A' && c <= 'Z') {
      t[i] = static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xD0 && i + 1 < t.size()) {
      unsigned char b = static_cast<unsigned char>(t[i + 1]);
      if (b >= 0x90 && b <= 0x9F) {  // А-П -> а-п
        t[i + 1] = static_cast<char>(b + 0x20);
      } else if (b >= 0xA0 && b <= 0xAF) {  // Р-Я -> р-я (D1 80-8F)
        t[i] = static_cast<char>(0xD1);
        t[i + 1] = static_cast<char>(b - 0x20);
      }
      i++;
    }
  }
  return t;
}

bool starts_alpha(const char* p) {
  return wordish(static_cast<unsigned char>(p[0]));
}

std::string translate_words(const std::string& s) {
  bool active[4] = {false, false, false, false};
  static const char* langs[] = {"es", "fr", "de", "pt"};
  bool any_non_ascii = false;
  for (char c : s) any_non_ascii |= static_cast<unsigned char>(c) >= 0x80;
  for (int l = 0; l < 4; l++) active[l] = RE2::PartialMatch(s, anchor_re(langs[l]));
  if (!any_non_ascii && !active[0] && !active[1] && !active[2] && !active[3]) return s;
  // Phrases grouped by first byte; the first (longest) that matches at a place is taken.
  static const std::vector<std::vector<const Phrase*>> by_byte = [] {
    std::vector<std::vector<const Phrase*>> t(256);
    for (const Phrase& p : kPhrases) t[static_cast<unsigned char>(p.text[0])].push_back(&p);
    return t;
  }();
  std::string low = lower_text(s), out;
  out.reserve(s.size() + 16);
  auto lang_on = [&](const char* lang) {
    if (!lang[0]) return true;
    for (int l = 0; l < 4; l++)
      if (std::string(lang) == langs[l]) return active[l];
    return false;
  };
  for (size_t i = 0; i < s.size();) {
    const Phrase* hit = nullptr;
    size_t len = 0;
    for (const Phrase* p : by_byte[static_cast<unsigned char>(low[i])]) {
      size_t n = std::char_traits<char>::length(p->text);
      if (low.compare(i, n, p->text) != 0 || !lang_on(p->lang)) continue;
      // Words of an alphabet stand apart ("ответ" in "ответить" is no answer word).
      bool alpha_script = p->lang[0] || (static_cast<unsigned char>(p->text[0]) == 0xD0 ||
                                         static_cast<unsigned char>(p->text[0]) == 0xD1);
      if (alpha_script) {
        if (i > 0 && wordish(static_cast<unsigned char>(low[i - 1]))) continue;
        if (starts_alpha(p->text + n - 1) && i + n < s.size() &&
            wordish(static_cast<unsigned char>(low[i + n])))
          continue;
      }
      hit = p;
      len = n;
      break;
    }
    if (!hit) {
      out += s[i++];
      continue;
    }
    if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
    out += hit->english;
    i += len;
    bool punct = i < s.size() && (s[i] == ':' || s[i] == ',' || s[i] == '.' || s[i] == ';');
    if (hit->english[0] && !punct) out += ' ';
  }
  return out;
}

// Japanese and Korean put "not" after the value: "13 ではなく 12", "13이 아니라 12", "12 で、13
// ではありません".
std::string negation_order(const std::string& s) {
  static const RE2 but_re(
      R"((\d[\d.,/]*)\s*(?:ではなく|じゃなく|이\s*아니라|가\s*아니라|이\s*아니고|가\s*아니고))");
  static const RE2 not_re(
      R"((\d[\d.,/]*)\s*(?:ではありません|ではない|じゃない|이\s*아닙니다|가\s*아닙니다|이\s*아니다|가\s*아니다))");
  std::string t = s;
  RE2::GlobalReplace(&t, but_re, " not \\1 but ");
  RE2::GlobalReplace(&t, not_re, " not \\1 ");
  return t;
}

// European numbers: in a language that writes thousands with dots (German, Spanish, Portuguese)
// "1.250" is 1250 and "1.250,50" 1250.50; there and in French or Russian a comma with one or two
// digits after it is a decimal point ("12,5"). A comma before three digits stays a thousands comma
// (the policy for "1,250"); a bracketed pair ("(2,3)") stays a pair.
std::string european_numbers(const std::string& s, bool dots, bool commas) {
  if (!dots && !commas) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool start =
        is_ascii_digit(s[i]) &&
        (i == 0 || (!is_ascii_digit(s[i - 1]) && s[i - 1] != '.' && s[i - 1] != ',' &&
                    s[i - 1] != '(' && s[i - 1] != '[' && s[i - 1] != '{' && s[i - 1] != '\\'));
    if (!start) {
      out += s[i++];
      continue;
    }
    size_t e = i;
    while (e < s.size() && (is_ascii_digit(s[e]) || s[e] == '.' || s[e] == ',')) e++;
    while (e > i && !is_ascii_digit(s[e - 1])) e--;  // a stop or comma after the number
    // Thousands set apart by spaces: "1 250" (a no-break space is a space after the fold).
    while (e + 3 < s.size() && s[e] == ' ' && is_ascii_digit(s[e + 1]) &&
           is_ascii_digit(s[e + 2]) && is_ascii_digit(s[e + 3]) &&
           (e + 4 == s.size() || !is_ascii_digit(s[e + 4])) && e - i <= 3 &&
           s.find_first_not_of("0123456789", i) >= e)
      e += 4;
    std::string tok = s.substr(i, e - i);
    static const RE2 dotted(R"(^\d{1,3}(?:\.\d{3})+(?:,\d+)?$)");
    static const RE2 comma(R"(^\d+,\d{1,2}$)");
    bool closes_pair = e < s.size() && (s[e] == ')' || s[e] == ']');
    static const RE2 spaced(R"(^\d{1,3}(?: \d{3})+$)");
    if (!closes_pair && ((dots && RE2::FullMatch(tok, dotted)) || RE2::FullMatch(tok, comma) ||
                         RE2::FullMatch(tok, spaced))) {
      for (char c : tok)
        if (c != '.' && c != ' ') out += c == ',' ? '.' : c;
    } else {
      out += tok;
    }
    i = e;
  }
  return out;
}

}  // namespace

std::string math_from_language(const std::string& text) {
  std::string t = math_fold_script(text);
  bool non_ascii = false;
  for (char c : t) non_ascii |= static_cast<unsigned char>(c) >= 0x80;
  if (non_ascii) t = negation_order(cjk_numerals(t));
  bool dots = RE2::PartialMatch(t, anchor_re("de")) || RE2::PartialMatch(t, anchor_re("es")) ||
              RE2::PartialMatch(t, anchor_re("pt"));
  static const RE2 russian(R"((?i)(?:ответ|итог|осталось))");
  bool commas = dots || RE2::PartialMatch(t, anchor_re("fr")) || RE2::PartialMatch(t, russian);
  t = european_numbers(t, dots, commas);
  static const RE2 real_re(R"(\bR\$\s?(\d))");  // Brazilian reais, "R$ 12", as dollars
  if (dots) RE2::GlobalReplace(&t, real_re, "$\\1");
  return translate_words(t);
}

}  // namespace aha

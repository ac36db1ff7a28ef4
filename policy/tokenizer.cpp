// Byte-level BPE tokenizer (see tokenizer.h). Text is handled as code points (invalid UTF-8 bytes
// become the markers 0x110000 + byte so they survive normalisation and map back to the same byte).
#include "policy/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <stdexcept>

#include "kernels/json_depth.h"
#include "kernels/user_input.h"
#include "policy/tokenizer_unicode.h"

namespace aha {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint32_t kInvalidBase = 0x110000;  // marker base for invalid UTF-8 bytes

[[noreturn]] void fail(const std::string& where, const std::string& msg) {
  throw std::runtime_error(where + ": " + msg);
}

// ---------------------------------------------------------------- UTF-8

// Decodes one code point at s[i]; invalid or overlong sequences yield kInvalidBase + byte,
// length 1.
inline uint32_t utf8_next(std::string_view s, size_t& i) {
  unsigned char c = (unsigned char)s[i];
  if (c < 0x80) {
    i += 1;
    return c;
  }
  int len = 0;
  uint32_t cp = 0, min = 0;
  if ((c & 0xE0) == 0xC0)
    len = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    len = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    len = 4, cp = c & 0x07, min = 0x10000;
  if (len == 0 || i + len > s.size()) {
    i += 1;
    return kInvalidBase + c;
  }
  for (int k = 1; k < len; k++) {
    unsigned char d = (unsigned char)s[i + k];
    if ((d & 0xC0) != 0x80) {
      i += 1;
      return kInvalidBase + c;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    i += 1;
    return kInvalidBase + c;
  }
  i += len;
  return cp;
}

inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back((char)cp);
  } else if (cp < 0x800) {
    out.push_back((char)(0xC0 | (cp >> 6)));
    out.push_back((char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back((char)(0xE0 | (cp >> 12)));
    out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back((char)(0x80 | (cp & 0x3F)));
  } else if (cp < kInvalidBase) {
    out.push_back((char)(0xF0 | (cp >> 18)));
    out.push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back((char)(0x80 | (cp & 0x3F)));
  } else {
    out.push_back((char)(cp - kInvalidBase));  // invalid byte marker: the raw byte
  }
}

void utf8_decode_all(std::string_view s, std::vector<uint32_t>& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) out.push_back(utf8_next(s, i));
}

// ---------------------------------------------------------------- Unicode classes

// Class byte: bits 0-2 the major category (unicode::Cat), bit 3 White_Space, bit 4 '\r' or '\n'.
constexpr uint8_t kWs = 8, kNl = 16;

uint32_t range_lookup(const unicode::CatRange* r, int n, uint32_t cp) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (cp < r[mid].lo)
      hi = mid - 1;
    else if (cp > r[mid].hi)
      lo = mid + 1;
    else
      return r[mid].value;
  }
  return 0;
}

struct AsciiClasses {
  uint8_t c[128];
  AsciiClasses() {
    for (uint32_t cp = 0; cp < 128; cp++) {
      uint8_t v = (uint8_t)range_lookup(unicode::kCatRanges, unicode::kNumCatRanges, cp);
      if ((cp >= 9 && cp <= 13) || cp == 32) v |= kWs;
      if (cp == '\r' || cp == '\n') v |= kNl;
      c[cp] = v;
    }
  }
};
const AsciiClasses kAscii;

inline uint8_t classify(uint32_t cp) {
  if (cp < 128) return kAscii.c[cp];
  if (cp >= kInvalidBase) return unicode::kOther;
  uint8_t v = (uint8_t)range_lookup(unicode::kCatRanges, unicode::kNumCatRanges, cp);
  if (v == unicode::kZ || cp == 0x85) {
    for (int k = 0; k < unicode::kNumWhiteSpace; k++)
      if (unicode::kWhiteSpace[k] == cp) v |= kWs;
  }
  return v;
}

inline uint8_t cat(uint8_t cl) {
  return cl & 7;
}
inline bool is_l(uint8_t cl) {
  return cat(cl) == unicode::kL;
}
inline bool is_n(uint8_t cl) {
  return cat(cl) == unicode::kN;
}
inline bool is_ws(uint8_t cl) {
  return cl & kWs;
}
inline bool is_nl(uint8_t cl) {
  return cl & kNl;
}
inline bool is_lm(uint8_t cl) {
  return cat(cl) == unicode::kL || cat(cl) == unicode::kM;
}
inline bool is_ps(uint8_t cl) {
  return cat(cl) == unicode::kP || cat(cl) == unicode::kS;
}

// ---------------------------------------------------------------- NFC

int ccc_of(uint32_t cp) {
  if (cp < 0x300 || cp >= kInvalidBase) return 0;
  return (int)range_lookup(unicode::kCccRanges, unicode::kNumCccRanges, cp);
}

constexpr uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr uint32_t LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount,
                   SCount = LCount * NCount;

bool nfc_quick_ok(const std::vector<uint32_t>& cps) {
  for (uint32_t cp : cps) {
    if (cp < 0x300 || cp >= kInvalidBase) continue;
    if (range_lookup(unicode::kNfcUnsafeRanges, unicode::kNumNfcUnsafeRanges, cp)) return false;
  }
  return true;
}

uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase &&
      b < TBase + TCount)
    return a + (b - TBase);
  int lo = 0, hi = unicode::kNumComps - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const unicode::Comp& c = unicode::kComps[mid];
    if (c.first < a || (c.first == a && c.second < b))
      lo = mid + 1;
    else if (c.first == a && c.second == b)
      return c.composite;
    else
      hi = mid - 1;
  }
  return 0;
}

// In-place NFC of a code point sequence (UAX #15: decompose, canonical order, compose). Returns
// false when the quick check shows the text is already NFC (left untouched).
bool nfc_cps(std::vector<uint32_t>& cps) {
  if (nfc_quick_ok(cps)) return false;
  std::vector<uint32_t> d;
  d.reserve(cps.size() + 8);
  for (uint32_t cp : cps) {
    if (cp >= SBase && cp < SBase + SCount) {
      uint32_t s = cp - SBase;
      d.push_back(LBase + s / NCount);
      d.push_back(VBase + (s % NCount) / TCount);
      if (s % TCount) d.push_back(TBase + s % TCount);
      continue;
    }
    int lo = 0, hi = unicode::kNumDecomps - 1, found = -1;
    while (lo <= hi) {
      int mid = (lo + hi) / 2;
      if (unicode::kDecomps[mid].cp < cp)
        lo = mid + 1;
      else if (unicode::kDecomps[mid].cp > cp)
        hi = mid - 1;
      else {
        found = mid;
        break;
      }
    }
    if (found < 0) {
      d.push_back(cp);
    } else {
      const unicode::Decomp& e = unicode::kDecomps[found];
      for (uint32_t k = 0; k < e.len; k++) d.push_back(unicode::kDecompPool[e.offset + k]);
    }
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  std::vector<int> cc(d.size());
  for (size_t i = 0; i < d.size(); i++) cc[i] = ccc_of(d[i]);
  for (size_t i = 0; i < d.size();) {
    if (cc[i] == 0) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < d.size() && cc[j] != 0) j++;
    if (j - i <= 32) {
      for (size_t a = i + 1; a < j; a++)  // insertion sort: runs are short in real text
        for (size_t b = a; b > i && cc[b - 1] > cc[b]; b--) {
          std::swap(cc[b - 1], cc[b]);
          std::swap(d[b - 1], d[b]);
        }
    } else {  // long runs (stacked marks, "Zalgo" text) would make insertion sort quadratic
      std::vector<std::pair<int, uint32_t>> run;
      for (size_t k = i; k < j; k++) run.push_back({cc[k], d[k]});
      std::stable_sort(run.begin(), run.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; });
      for (size_t k = i; k < j; k++) cc[k] = run[k - i].first, d[k] = run[k - i].second;
    }
    i = j;
  }
  // Canonical composition.
  cps.clear();
  int starter = -1, last_cc = -1;
  for (size_t i = 0; i < d.size(); i++) {
    uint32_t ch = d[i];
    int c = cc[i];
    // Not blocked: nothing between the starter and ch (last_cc == 0: every character since the
    // starter was absorbed into it), or only characters of a lower combining class.
    if (starter >= 0 && (last_cc == 0 || last_cc < c)) {
      uint32_t comp = compose_pair(cps[starter], ch);
      if (comp) {
        cps[starter] = comp;
        continue;
      }
    }
    if (c == 0) starter = (int)cps.size();
    last_cc = c;
    cps.push_back(ch);
  }
  return true;
}

// ---------------------------------------------------------------- pre-tokenizer matchers
// Each returns the end of the regex match starting exactly at i within [i, n), or i if none.

inline bool ci(uint32_t c, char lower) {
  return c == (uint32_t)lower || c == (uint32_t)(lower - 32) || (lower == 's' && c == 0x17F) ||
         (lower == 'k' && c == 0x212A);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) (case_insensitive) or the same without (?i).
size_t m_contraction(const uint32_t* cp, size_t i, size_t n, bool case_insensitive) {
  if (cp[i] != '\'' || i + 1 >= n) return i;
  auto eq = [&](uint32_t c, char lower) {
    return case_insensitive ? ci(c, lower) : c == (uint32_t)lower;
  };
  uint32_t a = cp[i + 1];
  if (eq(a, 's') || eq(a, 't') || eq(a, 'm') || eq(a, 'd')) return i + 2;
  if (i + 2 < n) {
    uint32_t b = cp[i + 2];
    if ((eq(a, 'r') && eq(b, 'e')) || (eq(a, 'v') && eq(b, 'e')) || (eq(a, 'l') && eq(b, 'l')))
      return i + 3;
  }
  return i;
}

// \s*[\r\n]+|\s+(?!\S)|\s+ starting at whitespace i (with_newline_alt adds the first alternative).
size_t m_whitespace(const uint8_t* cl, size_t i, size_t n, bool with_newline_alt) {
  size_t w = i, last_nl = SIZE_MAX;
  while (w < n && is_ws(cl[w])) {
    if (is_nl(cl[w])) last_nl = w;
    w++;
  }
  if (with_newline_alt && last_nl != SIZE_MAX) return last_nl + 1;
  if (w == n) return w;          // \s+(?!\S) at the end
  if (w - i >= 2) return w - 1;  // \s+(?!\S) backs off one so the next char is whitespace
  return w;                      // \s+
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,K}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+       (Qwen2: K = 1, cl100k/Llama-3: K = 3)
size_t m_qwen(const uint32_t* cp, const uint8_t* cl, size_t i, size_t n, int max_digits) {
  size_t e = m_contraction(cp, i, n, true);
  if (e > i) return e;
  uint8_t c = cl[i];
  auto other = [&](uint8_t x) { return !is_ws(x) && !is_l(x) && !is_n(x); };
  size_t j = SIZE_MAX;
  if (is_l(c))
    j = i;
  else if (!is_nl(c) && !is_n(c) && i + 1 < n && is_l(cl[i + 1]))
    j = i + 1;
  if (j != SIZE_MAX) {
    while (j < n && is_l(cl[j])) j++;
    return j;
  }
  if (is_n(c)) {
    j = i;
    while (j < n && (int)(j - i) < max_digits && is_n(cl[j])) j++;
    return j;
  }
  j = i;
  if (cp[i] == ' ' && i + 1 < n && other(cl[i + 1])) j = i + 1;
  if (other(cl[j])) {
    while (j < n && other(cl[j])) j++;
    while (j < n && is_nl(cl[j])) j++;
    return j;
  }
  if (is_ws(c)) return m_whitespace(cl, i, n, true);
  return i;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t m_gpt2(const uint32_t* cp, const uint8_t* cl, size_t i, size_t n) {
  size_t e = m_contraction(cp, i, n, false);
  if (e > i) return e;
  auto other = [](uint8_t x) { return !is_ws(x) && !is_l(x) && !is_n(x); };
  bool (*const preds[3])(uint8_t) = {is_l, is_n, +other};
  for (auto pred : preds) {
    size_t j = i;
    if (cp[i] == ' ' && i + 1 < n && pred(cl[i + 1])) j = i + 1;
    if (pred(cl[j])) {
      while (j < n && pred(cl[j])) j++;
      return j;
    }
  }
  if (is_ws(cl[i])) return m_whitespace(cl, i, n, false);
  return i;
}

inline bool ascii_punct(uint32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}
inline bool ascii_alpha(uint32_t c) {
  return (c | 32) >= 'a' && (c | 32) <= 'z';
}

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
// ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t m_deepseek_main(const uint32_t* cp, const uint8_t* cl, size_t i, size_t n) {
  if (ascii_punct(cp[i]) && i + 1 < n && ascii_alpha(cp[i + 1])) {
    size_t j = i + 1;
    while (j < n && ascii_alpha(cp[j])) j++;
    return j;
  }
  uint8_t c = cl[i];
  size_t j = SIZE_MAX;
  if (!is_nl(c) && !is_l(c) && !is_ps(c) && i + 1 < n && is_lm(cl[i + 1]))
    j = i + 1;
  else if (is_lm(c))
    j = i;
  if (j != SIZE_MAX) {
    while (j < n && is_lm(cl[j])) j++;
    return j;
  }
  j = i;
  if (cp[i] == ' ' && i + 1 < n && is_ps(cl[i + 1])) j = i + 1;
  if (is_ps(cl[j])) {
    while (j < n && is_ps(cl[j])) j++;
    while (j < n && is_nl(cl[j])) j++;
    return j;
  }
  if (is_ws(c)) return m_whitespace(cl, i, n, true);
  return i;
}

size_t m_digits3(const uint8_t* cl, size_t i, size_t n) {
  size_t j = i;
  while (j < n && j - i < 3 && is_n(cl[j])) j++;
  return j;
}

inline bool deepseek_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF);
}
size_t m_cjk(const uint32_t* cp, size_t i, size_t n) {
  size_t j = i;
  while (j < n && deepseek_cjk(cp[j])) j++;
  return j;
}

// Exact pattern strings recognised (as they appear in tokenizer.json after JSON unescaping).
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kCl100kRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kDeepSeekDigitsRegex = R"(\p{N}{1,3})";
const char* const kDeepSeekCjkRegex =
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+";
const char* const kDeepSeekMainRegex =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

// A piece of the working buffer: code points [a, b).
struct Span {
  uint32_t a, b;
};

// Working state of one segment: code points, their classes, current pieces.
struct PreTokState {
  std::vector<uint32_t> cps;  // [N]
  std::vector<uint8_t> cls;   // [N]
  std::vector<Span> spans, next;
  std::vector<std::pair<Span, bool>> segs;  // (range, is_match) of one split
  std::string_view bytes;                   // UTF-8 of cps: the input text, or own
  std::vector<uint32_t> off;                // [N+1] byte offset of each code point in bytes
  std::string own;
  bool rebuilt = false;  // cps no longer match bytes (a prefix space was inserted)
};

void find_matches(const PreTokStep& st, const PreTokState& s, Span sp,
                  std::vector<std::pair<Span, bool>>& segs) {
  segs.clear();
  const uint32_t* cp = s.cps.data();
  const uint8_t* cl = s.cls.data();
  size_t n = sp.b, gap = sp.a, i = sp.a;
  const std::vector<uint32_t>& lit = st.literal_cps;
  while (i < n) {
    size_t e = i;
    switch (st.pattern) {
      case SplitPattern::kQwen2:
        e = m_qwen(cp, cl, i, n, 1);
        break;
      case SplitPattern::kCl100k:
        e = m_qwen(cp, cl, i, n, 3);
        break;
      case SplitPattern::kGpt2:
        e = m_gpt2(cp, cl, i, n);
        break;
      case SplitPattern::kDeepSeekDigits:
        e = m_digits3(cl, i, n);
        break;
      case SplitPattern::kDeepSeekCjk:
        e = m_cjk(cp, i, n);
        break;
      case SplitPattern::kDeepSeekMain:
        e = m_deepseek_main(cp, cl, i, n);
        break;
      case SplitPattern::kLiteral:
        if (!lit.empty() && i + lit.size() <= n && std::equal(lit.begin(), lit.end(), cp + i))
          e = i + lit.size();
        break;
    }
    if (e == i) {
      i++;
      continue;
    }
    if (gap < i) segs.push_back({{(uint32_t)gap, (uint32_t)i}, false});
    segs.push_back({{(uint32_t)i, (uint32_t)e}, true});
    i = gap = e;
  }
  if (gap < n) segs.push_back({{(uint32_t)gap, (uint32_t)n}, false});
}

// Applies the split behaviour (the HF SplitDelimiterBehavior rules) and appends pieces to out.
void apply_behavior(const PreTokStep& st, std::vector<std::pair<Span, bool>>& segs,
                    std::vector<Span>& out) {
  if (st.invert)
    for (auto& s : segs) s.second = !s.second;
  std::vector<std::pair<Span, bool>> acc;
  bool prev = false;
  switch (st.behavior) {
    case SplitBehavior::kIsolated:
      for (auto& s : segs) out.push_back(s.first);
      return;
    case SplitBehavior::kRemoved:
      for (auto& s : segs)
        if (!s.second) out.push_back(s.first);
      return;
    case SplitBehavior::kMergedWithPrevious:
      for (auto& s : segs) {
        if (s.second && !prev && !acc.empty())
          acc.back().first.b = s.first.b;
        else
          acc.push_back(s);
        prev = s.second;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t k = segs.size(); k-- > 0;) {
        auto& s = segs[k];
        if (s.second && !prev && !acc.empty())
          acc.back().first.a = s.first.a;
        else
          acc.push_back(s);
        prev = s.second;
      }
      std::reverse(acc.begin(), acc.end());
      break;
    case SplitBehavior::kContiguous:
      for (auto& s : segs) {
        if (s.second == prev && !acc.empty())
          acc.back().first.b = s.first.b;
        else
          acc.push_back(s);
        prev = s.second;
      }
      break;
  }
  for (auto& s : acc) out.push_back(s.first);
}

void reclassify(PreTokState& s) {
  s.cls.resize(s.cps.size());
  for (size_t i = 0; i < s.cps.size(); i++) s.cls[i] = classify(s.cps[i]);
}

// Runs the pre-tokenizer steps on s.cps; leaves the pieces in s.spans.
void pre_tokenize(const Tokenizer& tok, PreTokState& s) {
  s.rebuilt = false;
  reclassify(s);
  s.spans.clear();
  if (!s.cps.empty()) s.spans.push_back({0, (uint32_t)s.cps.size()});
  PreTokStep gpt2_step;
  gpt2_step.pattern = SplitPattern::kGpt2;
  for (const PreTokStep& st : tok.pre) {
    if (!st.is_split) {
      if (st.add_prefix_space) {  // rebuild the buffer with a space before each piece lacking one
        std::vector<uint32_t> cps;
        std::vector<Span> spans;
        for (Span sp : s.spans) {
          uint32_t a = (uint32_t)cps.size();
          if (s.cps[sp.a] != ' ') cps.push_back(' ');
          cps.insert(cps.end(), s.cps.begin() + sp.a, s.cps.begin() + sp.b);
          spans.push_back({a, (uint32_t)cps.size()});
        }
        s.cps.swap(cps);
        s.spans.swap(spans);
        s.rebuilt = true;
        reclassify(s);
      }
      if (!st.use_regex) continue;
    }
    const PreTokStep& split = st.is_split ? st : gpt2_step;
    s.next.clear();
    for (Span sp : s.spans) {
      find_matches(split, s, sp, s.segs);
      apply_behavior(split, s.segs, s.next);
    }
    s.spans.swap(s.next);
  }
}

// ---------------------------------------------------------------- BPE

// Word -> ids cache: open addressing on a 64-bit hash, keys and ids in arenas; cleared when full.
struct WordCache {
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = 0, ids_off = 0, ids_len = 0;
    bool used = false;
  };
  static constexpr size_t kSlots = 1 << 18;  // at most kSlots / 2 entries
  uint64_t serial = 0;
  size_t num_used = 0;
  std::vector<Slot> slots;
  std::string keys;
  std::vector<int> ids;
  void clear() {
    slots.assign(kSlots, Slot{});
    keys.clear();
    ids.clear();
    num_used = 0;
  }
  static uint64_t hash_of(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
  }
  // Slot holding s, or the empty slot where it belongs.
  Slot& find(std::string_view s, uint64_t h) {
    size_t k = h & (kSlots - 1);
    while (slots[k].used) {
      const Slot& e = slots[k];
      if (e.hash == h && e.key_len == s.size() &&
          std::memcmp(keys.data() + e.key_off, s.data(), s.size()) == 0)
        break;
      k = (k + 1) & (kSlots - 1);
    }
    return slots[k];
  }
};

inline const BpeMerge* find_merge(const Tokenizer& tok, int a, int b) {
  uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
  size_t mask = tok.merge_table.size() - 1;
  for (size_t k = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;; k = (k + 1) & mask) {
    const Tokenizer::MergeSlot& e = tok.merge_table[k];
    if (e.key == key) return &e.merge;
    if (e.key == ~0ull) return nullptr;
  }
}

void bpe_naive(const Tokenizer& tok, std::vector<int>& s) {
  while (s.size() > 1) {
    int best_rank = INT_MAX, best_id = -1;
    size_t best_i = 0;
    for (size_t i = 0; i + 1 < s.size(); i++) {
      const BpeMerge* m = find_merge(tok, s[i], s[i + 1]);
      if (m && m->rank < best_rank) best_rank = m->rank, best_id = m->merged_id, best_i = i;
    }
    if (best_id < 0) break;
    s[best_i] = best_id;
    s.erase(s.begin() + best_i + 1);
  }
}

// The naive loop with the rank of each adjacent pair cached: after a merge only the two pairs
// touching the new symbol are looked up again.
void bpe_small(const Tokenizer& tok, std::vector<int>& s) {
  constexpr int kNone = INT_MAX;
  int rank[64], merged[64];  // [n-1] rank and result of pair (i, i+1)
  int n = (int)s.size();
  if (n > 64) return bpe_naive(tok, s);
  auto look = [&](int i) {
    const BpeMerge* m = find_merge(tok, s[i], s[i + 1]);
    rank[i] = m ? m->rank : kNone;
    merged[i] = m ? m->merged_id : -1;
  };
  for (int i = 0; i + 1 < n; i++) look(i);
  while (n > 1) {
    int best = -1;
    for (int i = 0; i + 1 < n; i++)
      if (rank[i] != kNone && (best < 0 || rank[i] < rank[best])) best = i;
    if (best < 0) break;
    s[best] = merged[best];
    for (int i = best + 1; i + 1 < n; i++) {
      s[i] = s[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    n--;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  s.resize(n);
}

// Priority-queue merge loop: lowest rank first, leftmost on ties (the order HF uses).
void bpe_heap(const Tokenizer& tok, std::vector<int>& s) {
  int n = (int)s.size();
  if (n < 2) return;
  struct Cand {
    int rank, pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<int> prev(n), next(n);
  std::vector<uint8_t> alive(n, 1);
  for (int i = 0; i < n; i++) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> pq;
  auto push = [&](int i) {
    if (i < 0 || next[i] < 0) return;
    const BpeMerge* m = find_merge(tok, s[i], s[next[i]]);
    if (m) pq.push({m->rank, i, s[i], s[next[i]]});
  };
  for (int i = 0; i + 1 < n; i++) push(i);
  while (!pq.empty()) {
    Cand c = pq.top();
    pq.pop();
    int j = next[c.pos];
    if (!alive[c.pos] || j < 0 || s[c.pos] != c.left || s[j] != c.right) continue;
    s[c.pos] = find_merge(tok, c.left, c.right)->merged_id;
    alive[j] = 0;
    next[c.pos] = next[j];
    if (next[j] >= 0) prev[next[j]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  int k = 0;
  for (int i = 0; i >= 0; i = next[i]) s[k++] = s[i];
  s.resize(k);
}

// Initial symbols of a piece: one per byte (bytes with no byte-level symbol in the vocab are
// dropped, as HF does without an unk token).
void piece_symbols(const Tokenizer& tok, std::string_view piece, std::vector<int>& s) {
  s.clear();
  for (unsigned char b : piece)
    if (tok.byte_id[b] >= 0) s.push_back(tok.byte_id[b]);
}

// Byte-level form of raw bytes (each byte mapped to its GPT-2 printable code point).
struct ByteLevelTable {
  uint32_t byte_cp[256];
  std::unordered_map<uint32_t, uint8_t> cp_byte;
  ByteLevelTable() {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      byte_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + extra++);
      cp_byte[byte_cp[b]] = (uint8_t)b;
    }
  }
};
const ByteLevelTable kByteLevel;

std::string to_byte_level(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8_append(out, kByteLevel.byte_cp[b]);
  return out;
}

std::string from_byte_level(std::string_view token) {
  std::string out;
  size_t i = 0;
  while (i < token.size()) {
    size_t start = i;
    uint32_t cp = utf8_next(token, i);
    auto it = kByteLevel.cp_byte.find(cp);
    if (it != kByteLevel.cp_byte.end())
      out.push_back((char)it->second);
    else
      out.append(token.substr(start, i - start));  // not a byte-level symbol: keep as text
  }
  return out;
}

void bpe_piece(const Tokenizer& tok, std::string_view piece, std::vector<int>& out) {
  thread_local WordCache cache;
  thread_local std::vector<int> syms;
  if (cache.serial != tok.serial || cache.slots.empty()) {
    cache.clear();
    cache.serial = tok.serial;
  }
  uint64_t h = WordCache::hash_of(piece);
  WordCache::Slot* slot = &cache.find(piece, h);
  if (slot->used) {
    out.insert(out.end(), cache.ids.begin() + slot->ids_off,
               cache.ids.begin() + slot->ids_off + slot->ids_len);
    return;
  }
  syms.clear();
  if (tok.ignore_merges) {
    auto v = tok.vocab.find(to_byte_level(piece));
    if (v != tok.vocab.end()) syms.push_back(v->second);
  }
  if (syms.empty()) {
    piece_symbols(tok, piece, syms);
    if (syms.size() <= 32)
      bpe_small(tok, syms);
    else
      bpe_heap(tok, syms);
  }
  out.insert(out.end(), syms.begin(), syms.end());
  if (cache.num_used >= WordCache::kSlots / 2 || cache.keys.size() > (64u << 20)) {
    cache.clear();
    slot = &cache.find(piece, h);
  }
  *slot = {h,
           (uint32_t)cache.keys.size(),
           (uint32_t)piece.size(),
           (uint32_t)cache.ids.size(),
           (uint32_t)syms.size(),
           true};
  cache.keys.append(piece);
  cache.ids.insert(cache.ids.end(), syms.begin(), syms.end());
  cache.num_used++;
}

// ---------------------------------------------------------------- added tokens

inline bool ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
inline bool word_byte(unsigned char c) {
  return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ascii_alpha(c);
}

struct Piece {
  size_t a, b;  // byte range of the text, or of the added token match
  int id;       // added token id, or -1 for plain text
};

// Cuts text into plain segments and added-token matches (leftmost, then longest).
void split_added(const Tokenizer& tok, std::string_view text, bool parse_special,
                 std::vector<Piece>& out) {
  out.clear();
  size_t seg = 0, i = 0;
  while (i < text.size()) {
    // Walk the trie from i; the longest token ending on the way wins.
    const AddedToken* hit = nullptr;
    int node = 0;
    for (size_t j = i; j < text.size() && !tok.added_trie.empty(); j++) {
      int child = -1;
      for (const auto& [byte, idx] : tok.added_trie[node].next)
        if (byte == (unsigned char)text[j]) child = idx;
      if (child < 0) break;
      node = child;
      int k = tok.added_trie[node].added_idx;
      if (k >= 0) hit = &tok.added[k];
    }
    if (!hit) {
      i++;
      continue;
    }
    // A refused match stays text and hides the tokens inside it, as in HF (its matcher drops a
    // leftmost-longest match after finding it and goes on from the match's end).
    size_t end = i + hit->content.size();
    if ((hit->special && !parse_special) ||
        (hit->single_word &&
         ((i > 0 && word_byte(text[i - 1])) || (end < text.size() && word_byte(text[end]))))) {
      i = end;
      continue;
    }
    size_t a = i, b = i + hit->content.size();
    if (hit->lstrip)
      while (a > seg && ascii_space(text[a - 1])) a--;
    if (hit->rstrip)
      while (b < text.size() && ascii_space(text[b])) b++;
    if (seg < a) out.push_back({seg, a, -1});
    out.push_back({a, b, hit->id});
    i = seg = b;
  }
  if (seg < text.size()) out.push_back({seg, text.size(), -1});
}

// ---------------------------------------------------------------- loading

std::string read_file(const fs::path& p) {
  refuse_directory(p.string());
  std::ifstream f(p, std::ios::binary);
  if (!f) fail(p.string(), "cannot open file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse_json(const fs::path& p) {
  std::string text = read_file(p);
  json_check_depth(text, "tokenizer: " + p.string());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(p.string(), std::string("invalid JSON: ") + aha::json_error_text(e.what()));
  }
}

const json& field(const json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name)) fail(where, std::string("missing field '") + name + "'");
  return j.at(name);
}

std::string get_string(const json& j, const char* name, const std::string& where) {
  const json& v = field(j, name, where);
  if (!v.is_string()) fail(where, std::string("field '") + name + "' must be a string");
  return v.get<std::string>();
}

bool get_bool(const json& j, const char* name, bool def, const std::string& where) {
  if (!j.contains(name) || j.at(name).is_null()) return def;
  if (!j.at(name).is_boolean()) fail(where, std::string("field '") + name + "' must be a boolean");
  return j.at(name).get<bool>();
}

void parse_normalizer(Tokenizer& tok, const json& n, const std::string& where) {
  if (n.is_null()) return;
  std::string type = get_string(n, "type", where);
  if (type == "NFC") {
    tok.nfc = true;
  } else if (type == "Sequence") {
    const json& list = field(n, "normalizers", where);
    if (!list.is_array()) fail(where, "normalizers must be an array");
    for (size_t k = 0; k < list.size(); k++)
      parse_normalizer(tok, list[k], where + ".normalizers[" + std::to_string(k) + "]");
  } else {
    fail(where, "unsupported normalizer type '" + type + "' (supported: NFC, Sequence)");
  }
}

SplitPattern pattern_of(const std::string& regex, const std::string& where) {
  if (regex == kQwen2Regex) return SplitPattern::kQwen2;
  if (regex == kCl100kRegex) return SplitPattern::kCl100k;
  if (regex == kGpt2Regex) return SplitPattern::kGpt2;
  if (regex == kDeepSeekDigitsRegex) return SplitPattern::kDeepSeekDigits;
  if (regex == kDeepSeekCjkRegex) return SplitPattern::kDeepSeekCjk;
  if (regex == kDeepSeekMainRegex) return SplitPattern::kDeepSeekMain;
  fail(where, "unsupported Split regex '" + regex +
                  "' (only the Qwen2, cl100k/Llama-3, GPT-2 and DeepSeek-V3 patterns are "
                  "implemented)");
}

void parse_pre_tokenizer(Tokenizer& tok, const json& p, const std::string& where) {
  if (p.is_null()) return;
  std::string type = get_string(p, "type", where);
  if (type == "Sequence") {
    const json& list = field(p, "pretokenizers", where);
    if (!list.is_array()) fail(where, "pretokenizers must be an array");
    for (size_t k = 0; k < list.size(); k++)
      parse_pre_tokenizer(tok, list[k], where + ".pretokenizers[" + std::to_string(k) + "]");
  } else if (type == "Split") {
    PreTokStep st;
    const json& pat = field(p, "pattern", where);
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      st.pattern = pattern_of(pat["Regex"].get<std::string>(), where + ".pattern.Regex");
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      st.pattern = SplitPattern::kLiteral;
      st.literal = pat["String"].get<std::string>();
      utf8_decode_all(st.literal, st.literal_cps);
    } else {
      fail(where, "Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    std::string b = get_string(p, "behavior", where);
    if (b == "Removed")
      st.behavior = SplitBehavior::kRemoved;
    else if (b == "Isolated")
      st.behavior = SplitBehavior::kIsolated;
    else if (b == "MergedWithPrevious")
      st.behavior = SplitBehavior::kMergedWithPrevious;
    else if (b == "MergedWithNext")
      st.behavior = SplitBehavior::kMergedWithNext;
    else if (b == "Contiguous")
      st.behavior = SplitBehavior::kContiguous;
    else
      fail(where, "unknown Split behavior '" + b + "'");
    st.invert = get_bool(p, "invert", false, where);
    tok.pre.push_back(st);
  } else if (type == "ByteLevel") {
    PreTokStep st;
    st.is_split = false;
    st.add_prefix_space = get_bool(p, "add_prefix_space", true, where);
    st.use_regex = get_bool(p, "use_regex", true, where);
    tok.pre.push_back(st);
  } else {
    fail(where, "unsupported pre_tokenizer type '" + type +
                    "' (supported: Sequence, Split, ByteLevel; only byte-level BPE)");
  }
}

void parse_decoder(const json& d, const std::string& where) {
  if (d.is_null()) fail(where, "missing decoder (only the ByteLevel decoder is supported)");
  std::string type = get_string(d, "type", where);
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const json& list = field(d, "decoders", where);
    if (!list.is_array() || list.empty()) fail(where, "decoders must be a non-empty array");
    for (size_t k = 0; k < list.size(); k++)
      parse_decoder(list[k], where + ".decoders[" + std::to_string(k) + "]");
    return;
  }
  fail(where, "unsupported decoder type '" + type + "' (supported: ByteLevel)");
}

// A token id in [0, id_limit) (get<int>() wraps 2^32 + 1 to 1); id_limit, from the declared
// count, keeps a small file naming id 60,000,000 from allocating gigabytes of holes.
int token_id(const json& v, int id_limit, const std::string& where) {
  if (!v.is_number_integer()) fail(where, "token id " + v.dump() + " is not an integer");
  if (v.is_number_unsigned() ? v.get<uint64_t>() >= static_cast<uint64_t>(id_limit)
                             : (v.get<int64_t>() < 0 || v.get<int64_t>() >= id_limit))
    fail(where, "token id " + v.dump() + " out of range [0, " + std::to_string(id_limit) +
                    ") (ids may leave holes, but not far beyond the tokens the file declares)");
  return static_cast<int>(v.get<int64_t>());
}

void set_id(Tokenizer& tok, int id, const std::string& token, const std::string& bytes,
            const std::string& where) {
  if (id < 0 || id > (1 << 26)) fail(where, "token id " + std::to_string(id) + " out of range");
  if (id >= (int)tok.id_token.size()) {
    tok.id_token.resize(id + 1);
    tok.id_bytes.resize(id + 1);
    tok.id_special.resize(id + 1, 0);
  }
  tok.id_token[id] = token;
  tok.id_bytes[id] = bytes;
}

void parse_model(Tokenizer& tok, const json& m, int id_limit, const std::string& where) {
  if (!m.is_object()) fail(where, "missing or malformed model");
  if (m.contains("type") && !(m["type"].is_string() && m["type"] == "BPE"))
    fail(where, "unsupported model type '" + m["type"].dump() + "' (only BPE)");
  if (get_bool(m, "byte_fallback", false, where))
    fail(where, "byte_fallback BPE (SentencePiece-style) is not supported");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(k) && m[k].is_string() && !m[k].get<std::string>().empty())
      fail(where, std::string(k) + " is not supported");
  if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0)
    fail(where, "BPE dropout is not supported");
  tok.ignore_merges = get_bool(m, "ignore_merges", false, where);
  const json& vocab = field(m, "vocab", where);
  if (!vocab.is_object()) fail(where + ".vocab", "must be an object {token: id}");
  tok.vocab.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int id = token_id(it.value(), id_limit, where + ".vocab: token '" + it.key() + "'");
    tok.vocab[it.key()] = id;
    set_id(tok, id, it.key(), from_byte_level(it.key()), where + ".vocab");
  }
  for (int b = 0; b < 256; b++) {
    std::string s;
    utf8_append(s, kByteLevel.byte_cp[b]);
    auto it = tok.vocab.find(s);
    tok.byte_id[b] = it == tok.vocab.end() ? -1 : it->second;
  }
  if (!m.contains("merges")) fail(where, "missing field 'merges' (BPE model without merges)");
  const json& merges = m["merges"];
  if (!merges.is_array()) fail(where + ".merges", "must be an array");
  tok.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); r++) {
    const json& e = merges[r];
    std::string mw = where + ".merges[" + std::to_string(r) + "]";
    std::string a, b;
    if (e.is_string()) {
      std::string s = e.get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(mw, "merge '" + s + "' is not two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail(mw, "merge must be \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = tok.vocab.find(a), ib = tok.vocab.find(b), im = tok.vocab.find(a + b);
    if (ia == tok.vocab.end()) fail(mw, "token '" + a + "' is not in the vocab");
    if (ib == tok.vocab.end()) fail(mw, "token '" + b + "' is not in the vocab");
    if (im == tok.vocab.end()) fail(mw, "merged token '" + a + b + "' is not in the vocab");
    uint64_t key = ((uint64_t)(uint32_t)ia->second << 32) | (uint32_t)ib->second;
    tok.merges.emplace(key, BpeMerge{(int)r, im->second});  // first (lowest rank) wins
  }
  size_t cap = 16;
  while (cap < 2 * tok.merges.size()) cap *= 2;
  tok.merge_table.assign(cap, {});
  for (const auto& [key, merge] : tok.merges) {
    size_t k = (key * 0x9E3779B97F4A7C15ull) >> 20 & (cap - 1);
    while (tok.merge_table[k].key != ~0ull) k = (k + 1) & (cap - 1);
    tok.merge_table[k] = {key, merge};
  }
}

// A special token of tokenizer_config.json: "text", {"content": "text"} or null.
int config_token(const Tokenizer& tok, const json& cfg, const char* name,
                 const std::string& where) {
  if (!cfg.contains(name) || cfg[name].is_null()) return -1;
  const json& v = cfg[name];
  std::string content;
  if (v.is_string())
    content = v.get<std::string>();
  else if (v.is_object() && v.contains("content") && v["content"].is_string())
    content = v["content"].get<std::string>();
  else
    fail(where, std::string("field '") + name + "' must be a string or {\"content\": ...}");
  int id = tokenizer_token_id(tok, content);
  if (id < 0) fail(where, std::string(name) + " '" + content + "' is not a token of the vocab");
  return id;
}

std::atomic<uint64_t> g_serial{0};

}  // namespace

// ---------------------------------------------------------------- public API

Tokenizer tokenizer_load(const std::string& dir_or_json_path) {
  fs::path p(dir_or_json_path);
  fs::path json_path = fs::is_directory(p) ? p / "tokenizer.json" : p;
  fs::path cfg_path = json_path.parent_path() / "tokenizer_config.json";
  if (!fs::exists(json_path)) fail(json_path.string(), "tokenizer.json not found");
  Tokenizer tok;
  tok.source = json_path.string();
  std::fill(std::begin(tok.byte_id), std::end(tok.byte_id), -1);
  json j = parse_json(json_path);
  const std::string w = json_path.string();
  if (!j.is_object()) fail(w, "top level must be an object");
  // Ids may leave holes (ids nobody declared), up to twice the declared count plus some slack.
  size_t declared = 0;
  if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab"))
    declared += j["model"]["vocab"].size();
  if (j.contains("added_tokens")) declared += j["added_tokens"].size();
  const int id_limit = static_cast<int>(std::min<size_t>(2 * declared + 1024, (1 << 26) + 1));
  parse_model(tok, j.contains("model") ? j["model"] : json(), id_limit, w + ": model");
  parse_normalizer(tok, j.value("normalizer", json()), w + ": normalizer");
  parse_pre_tokenizer(tok, j.value("pre_tokenizer", json()), w + ": pre_tokenizer");
  if (std::none_of(tok.pre.begin(), tok.pre.end(), [](const PreTokStep& s) { return !s.is_split; }))
    fail(w + ": pre_tokenizer", "no ByteLevel step: only byte-level BPE tokenizers are supported");
  parse_decoder(j.value("decoder", json()), w + ": decoder");
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const json& list = j["added_tokens"];
    if (!list.is_array()) fail(w + ": added_tokens", "must be an array");
    for (size_t k = 0; k < list.size(); k++) {
      std::string aw = w + ": added_tokens[" + std::to_string(k) + "]";
      const json& e = list[k];
      AddedToken t;
      t.content = get_string(e, "content", aw);
      t.id = token_id(field(e, "id", aw), id_limit, aw + ": field 'id'");
      t.special = get_bool(e, "special", false, aw);
      t.lstrip = get_bool(e, "lstrip", false, aw);
      t.rstrip = get_bool(e, "rstrip", false, aw);
      t.single_word = get_bool(e, "single_word", false, aw);
      if (t.content.empty()) fail(aw, "empty content");
      set_id(tok, t.id, t.content, t.content, aw);
      tok.id_special[t.id] = t.special;
      tok.added.push_back(t);
    }
  }
  std::stable_sort(
      tok.added.begin(), tok.added.end(),
      [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  tok.added_trie.assign(1, {});
  for (size_t k = 0; k < tok.added.size(); k++) {
    int node = 0;
    for (unsigned char c : tok.added[k].content) {
      int child = -1;
      for (const auto& [byte, idx] : tok.added_trie[node].next)
        if (byte == c) child = idx;
      if (child < 0) {
        child = (int)tok.added_trie.size();
        tok.added_trie[node].next.push_back({c, child});
        tok.added_trie.emplace_back();
      }
      node = child;
    }
    // Same content twice: the first declaration wins.
    if (tok.added_trie[node].added_idx < 0) tok.added_trie[node].added_idx = (int)k;
  }
  tok.vocab_size = (int)tok.id_token.size();
  if (tok.vocab_size == 0) fail(w, "empty vocabulary");
  tok.serial = ++g_serial;
  if (fs::exists(cfg_path)) {
    json cfg = parse_json(cfg_path);
    std::string cw = cfg_path.string();
    tok.bos_id = config_token(tok, cfg, "bos_token", cw);
    tok.eos_id = config_token(tok, cfg, "eos_token", cw);
    tok.pad_id = config_token(tok, cfg, "pad_token", cw);
    tok.add_bos = get_bool(cfg, "add_bos_token", false, cw);
    tok.add_eos = get_bool(cfg, "add_eos_token", false, cw);
  }
  return tok;
}

std::vector<std::string> tokenizer_pre_tokenize(const Tokenizer& tok, std::string_view text) {
  PreTokState s;
  utf8_decode_all(text, s.cps);
  if (tok.nfc) nfc_cps(s.cps);
  pre_tokenize(tok, s);
  std::vector<std::string> out;
  for (Span sp : s.spans) {
    std::string piece;
    for (uint32_t k = sp.a; k < sp.b; k++) utf8_append(piece, s.cps[k]);
    out.push_back(piece);
  }
  return out;
}

std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text, bool parse_special) {
  thread_local PreTokState s;
  thread_local std::vector<Piece> parts;
  std::vector<int> ids;
  split_added(tok, text, parse_special, parts);
  for (const Piece& p : parts) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    std::string_view seg = text.substr(p.a, p.b - p.a);
    s.cps.clear();
    s.off.clear();
    for (size_t i = 0; i < seg.size();) {
      s.off.push_back((uint32_t)i);
      s.cps.push_back(utf8_next(seg, i));
    }
    s.off.push_back((uint32_t)seg.size());
    s.bytes = seg;
    bool changed = tok.nfc && nfc_cps(s.cps);
    pre_tokenize(tok, s);
    if (changed || s.rebuilt) {  // bytes no longer match cps: re-encode them
      s.own.clear();
      s.off.clear();
      for (uint32_t cp : s.cps) {
        s.off.push_back((uint32_t)s.own.size());
        utf8_append(s.own, cp);
      }
      s.off.push_back((uint32_t)s.own.size());
      s.bytes = s.own;
    }
    for (Span sp : s.spans) {
      std::string_view piece = s.bytes.substr(s.off[sp.a], s.off[sp.b] - s.off[sp.a]);
      if (!piece.empty()) bpe_piece(tok, piece, ids);
    }
  }
  return ids;
}

std::string tokenizer_decode(const Tokenizer& tok, const std::vector<int>& ids, bool skip_special) {
  std::string out;
  for (size_t k = 0; k < ids.size(); k++) {
    int id = ids[k];
    if (id < 0 || id >= tok.vocab_size || tok.id_token[id].empty())
      throw std::runtime_error("tokenizer_decode: id " + std::to_string(id) + " at position " +
                               std::to_string(k) + " is not in the vocabulary of " + tok.source);
    if (skip_special && tok.id_special[id]) continue;
    out += tok.id_bytes[id];
  }
  return out;
}

int tokenizer_token_id(const Tokenizer& tok, std::string_view token) {
  for (const AddedToken& t : tok.added)
    if (t.content == token) return t.id;
  auto it = tok.vocab.find(std::string(token));
  return it == tok.vocab.end() ? -1 : it->second;
}

std::string unicode_nfc(std::string_view text) {
  std::vector<uint32_t> cps;
  utf8_decode_all(text, cps);
  nfc_cps(cps);
  std::string out;
  for (uint32_t cp : cps) utf8_append(out, cp);
  return out;
}

std::vector<int> tokenizer_bpe_piece(const Tokenizer& tok, std::string_view piece, int method) {
  std::vector<int> s;
  piece_symbols(tok, piece, s);
  if (method == 0)
    bpe_naive(tok, s);
  else if (method == 1)
    bpe_small(tok, s);
  else
    bpe_heap(tok, s);
  return s;
}

}  // namespace aha

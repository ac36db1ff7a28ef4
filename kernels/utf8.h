// Well-formed UTF-8 for text that leaves the process as text (SQLite TEXT columns, JSON, reward
// reasons). Byte-level tokenizers decode to the exact bytes of the tokens, so a completion cut at
// max_tokens, or a policy sampling stray byte tokens, holds bytes that are not UTF-8; readers
// (Python's sqlite3, pandas, jq) then refuse the whole query or line.
// Invariants:
// - utf8_well_formed(s) is true exactly for well-formed UTF-8: no overlong forms, no surrogates,
//   nothing above U+10FFFF.
// - utf8_replace_invalid(s) == s when s is well formed; otherwise each maximal subpart of an
//   ill-formed sequence becomes one U+FFFD, as Python's bytes.decode(errors="replace") and
//   Hugging Face's tokenizer.decode do, so a truncated character shows as one replacement mark.
// Header-only and dependency-free so that every library can use it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace aha {

// Length of the well-formed prefix of a sequence starting at s[i] (0 < result <= 4): the whole
// sequence when it is well formed (*ok = true), else its maximal subpart (at least 1 byte).
inline size_t utf8_sequence_at(std::string_view s, size_t i, bool* ok) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80                   ? 1
                     : (c >= 0xC2 && c <= 0xDF) ? 2
                     : (c >= 0xE0 && c <= 0xEF) ? 3
                     : (c >= 0xF0 && c <= 0xF4) ? 4
                                                : 0;
  if (len == 0) {
    *ok = false;
    return 1;
  }
  for (size_t k = 1; k < len; k++) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (k == 1 && c == 0xE0) lo = 0xA0;  // overlong
    if (k == 1 && c == 0xED) hi = 0x9F;  // surrogates
    if (k == 1 && c == 0xF0) lo = 0x90;  // overlong
    if (k == 1 && c == 0xF4) hi = 0x8F;  // above U+10FFFF
    const bool fits = i + k < s.size() && static_cast<unsigned char>(s[i + k]) >= lo &&
                      static_cast<unsigned char>(s[i + k]) <= hi;
    if (!fits) {
      *ok = false;
      return k;
    }
  }
  *ok = true;
  return len;
}

inline bool utf8_well_formed(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    bool ok = true;
    i += utf8_sequence_at(s, i, &ok);
    if (!ok) return false;
  }
  return true;
}

inline std::string utf8_replace_invalid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool ok = true;
    const size_t n = utf8_sequence_at(s, i, &ok);
    if (ok)
      out.append(s.substr(i, n));
    else
      out += "\xEF\xBF\xBD";
    i += n;
  }
  return out;
}

}  // namespace aha

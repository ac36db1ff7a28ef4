// Unicode tables for the tokenizer (generated into tokenizer_unicode.cpp by
// tokenizer_unicode_gen.py: categories as Hugging Face's regex engine sees them, NFC data as its
// normaliser knows it). Invariants: every table is sorted by code
// point with disjoint ranges; code points not covered by kCatRanges are "other" (category C or
// unassigned, class 0).
#pragma once
#include <cstdint>

namespace aha::unicode {

// Major general category classes used by the pre-tokenizer regexes.
enum Cat : uint8_t { kOther = 0, kL = 1, kM = 2, kN = 3, kP = 4, kS = 5, kZ = 6 };

struct CatRange {
  uint32_t lo, hi;  // inclusive
  uint32_t value;
};
struct Decomp {
  uint32_t cp, offset, len;  // full canonical decomposition at kDecompPool[offset, offset+len)
};
struct Comp {
  uint32_t first, second, composite;  // primary composites only (no exclusions), sorted
};

extern const char* const kUnicodeVersion;
extern const CatRange kCatRanges[];
extern const int kNumCatRanges;
extern const uint32_t kWhiteSpace[];
extern const int kNumWhiteSpace;
extern const CatRange kCccRanges[];
extern const int kNumCccRanges;
extern const CatRange kNfcUnsafeRanges[];
extern const int kNumNfcUnsafeRanges;
extern const Decomp kDecomps[];
extern const int kNumDecomps;
extern const uint32_t kDecompPool[];
extern const Comp kComps[];
extern const int kNumComps;

}  // namespace aha::unicode

// The built-in tiny model's tokenizer: one token per printable ASCII character and newline, plus
// the special tokens of the R1 layout, written as an ordinary byte-level BPE tokenizer.json (no
// merges) so the tiny model goes through the same tokenizer code as real models.
// Ids are fixed: 0 <|pad|>, 1 <|bos|>, 2 <|eos|>, 3 <think>, 4 </think>, 5 <answer>, 6 </answer>,
// 7 "\n", 8.. the characters 32..126 in order. vocab_size 103.
#pragma once
#include <nlohmann/json.hpp>

namespace aha {

constexpr int kTinyVocabSize = 103;
constexpr int kTinyBos = 1;
constexpr int kTinyEos = 2;

nlohmann::json tiny_tokenizer_json();
nlohmann::json tiny_tokenizer_config_json();

}  // namespace aha

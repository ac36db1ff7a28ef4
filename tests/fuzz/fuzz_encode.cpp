// libFuzzer target: tokenizer_encode/decode of arbitrary text with the tokenizer in
// $AHA_FUZZ_TOKENIZER (a tokenizer.json path or model directory).
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "policy/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const aha::Tokenizer tok = aha::tokenizer_load(std::getenv("AHA_FUZZ_TOKENIZER"));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int> ids = aha::tokenizer_encode(tok, text, size % 2 == 0);
  const std::string back = aha::tokenizer_decode(tok, ids);
  if (!tok.nfc && back != text) __builtin_trap();  // decode(encode(x)) == x without NFC
  for (int m = 0; m < 3; m++) aha::tokenizer_bpe_piece(tok, text.substr(0, 64), m);
  return 0;
}

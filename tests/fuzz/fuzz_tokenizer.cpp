// libFuzzer target: tokenizer_load on arbitrary tokenizer.json bytes, then a round trip.
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "policy/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/aha_fuzz_tok_" + std::to_string(getpid()) + ".json";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    aha::Tokenizer tok = aha::tokenizer_load(path);
    const std::string text = "Hello, world! 123 <think>\xe4\xbd\xa0\xe5\xa5\xbd</think>\n\n  x\xff";
    std::vector<int> ids = aha::tokenizer_encode(tok, text);
    aha::tokenizer_decode(tok, ids);
  } catch (const std::runtime_error&) {
  }
  return 0;
}

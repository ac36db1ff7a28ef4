// libFuzzer target: config_from_json on arbitrary config.json bytes.
#include <stdexcept>
#include <string>

#include "policy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    aha::ModelConfig c = aha::config_from_json(j, "config.json");
    aha::config_validate(c, "config.json");
    aha::config_to_json(c).dump();
  } catch (const std::runtime_error&) {
  }
  return 0;
}

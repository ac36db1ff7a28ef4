// Protocol messages written by hand with nlohmann's msgpack writer, independently of encode(), for
// the tests that send what an honest encoder never would (missing fields, wrong types, versions).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rollout/protocol.h"

namespace aha::test {

// The msgpack bytes of a JSON value (an object becomes a map).
inline std::string msgpack_bytes(const nlohmann::json& value) {
  std::vector<uint8_t> b = nlohmann::json::to_msgpack(value);
  return std::string(b.begin(), b.end());
}

// `fields` plus the header keys: type (a string, or anything else to test that) and version.
inline std::string hand_written(const nlohmann::json& type, nlohmann::json fields = {},
                                int version = kProtocolVersion) {
  if (fields.is_null()) fields = nlohmann::json::object();
  fields["type"] = type;
  fields["version"] = version;
  return msgpack_bytes(fields);
}

// A msgpack bin field.
inline nlohmann::json bin(std::vector<uint8_t> bytes = {}) {
  return nlohmann::json::binary(std::move(bytes));
}

}  // namespace aha::test

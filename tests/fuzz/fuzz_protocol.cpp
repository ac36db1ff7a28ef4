// libFuzzer target: parse_message and every message decoder on arbitrary bytes.
#include <string>

#include "rollout/protocol.h"

namespace {
template <typename T>
void try_decode(const aha::Message& m) {
  T out;
  std::string err;
  if (!aha::decode(m, out, err) && err.empty()) __builtin_trap();  // an error must say why
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aha::Message m;
  std::string err;
  if (!aha::parse_message(data, size, m, err)) {
    if (err.empty()) __builtin_trap();
    return 0;
  }
  try_decode<aha::ReadyMsg>(m);
  try_decode<aha::HeartbeatMsg>(m);
  try_decode<aha::GenRequest>(m);
  try_decode<aha::GenResult>(m);
  try_decode<aha::WeightsAnnounce>(m);
  try_decode<aha::WeightsGet>(m);
  try_decode<aha::WeightsChunk>(m);
  try_decode<aha::WeightsAck>(m);
  try_decode<aha::ByeMsg>(m);
  try_decode<aha::ShutdownMsg>(m);
  try_decode<aha::RelayOffer>(m);
  try_decode<aha::RelayPlan>(m);
  try_decode<aha::ScoreRequest>(m);
  try_decode<aha::ScoreResult>(m);
  return 0;
}

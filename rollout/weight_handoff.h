// Weights handed from the learner to the rollout workers of its own process without the wire:
// a worker thread copies the learner's parameter buffer (host or device memory) straight into
// its engine, instead of fetching the version's bytes in checksummed chunks and copying them up.
// On one GPU (learner and engine colocated) that is one device-to-device copy.
//
// clang-format off
// Invariants:
// - A handoff offers at most one version at a time (version > 0, params set); 0 offers none.
// - weights_handoff_retract withdraws the offer and returns only after every copy that started
//   under it has finished: the learner retracts before it changes the buffer, so no worker ever
//   reads half an update.
// - A worker reads only the version it was announced; anything else (none offered while the
//   learner updates, or a newer version) is a miss, and it fetches over the wire as before.
// - The offer's memory must stay valid and unchanged until the next retract.
// clang-format on
#pragma once
#include <cstdint>
#include <shared_mutex>

#include "kernels/device.h"

namespace aha {

struct WeightsHandoff {
  std::shared_mutex mu;  // shared: a worker copying; exclusive: offer / retract
  uint64_t version = 0;
  const float* params = nullptr;  // [num_params] on `device`
  long num_params = 0;
  Device device = Device::kCpu;
};

void weights_handoff_offer(WeightsHandoff& h, uint64_t version, const float* params,
                           long num_params, Device device);
void weights_handoff_retract(WeightsHandoff& h);

// Calls copy(ctx, params, device) with the offer held when `version` of num_params parameters is
// offered; returns whether it did. copy must have finished with the memory when it returns.
bool weights_handoff_read(WeightsHandoff& h, uint64_t version, long num_params,
                          void (*copy)(void* ctx, const float* params, Device device), void* ctx);

}  // namespace aha

#include "rollout/weight_handoff.h"

#include <mutex>

namespace aha {

void weights_handoff_offer(WeightsHandoff& h, uint64_t version, const float* params,
                           long num_params, Device device) {
  std::unique_lock lock(h.mu);
  h.version = params ? version : 0;
  h.params = params;
  h.num_params = num_params;
  h.device = device;
}

void weights_handoff_retract(WeightsHandoff& h) {
  std::unique_lock lock(h.mu);  // waits for the copies in progress
  h.version = 0;
  h.params = nullptr;
  h.num_params = 0;
}

bool weights_handoff_read(WeightsHandoff& h, uint64_t version, long num_params,
                          void (*copy)(void* ctx, const float* params, Device device), void* ctx) {
  std::shared_lock lock(h.mu);
  if (version == 0 || h.version != version || h.num_params != num_params || !h.params) return false;
  copy(ctx, h.params, h.device);
  return true;
}

}  // namespace aha

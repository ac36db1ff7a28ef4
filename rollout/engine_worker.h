// A rollout worker backed by the CPU engine: adapts rollout/engine.h to the worker loop's hooks
// (rollout/worker.h), converting wire requests and results. Weights travel as the raw float32
// parameter buffer of the model (little-endian), so a swap is one copy.
// Invariant: a request the engine refuses (prompt too long for the cache, bad token) comes back as
// a result whose samples have finish_reason "error: ..." and no tokens; the worker never dies of
// it.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "policy/model.h"
#include "rollout/engine.h"
#include "rollout/worker.h"

namespace aha {

struct EngineWorkerOptions {
  WorkerOptions worker;
  EngineOptions engine;
  int capacity = 256;            // groups held at once (running or waiting)
  Device device = Device::kCpu;  // where the engine runs (the weights are copied there)
  int cuda_device = -1;          // kCuda: this GPU (cuda_select_device); -1: the process's
};

// Runs the worker loop until stopped or shut down; model is the starting weights (copied).
int run_engine_worker(const EngineWorkerOptions& opt, const Model& model);

// Weights as bytes and back (the wire format of weight distribution).
std::vector<uint8_t> weights_to_bytes(const Model& m);
// Into out (a buffer of the right size is refilled: no allocation, no first-touch faults).
void weights_to_bytes(const Model& m, std::vector<uint8_t>& out);
void weights_from_bytes(Model& m, const uint8_t* bytes, size_t n);

// An engine result as a gen_result: the samples move over unchanged (routing keeps its
// [L][T, K] layout on the wire).
GenResult engine_result_to_wire(EngineResult&& r);

}  // namespace aha

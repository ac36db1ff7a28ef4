// The CPU inference core: batched group sampling with continuous batching over a latent KV cache.
//
// Invariants:
// - A request's prompt is prefilled once; its rows in the cache are shared by the G samples of
//   the group and freed when the last sample finishes.
// - A request is admitted only when the cache can hold its prompt plus G * max_new_tokens rows,
//   so an admitted group never runs out of cache; finished samples free their rows at once.
// - Results name the weight version they were generated with; engine_set_weights is only legal
//   between steps (the engine has no request in flight or the caller accepts mixed versions:
//   each sample records the version at its start).
// - Sampling randomness depends on (request seed, sample index, token index) only.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "policy/decode.h"
#include "policy/model.h"
#include "policy/sample.h"
#include "rollout/sampling.h"

namespace aha {

struct EngineRequest {
  uint64_t request_id = 0;
  std::vector<int> prompt;  // token ids, T >= 1
  int group_size = 1;       // G
  SamplingParams params;
  uint64_t seed = 0;
  bool return_routing = false;
};

struct EngineResult {
  uint64_t request_id = 0;
  uint64_t weight_version = 0;
  int prompt_len = 0;
  std::vector<Sample> samples;  // [G] (completion .. routing filled)
  double gen_time_s = 0;        // admission to completion
};

struct EngineOptions {
  int max_tokens_in_flight = 1 << 16;  // cache rows
  int max_batch = 256;                 // decode rows per step
  // Text of each token id, for stop strings (may be empty when no stop strings are used).
  std::vector<std::string> token_text;
};

struct EngineStats {
  long prefill_tokens = 0;        // tokens run through prefill
  long prefill_tokens_saved = 0;  // (G-1) * prompt length: what sharing the prompt saved
  long decode_tokens = 0;
  long decode_steps = 0;
};

struct EngineSeq;  // one sample in flight (engine.cpp)
struct EngineGroup;

struct Engine {
  Model* model = nullptr;
  EngineOptions opt;
  KvCache cache;
  DecodeScratch scratch;
  Acts prefill_acts;
  std::deque<EngineRequest> waiting;
  std::vector<EngineGroup*> groups;  // admitted, unfinished
  long reserved_rows = 0;            // rows promised to admitted groups, not yet used or freed
  EngineStats stats;
  std::vector<int> sort_scratch;
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();
};

void engine_init(Engine& e, Model& model, const EngineOptions& opt);
void engine_submit(Engine& e, EngineRequest req);
// Admits what fits, runs one decode step over every active sample, appends finished groups to
// done. Returns the number of samples still in flight or waiting.
int engine_step(Engine& e, std::vector<EngineResult>& done);
// Runs until every submitted request has finished.
void engine_run(Engine& e, std::vector<EngineResult>& done);
bool engine_idle(const Engine& e);
// Swap to new weights (same config) between steps; later samples record the new version.
void engine_set_weights(Engine& e, const float* params, long num_params, uint64_t version);

}  // namespace aha

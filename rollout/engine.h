// The inference core: batched group sampling with continuous batching over a paged latent KV
// cache (policy/kv_pages.h, policy/decode.h), wherever the model runs. On the CPU it is the
// reference; on CUDA the cache is bf16 on the device, prefill and decode run the same policy
// code through the CUDA twins, logits never leave the device, and the batched CUDA sampler draws
// every row with the same (seed, sample, token) stream as the CPU's sample_token.
//
// Invariants:
// - A request's prompt is prefilled once into pages that the G samples of the group share by
//   reference count; each sample writes its own pages from its first generated token (the
//   prompt's partially filled last page is copied on a sample's first write, the last holder
//   writing in place), and a sample releases its pages when it finishes: a page returns to the
//   free list when its last holder lets go.
// - A request is admitted only when the free pages, less those reserved for admitted samples,
//   cover engine_group_pages: the prompt's pages plus, per sample, engine_sample_pages (its copy
//   of the prompt's last page and the pages of max_new_tokens - 1 fed tokens). So an admitted
//   group never runs out of pages; a sample that finishes early returns what it did not take.
// - reserved_pages == Σ over unfinished samples of the pages still promised to them; when the
//   engine is idle the pool is whole (page_pool_whole) and reserved_pages == 0.
// - engine_cancel drops a waiting request or an admitted group at once, its pages included.
// - Results name the weight version they were generated with; engine_set_weights is only legal
//   between steps (the engine has no request in flight or the caller accepts mixed versions:
//   each sample records the version at its start).
// - Sampling randomness depends on (request seed, sample index, token index) only. A token's
//   logits can still differ in the last bits with the batch's composition (BLAS and cuBLAS pick
//   other kernels and orders for other row counts) except in the batch-invariant mode
//   (kernels/gemm.h: gemm_set_batch_invariant), where they, and the reported log-probs, are the
//   same bits in any batch and equal the learner's forward on the same device (on CUDA through
//   the fp32 mode's kernels, with graphs off).
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
  int max_tokens_in_flight = 1 << 16;  // cache tokens, rounded up to pages of kPageTokens
  int max_batch = 256;                 // decode rows per step
  // Packed prefill: up to prefill_prompts prompts (0: one on the CPU, max_batch on CUDA) and
  // prefill_tokens tokens per forward (a longer prompt goes alone).
  int prefill_prompts = 0;
  int prefill_tokens = 8192;
  // CUDA: replay decode steps from CUDA graphs (policy/decode.h: DecodeGraphs); false: every step
  // launches its kernels one by one.
  bool cuda_graphs = true;
  // Text of each token id, for stop strings (may be empty when no stop strings are used).
  std::vector<std::string> token_text;
};

struct EngineStats {
  long prefill_tokens = 0;        // tokens run through prefill
  long prefill_tokens_saved = 0;  // (G-1) * prompt length: what sharing the prompt saved
  long decode_tokens = 0;
  long decode_steps = 0;
  double prefill_seconds = 0;  // wall time in prefill and the first tokens' draws
  double decode_seconds = 0;   // wall time in decode steps and their draws (CPU sampling included)
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
  long reserved_pages = 0;           // pages promised to admitted samples, not yet taken
  EngineStats stats;
  std::vector<int> sort_scratch;
  // One decode step's inputs, kept to reuse their memory: [B], [B+1], [pages], [B].
  std::vector<int> step_tokens, step_page_indptr, step_page_ids, step_seq_lens;
  // CUDA: the logits of a step [max_batch, V] (first tokens are drawn in batches of max_batch
  // rows), the sampler's rows and draws.
  Buffer<float> logits_dev;
  Buffer<float> prefill_logits_dev;  // [max_batch, V] the last position of each prefilled prompt
  Buffer<SamplingRow> rows_dev;
  Buffer<SampledToken> drawn_dev;
  std::vector<SamplingRow> rows_host;
  std::vector<SampledToken> drawn_host;
  bool invariant = false;  // gemm_batch_invariant() at engine_init
  // CUDA, the batch-invariant mode: the drawn tokens [max_batch] and their learner log-probs and
  // log-sum-exps [2 * max_batch] (learner_logps_on_device).
  Buffer<int> tokens_dev;
  Buffer<float> logp_dev;
  std::vector<int> tokens_host;
  std::vector<float> logp_host;
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
// Drops a waiting request or an admitted group (all its samples) and frees its pages at once;
// no result is reported for it. Returns false when no such request is waiting or in flight.
bool engine_cancel(Engine& e, uint64_t request_id);
// Runs until every submitted request has finished.
void engine_run(Engine& e, std::vector<EngineResult>& done);
bool engine_idle(const Engine& e);
// Pages one sample of a prompt of prompt_len tokens may take, and a whole group's need at
// admission (the prompt's pages plus group_size samples').
int engine_sample_pages(int prompt_len, int max_new_tokens);
long engine_group_pages(int prompt_len, int group_size, int max_new_tokens);
// Swap to new weights (same config) between steps; later samples record the new version.
// params is an array on `src` (host or device memory: a learner's buffer handed over, see
// rollout/weight_handoff.h), or the model's own parameters after the caller changed them in
// place; the copy has finished when this returns. A CUDA engine refreshes the GEMMs' bf16 copy.
void engine_set_weights(Engine& e, const float* params, long num_params, uint64_t version,
                        Device src = Device::kCpu);

}  // namespace aha

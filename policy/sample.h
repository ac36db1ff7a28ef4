// One completion sampled from the policy: the ONE type a completion keeps from the engine that
// samples it, over the wire (rollout/protocol.h encodes a subset of its fields), through scoring
// and the learner, to the run database (rollout/log/rundb.h stores it as a row).
//
// Invariants:
// - Token ids, log-probs and routed expert ids are int32/float32 from the engine on; nothing
//   converts them on the way (the wire carries the same bytes, little-endian).
// - routing is laid out [routing_num_layers][T, routing_top_k] with T = prompt + completion
//   tokens: the layout the learner's routing replay reads (policy/model.h), so no stage
//   transposes it. Empty (dims 0) when routing was not asked for.
// - Which stage fills what: the engine fills completion .. routing; the trainer fills the prompt,
//   the task and group fields, the score and the advantage; the learner only reads; the database
//   assigns sample_id and reads back what it stored (the per-token vectors only when asked).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace aha {

struct Sample {
  // ---- the sampler's output (engine; the wire's gen_result.samples) ----
  std::vector<int32_t> completion;  // [n] generated ids (stop token included when it ended it)
  std::vector<float> rollout_logp;  // [n] under the full tempered distribution
  std::vector<float> trunc_logp;    // [n] under top-p/top-k/min-p, or empty when none applied
  std::string finish_reason;        // "stop" | "length" | "error: ..."
  int32_t routing_num_layers = 0;   // L: MoE layers in routing
  int32_t routing_top_k = 0;        // K
  std::vector<int32_t> routing;     // [L][prompt + n, K] routed experts; the last token, never
                                    // fed through the model, repeats the previous token's

  // ---- the request's context (trainer) ----
  std::vector<int32_t> prompt;  // [T_prompt]
  std::string task;
  std::string prompt_id;
  int64_t group_id = 0;
  int64_t sample_idx = 0;  // within the group; (run_id, step, group_id, sample_idx) is unique
  int64_t weight_version = 0;
  double gen_time_s = std::numeric_limits<double>::quiet_NaN();  // the group's generation time

  // ---- the score (trainer) and what the learner reads besides the tokens ----
  std::string prompt_text;
  std::string response_prefix;         // what the chat template wrote before the model's own tokens
  std::string completion_text;         // the decoded completion (without response_prefix)
  float reward = 0.0f;                 // after overlong shaping
  std::string components_json = "{}";  // JSON object: reward component name -> value
  bool correct = false;
  std::string extracted;  // the answer the checker extracted (empty if none)
  std::string reason;     // the checker's reason ("wrong answer: 12 != 13")
  float advantage = 0.0f;
  bool masked = false;  // overlong masking: contributes no loss

  // ---- the run log (database) ----
  int64_t sample_id = 0;   // assigned on write
  int64_t run_id = 0;      // on write: taken from the step row
  int64_t step = 0;        // on write: taken from the step row
  int64_t num_tokens = 0;  // completion tokens (kept when the ids are not stored or not read)
  double mean_logp = std::numeric_limits<double>::quiet_NaN();       // mean rollout_logp
  double mean_abs_dlogp = std::numeric_limits<double>::quiet_NaN();  // mean |learner - rollout|
};

}  // namespace aha

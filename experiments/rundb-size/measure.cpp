// Database bytes per sample at real sizes: N steps of 16 groups x 8 samples, each completion
// 1,000 tokens (~4,000 bytes of text), each prompt 200 tokens (~800 bytes), written through the
// rundb API (one transaction per step, as aha train does). Prints the file's bytes per sample.
// Built by hand against one tree's rundb.cpp (experiments/rundb-size/README.md has the commands);
// AHA_OLD_API selects the SampleRow API of schema version 2 (before prompts were stored once).
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "rollout/log/rundb.h"

using namespace aha;
#ifdef AHA_OLD_API
using Row = SampleRow;
#else
using Row = Sample;
#endif

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/rundb-size";
  const bool blobs = argc > 2 ? std::string(argv[2]) != "noblobs" : true;
  const int num_steps = 8, G = 8, groups = 16, T_prompt = 200, T_completion = 1000;
  std::filesystem::remove_all(dir);
  RunDb db = rundb_open(dir, true);
#ifndef AHA_OLD_API
  db.token_blobs = blobs;
#else
  (void)blobs;
#endif
  int64_t run_id = rundb_begin_run(db, RunRow{});
  std::mt19937 rng(1);
  auto text = [&](int n) {  // English-like text: ~4 bytes per token
    std::string s;
    const char* words[] = {"the ", "answer ", "is ",   "12 ",   "so ",
                           "we ",  "add ",    "then ", "carry "};
    while (static_cast<int>(s.size()) < n) s += words[rng() % 9];
    return s.substr(0, n);
  };
  std::string prompt;
  std::vector<int32_t> prompt_ids(T_prompt);
  auto fill_tokens = [&](std::string& prompt_text, std::string& completion_text,
                         std::vector<int32_t>& prompt_tokens,
                         std::vector<int32_t>& completion_tokens, std::vector<float>& logps) {
    prompt_text = prompt;
    completion_text = text(4 * T_completion);
    prompt_tokens = prompt_ids;
    completion_tokens.resize(T_completion);
    for (int32_t& t : completion_tokens) t = static_cast<int32_t>(rng() % 151000);
    logps.resize(T_completion);
    for (float& x : logps) x = -static_cast<float>(rng() % 10000) / 997.0f;
  };
  for (int step = 1; step <= num_steps; step++) {
    StepRow st;
    st.run_id = run_id;
    st.step = step;
    std::vector<Row> rows;
    for (int g = 0; g < groups; g++) {
      prompt = text(4 * T_prompt);
      for (int32_t& t : prompt_ids) t = static_cast<int32_t>(rng() % 151000);
      for (int i = 0; i < G; i++) {
        Row r;
        r.task = "gsm8k";
        r.prompt_id = "gsm8k/" + std::to_string(step * 100 + g);
        r.group_id = g;
        r.sample_idx = i;
        r.num_tokens = T_completion;
        r.finish_reason = "stop";
        r.reward = (rng() % 2) ? 1.0f : 0.0f;
        r.components_json = "{\"answer\":1.0,\"format\":1.0}";
        r.extracted = "12";
        r.reason = "ok";
        r.mean_logp = -0.3;
        r.mean_abs_dlogp = 1e-5;
        r.gen_time_s = 3.0;
        // The texts and per-token vectors (their field names changed with the one Sample type).
#ifdef AHA_OLD_API
        fill_tokens(r.prompt, r.completion, r.prompt_ids, r.completion_ids, r.rollout_logps);
#else
        fill_tokens(r.prompt_text, r.completion_text, r.prompt, r.completion, r.rollout_logp);
#endif
        rows.push_back(std::move(r));
      }
    }
    rundb_write_step(db, st, rows);
  }
  sqlite3_exec(db.db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  const double n = static_cast<double>(num_steps) * groups * G;
  const auto bytes = std::filesystem::file_size(dir + "/rollouts.db");
  std::printf("%s: %.0f samples, %ju bytes, %.0f bytes per sample\n", dir.c_str(), n,
              static_cast<uintmax_t>(bytes), bytes / n);
  return 0;
}

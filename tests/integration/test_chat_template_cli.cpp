// Chat templates end to end with tiny random models that have DeepSeek-V3's (and Qwen3's)
// vocabulary and tokenizer: `aha eval` on GSM8K from the shared data with deepseek_r1 and
// --samples-out (and the errors for a missing data file and a template foreign to the tokenizer);
// `aha train` with model.chat_template, whose checkers must see the template's "<think>\n" (scored
// in the trainer and by a reward worker) and whose log keeps it apart from the completion. Exits 77
// (skipped) when the shared data is absent.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/tokenizer.h"
#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

const std::string kData = AHA_SHARED_DATA_DIR;
const std::string kTok = kData + "/tokenizers/deepseek_v3";

const bool kHaveData = aha::test::skip_unless_exist(
    {kData + "/gsm8k_test_first200.jsonl", kData + "/gsm8k_train.jsonl", kTok + "/tokenizer.json"});

std::string run(const std::string& cmd, int* rc) {
  return aha::test::run_command(cmd, rc);
}

// aha init of cfg with the real tokenizer in tok_dir: DIR/NAME.
std::string init_model(const aha::test::TempDir& dir, const nlohmann::json& cfg,
                       const std::string& tok_dir, const std::string& name) {
  fs::create_directories(dir.path);
  const fs::path cfg_path = dir.path / (name + ".json"), model = dir.path / name;
  std::ofstream(cfg_path) << cfg.dump(1) << "\n";
  int rc = 0;
  std::string out = run(std::string(AHA_BINARY) + " init --config " + cfg_path.string() +
                            " --tokenizer " + tok_dir + " --out " + model.string(),
                        &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  return model.string();
}

// A random model with DeepSeek-V3's vocabulary and special ids, everything else tiny, plus the
// real tokenizer: DIR/model.
std::string make_model(const aha::test::TempDir& dir) {
  nlohmann::json cfg = {{"architectures", {"DeepseekV3ForCausalLM"}},
                        {"model_type", "deepseek_v3"},
                        {"vocab_size", 129280},
                        {"hidden_size", 16},
                        {"intermediate_size", 32},
                        {"moe_intermediate_size", 16},
                        {"num_hidden_layers", 2},
                        {"first_k_dense_replace", 1},
                        {"num_attention_heads", 2},
                        {"num_key_value_heads", 2},
                        {"q_lora_rank", nullptr},
                        {"kv_lora_rank", 8},
                        {"qk_nope_head_dim", 8},
                        {"qk_rope_head_dim", 4},
                        {"v_head_dim", 8},
                        {"n_routed_experts", 4},
                        {"n_shared_experts", 1},
                        {"num_experts_per_tok", 2},
                        {"max_position_embeddings", 1024},
                        {"bos_token_id", 0},
                        {"eos_token_id", 1}};
  return init_model(dir, cfg, kTok, "model");
}

}  // namespace

TEST_CASE("aha eval: deepseek_r1 on GSM8K with DeepSeek-V3's tokenizer, samples to JSONL") {
  aha::test::TempDir dir("aha_test_eval_cli");
  const std::string model = make_model(dir);
  const std::string aha = AHA_BINARY;
  int rc = 0;
  std::string out;
  const fs::path samples = dir.path / "samples.jsonl";
  out = run(aha + " eval --model " + model + " --task gsm8k --data-dir " + kData +
                " --template deepseek_r1 --limit 3 -k 2 --max-new-tokens 8 --samples-out " +
                samples.string(),
            &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("task gsm8k: 3 prompts, k = 2") != std::string::npos);
  CHECK(out.find("pass@1 ") != std::string::npos);
  CHECK(out.find("pass@2 ") != std::string::npos);
  CHECK(out.find("maj@2 ") != std::string::npos);

  std::ifstream f(samples);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(f, line);) rows.push_back(nlohmann::json::parse(line));
  REQUIRE(rows.size() == 6);
  const std::string bos = "<｜begin▁of▁sentence｜>";
  for (const nlohmann::json& r : rows) {
    INFO(r.dump());
    CHECK(r["task"] == "gsm8k");
    const std::string prompt = r["prompt"];
    CHECK(prompt.rfind(bos + "<｜User｜>", 0) == 0);  // the one BOS, as fed
    // The user turn is the task's chat_prompt: the question and the instruction, without the
    // base-model prompt's own "User:" / "Assistant: <think>" framing nested inside the turn.
    CHECK(prompt.find("Reason step by step inside <think> </think> tags") != std::string::npos);
    CHECK(prompt.find("Assistant:") == std::string::npos);
    CHECK(prompt.find(bos, 1) == std::string::npos);     // ... and no second
    const std::string gen = "<｜Assistant｜><think>\n";  // the generation prompt closes it
    CHECK(prompt.size() > gen.size());
    CHECK(prompt.compare(prompt.size() - gen.size(), gen.size(), gen) == 0);
    CHECK(r["response_prefix"] == "<think>\n");
    CHECK(r["completion"].is_string());
    CHECK(r["reward"].is_number());
    CHECK(r["components"].contains("correct"));
    CHECK(r["components"].contains("format"));
    CHECK(r["correct"].is_boolean());
    CHECK(r["extracted"].is_string());
  }
  // Two samples of each of three prompts, in prompt order.
  CHECK(rows[0]["prompt_id"] == rows[1]["prompt_id"]);
  CHECK(rows[0]["sample"] == 0);
  CHECK(rows[1]["sample"] == 1);
  CHECK(rows[2]["prompt_id"] != rows[0]["prompt_id"]);
  CHECK(rows[4]["prompt_id"] == rows[5]["prompt_id"]);

  // Eval reads only the eval file of a task that has one: MATH with a MATH-500-style eval file
  // and no train file, whose rows give the gold as "answer" or only as a solution's boxed answer.
  {
    const fs::path math = dir.path / "mathdata";
    fs::create_directories(math);
    std::ofstream(math / "math500.jsonl")
        << R"({"problem": "What is $2+3$?", "answer": "5", "level": 1})"
        << "\n"
        << R"({"problem": "Halve $\\frac{1}{2}$.", "solution": "It is $\\boxed{\\frac14}$.", "level": 2})"
        << "\n";
    const fs::path ms = dir.path / "math_samples.jsonl";
    out = run(aha + " eval --model " + model + " --task math --data-dir " + math.string() +
                  " --template deepseek_r1 -k 1 --max-new-tokens 4 --samples-out " + ms.string(),
              &rc);
    REQUIRE_MESSAGE(rc == 0, out);
    CHECK(out.find("task math: 2 prompts, k = 1") != std::string::npos);
    std::ifstream mf(ms);
    int n = 0;
    for (std::string line; std::getline(mf, line); n++)
      CHECK(nlohmann::json::parse(line)["task"] == "math");
    CHECK(n == 2);
  }

  // A data directory without the file: the error names it and what sets the directory.
  out = run(aha + " eval --model " + model + " --task gsm8k --data-dir " +
                (dir.path / "nowhere").string() + " --limit 1",
            &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("data file " + (dir.path / "nowhere").string() +
                         "/gsm8k_test_first200.jsonl not found") != std::string::npos,
                out);
  CHECK(out.find("--data-dir or the AHA_DATA_DIR environment variable") != std::string::npos);
  // A template whose end-of-turn is no token of this tokenizer is refused before generating.
  out = run(aha + " eval --model " + model + " --task gsm8k --data-dir " + kData +
                " --template chatml --limit 1",
            &rc);
  CHECK(rc != 0);
  CHECK(out.find("chat template chatml: its end-of-turn text '<|im_end|>'") != std::string::npos);
}

TEST_CASE("aha eval: a Qwen3-MoE model with Qwen3's tokenizer and qwen3_think, no BOS") {
  aha::test::TempDir dir("aha_test_eval_qwen");
  // Qwen3-30B-A3B's vocabulary and special ids (config.json says bos 151643, which Qwen's
  // tokenizer never adds), everything else tiny.
  nlohmann::json cfg = {{"architectures", {"Qwen3MoeForCausalLM"}},
                        {"model_type", "qwen3_moe"},
                        {"vocab_size", 151936},
                        {"hidden_size", 16},
                        {"intermediate_size", 32},
                        {"moe_intermediate_size", 16},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"num_key_value_heads", 2},
                        {"head_dim", 8},
                        {"num_experts", 4},
                        {"num_experts_per_tok", 2},
                        {"mlp_only_layers", {0}},
                        {"norm_topk_prob", true},
                        {"max_position_embeddings", 1024},
                        {"rope_theta", 1000000.0},
                        {"bos_token_id", 151643},
                        {"eos_token_id", 151645}};
  const std::string model = init_model(dir, cfg, kData + "/tokenizers/qwen3", "qwen3_moe");
  int rc = 0;
  const fs::path samples = dir.path / "samples.jsonl";
  std::string out =
      run(std::string(AHA_BINARY) + " eval --model " + model + " --task gsm8k --data-dir " + kData +
              " --template qwen3_think --limit 2 -k 2 --max-new-tokens 6 "
              "--samples-out " +
              samples.string(),
          &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("task gsm8k: 2 prompts, k = 2") != std::string::npos);
  std::ifstream f(samples);
  int n = 0;
  for (std::string line; std::getline(f, line); n++) {
    nlohmann::json r = nlohmann::json::parse(line);
    const std::string prompt = r["prompt"];
    INFO(prompt);
    CHECK(prompt.rfind("<|im_start|>user\n", 0) == 0);  // no BOS in front
    const std::string gen = "<|im_end|>\n<|im_start|>assistant\n";
    CHECK(prompt.compare(prompt.size() - gen.size(), gen.size(), gen) == 0);
    CHECK(r["response_prefix"] == "");
  }
  CHECK(n == 4);
}

TEST_CASE("aha train with model.chat_template: checkers see <think>\\n, the log keeps it apart") {
  aha::test::TempDir dir("aha_test_train_template");
  const std::string model = make_model(dir);
  // A generated task whose format component passes iff the scored text starts with "<think>\n":
  // only the template's prefix can give that, the random model never writes it.
  const fs::path tasks = dir.path / "tasks.toml";
  std::ofstream(tasks) << R"([tasks.sum]
generator = { name = "arith", min_digits = 1, max_digits = 1, ops = "+" }
train_count = 50
eval_count = 4
template = "{question}"
[[tasks.sum.reward]]
name = "correct"
checker = "math"
options = { extract = "last_number" }
[[tasks.sum.reward]]
name = "format"
checker = "format"
weight = 0.5
options = { think_pattern = '^<think>\n', single_think = false, partial_credit = true }
)";
  const std::string aha = AHA_BINARY;
  aha::Tokenizer tok = aha::tokenizer_load(kTok);
  std::vector<int> tail = {aha::tokenizer_token_id(tok, "<｜Assistant｜>")};
  for (int id : aha::tokenizer_encode(tok, "<think>\n")) tail.push_back(id);
  for (int reward_workers : {0, 1}) {
    INFO("reward.workers = " << reward_workers);
    const fs::path run_dir = dir.path / ("run" + std::to_string(reward_workers));
    int rc = 0;
    std::string out =
        run(aha + " train --run-dir " + run_dir.string() + " --set model.path='\"" + model +
                "\"' --set model.chat_template=deepseek_r1 --set tasks.tasks_file='\"" +
                tasks.string() + "\"' --set tasks.names='[\"sum\"]'" +
                " --set rollout.prompts_per_step=2 --set rollout.group_size=2" +
                " --set rollout.max_new_tokens=4 --set tasks.eval_prompts=2" +
                " --set tasks.eval_samples=2 --set run.steps=1 --set run.eval_every=0" +
                " --set run.checkpoint_every=0 --set run.progress=false --set reward.workers=" +
                std::to_string(reward_workers),
            &rc);
    REQUIRE_MESSAGE(rc == 0, out);
    aha::RunDb db = aha::rundb_open(run_dir.string(), false);
    std::vector<aha::RunRow> runs = aha::rundb_read_runs(db);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].config.find("chat_template = 'deepseek_r1'") != std::string::npos);
    aha::SampleQuery q;
    q.with_tokens = true;
    std::vector<aha::Sample> rows = aha::rundb_read_samples(db, q);
    REQUIRE(rows.size() == 4);
    for (const aha::Sample& s : rows) {
      INFO(s.completion_text);
      CHECK(s.response_prefix == "<think>\n");
      CHECK(s.completion_text.rfind("<think>", 0) != 0);  // the model's own text, no prefix
      nlohmann::json c = nlohmann::json::parse(s.components_json);
      CHECK(c["format.think"] == 1.0);  // the checker saw "<think>\n" + completion
      CHECK(s.prompt.at(0) == 0);
      CHECK(std::count(s.prompt.begin(), s.prompt.end(), 0) == 1);
      CHECK(s.prompt.at(1) == aha::tokenizer_token_id(tok, "<｜User｜>"));
      REQUIRE(s.prompt.size() > tail.size());
      CHECK(std::equal(tail.begin(), tail.end(), s.prompt.end() - tail.size()));
    }
    // The final model carries the tokenizer's config (its BOS and add_bos_token).
    CHECK(fs::exists(run_dir / "final-model/tokenizer_config.json"));
  }
}

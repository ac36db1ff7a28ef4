// Prompt building (cli/run/taskset.h): the built-in model's prompt ids are those of the code before
// chat templates (hard-coded), the BOS rule on small tokenizers written here, chat templates with
// their stop tokens, generation that ends at the end-of-turn token, and scoring that sees the
// template's response prefix.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/run/taskset.h"
#include "cli/run/trainer.h"
#include "policy/checkpoint.h"
#include "policy/tiny_tokenizer.h"
#include "rollout/engine.h"
#include "tests/test_util.h"

using namespace aha;

namespace {

// Ids of the chat tokens appended to the built-in character vocabulary (0..102) below.
constexpr int kBosDs = 103, kEosDs = 104, kUser = 105, kAssistant = 106, kImStart = 107,
              kImEnd = 108;

void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
  std::ofstream(p) << j.dump(1) << "\n";
}

// The built-in character tokenizer plus DeepSeek's and ChatML's turn tokens, with the given
// tokenizer_config.json (null: none written).
Tokenizer chat_tokenizer(const test::TempDir& dir, const nlohmann::json& config) {
  nlohmann::json j = tiny_tokenizer_json();
  const char* extra[] = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>",
                         "<｜Assistant｜>",         "<|im_start|>",          "<|im_end|>"};
  int id = kTinyVocabSize;
  for (const char* s : extra) {
    j["model"]["vocab"][s] = id;
    j["added_tokens"].push_back({{"id", id},
                                 {"content", s},
                                 {"single_word", false},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", false},
                                 {"special", true}});
    id++;
  }
  std::filesystem::create_directories(dir.path);
  write_json(dir.path / "tokenizer.json", j);
  std::filesystem::remove(dir.path / "tokenizer_config.json");
  if (!config.is_null()) write_json(dir.path / "tokenizer_config.json", config);
  return tokenizer_load(dir.str());
}

// tiny_tokenizer's id of a printable character.
int ch(char c) {
  return 8 + (c - 32);
}

}  // namespace

TEST_CASE("the built-in model's prompt ids are unchanged (ids of the code before templates)") {
  const std::string dir = builtin_base_model_dir();
  Tokenizer tok = tokenizer_load(dir);
  ModelConfig cfg = config_load(dir + "/config.json");
  PromptFormat f = prompt_format(tok, cfg, "");
  CHECK(f.response_prefix.empty());
  CHECK(f.stop_ids == std::vector<int>{2});
  // Printed by encode_prompt_ids(tok, cfg, text) of commit 065736e for tiny_add's first eval and
  // train prompts: BOS (config.json's bos_token_id 1 although add_bos_token is false), then one id
  // per character ('0' = 24, '+' = 19, '=' = 37).
  CHECK(encode_prompt_ids(tok, cfg, f, "5+2=") == std::vector<int>{1, 29, 19, 26, 37});
  CHECK(encode_prompt_ids(tok, cfg, f, "19+80=") == std::vector<int>{1, 25, 33, 19, 32, 24, 37});
  CHECK(encode_prompt_ids(tok, cfg, f, "77+1=") == std::vector<int>{1, 31, 31, 19, 25, 37});
  CHECK(encode_prompt_ids(tok, cfg, f, "36+1=") == std::vector<int>{1, 27, 30, 19, 25, 37});
  // The prompts the task hands out are those texts.
  TaskSetPtr ts = taskset_load({"tiny_add"}, {}, dir + "/tasks.toml", 0, 200);
  CHECK(taskset_eval(*ts)[0].prompt == "5+2=");
  CHECK(taskset_eval(*ts)[1].prompt == "19+80=");
  CHECK(taskset_train_batch(*ts, 0, 0, 2)[1].prompt == "36+1=");
}

TEST_CASE("BOS: prepended iff add_bos_token or config.json names the tokenizer's BOS, once") {
  test::TempDir dir("aha_test_prompt_bos");
  ModelConfig cfg = config_tiny();
  cfg.bos_token_id = -1;
  cfg.eos_token_id = kEosDs;
  const std::string bos_text = "<｜begin▁of▁sentence｜>";
  // DeepSeek-V3's tokenizer_config: add_bos_token true.
  Tokenizer ds = chat_tokenizer(
      dir,
      {{"add_bos_token", true}, {"bos_token", bos_text}, {"eos_token", "<｜end▁of▁sentence｜>"}});
  REQUIRE(ds.bos_id == kBosDs);
  PromptFormat none = prompt_format(ds, cfg, "");
  CHECK(encode_prompt_ids(ds, cfg, none, "1+1=") ==
        std::vector<int>{kBosDs, ch('1'), ch('+'), ch('1'), ch('=')});
  // Text that already starts with BOS gets no second one.
  CHECK(encode_prompt_ids(ds, cfg, none, bos_text + "1") == std::vector<int>{kBosDs, ch('1')});
  // deepseek_v3 writes the BOS text itself: exactly one.
  PromptFormat v3 = prompt_format(ds, cfg, "deepseek_v3");
  CHECK(encode_prompt_ids(ds, cfg, v3, "1+1=") ==
        std::vector<int>{kBosDs, kUser, ch('1'), ch('+'), ch('1'), ch('='), kAssistant});
  // A system message goes right after BOS.
  PromptFormat sys = prompt_format(ds, cfg, "deepseek_v3", "Be brief.");
  std::vector<int> ids = encode_prompt_ids(ds, cfg, sys, "2");
  CHECK(ids.front() == kBosDs);
  CHECK(ids[1] == ch('B'));
  CHECK(std::count(ids.begin(), ids.end(), kBosDs) == 1);
  CHECK(ids[ids.size() - 3] == kUser);
  CHECK(ids[ids.size() - 2] == ch('2'));
  CHECK_THROWS_WITH(prompt_format(ds, cfg, "", "Be brief."),
                    doctest::Contains("system message needs a chat template"));

  // Qwen's: no bos_token, add_bos_token false, yet config.json names <|endoftext|>: never a BOS.
  Tokenizer qw = chat_tokenizer(
      dir, {{"add_bos_token", false}, {"bos_token", nullptr}, {"eos_token", "<|im_end|>"}});
  REQUIRE(qw.bos_id == -1);
  ModelConfig qcfg = cfg;
  qcfg.bos_token_id = kBosDs;
  qcfg.eos_token_id = kImEnd;
  PromptFormat cm = prompt_format(qw, qcfg, "chatml");
  // <|im_start|>user\n1<|im_end|>\n<|im_start|>assistant\n ("\n" is 7)
  std::vector<int> want = {kImStart, ch('u'), ch('s'), ch('e'), ch('r'),
                           7,        ch('1'), kImEnd,  7,       kImStart};
  for (char c : std::string("assistant")) want.push_back(ch(c));
  want.push_back(7);
  CHECK(encode_prompt_ids(qw, qcfg, cm, "1") == want);
  CHECK(encode_prompt_ids(qw, qcfg, prompt_format(qw, qcfg, ""), "1") == std::vector<int>{ch('1')});

  // add_bos_token false and config.json naming another token: none either.
  Tokenizer off = chat_tokenizer(dir, {{"add_bos_token", false}, {"bos_token", bos_text}});
  ModelConfig other = cfg;
  other.bos_token_id = 1;
  CHECK(encode_prompt_ids(off, other, prompt_format(off, other, ""), "1") ==
        std::vector<int>{ch('1')});
  other.bos_token_id = kBosDs;  // ... and naming it: one (the built-in model's case)
  CHECK(encode_prompt_ids(off, other, prompt_format(off, other, ""), "1") ==
        std::vector<int>{kBosDs, ch('1')});
}

TEST_CASE("stop tokens: eos and the template's end-of-turn, which must be one token") {
  test::TempDir dir("aha_test_prompt_stop");
  Tokenizer tok = chat_tokenizer(dir, {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}});
  ModelConfig cfg = config_tiny();
  cfg.bos_token_id = 1;
  cfg.eos_token_id = 2;
  PromptFormat cm = prompt_format(tok, cfg, "chatml");
  CHECK(cm.stop_ids == std::vector<int>{2, kImEnd});
  CHECK(cm.end_id == kImEnd);
  CHECK(cm.response_prefix.empty());
  PromptFormat r1 = prompt_format(tok, cfg, "deepseek_r1");
  CHECK(r1.stop_ids == std::vector<int>{2, kEosDs});
  CHECK(r1.response_prefix == "<think>\n");
  PromptFormat plain = prompt_format(tok, cfg, "plain");
  CHECK(plain.stop_ids == std::vector<int>{2});
  CHECK(plain.end_id == 2);
  CHECK(prompt_format(tok, cfg, "qwen3_nothink").response_prefix == "<think>\n\n</think>\n\n");
  // The completion's text drops one final stop token, whichever it is.
  CHECK(completion_text(tok, cm, {ch('4'), ch('2'), kImEnd}) == "42");
  CHECK(completion_text(tok, cm, {ch('4'), 2}) == "4");
  CHECK(completion_text(tok, cm, {ch('4'), kEosDs}) == "4<｜end▁of▁sentence｜>");
  // An id the tokenizer lacks (a padding row of the model's vocabulary) shows instead of throwing.
  CHECK(completion_text(tok, cm, {ch('4'), 5000, ch('2')}) == "4<|unk:5000|>2");

  // The built-in tokenizer has no <|im_end|>: refused, naming template and tokenizer.
  Tokenizer tiny = tokenizer_load(builtin_base_model_dir());
  const std::string msg =
      "chat template chatml: its end-of-turn text '<|im_end|>' is not a "
      "single token of the tokenizer " +
      tiny.source;
  CHECK_THROWS_WITH(prompt_format(tiny, cfg, "chatml"), doctest::Contains(msg.c_str()));
  CHECK_THROWS_WITH(prompt_format(tiny, cfg, "qwen4"),
                    doctest::Contains("valid: deepseek_v3, deepseek_r1, chatml"));
}

TEST_CASE("generation stops at the template's end-of-turn token") {
  test::TempDir dir("aha_test_prompt_gen");
  Tokenizer tok = chat_tokenizer(dir, {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}});
  ModelConfig cfg = config_tiny();
  cfg.vocab_size = tok.vocab_size;
  cfg.bos_token_id = 1;
  cfg.eos_token_id = 2;
  Model m;
  model_build(m, cfg);
  model_init(m, 5);
  for (float& p : m.params) p *= 10.0f;  // sharp logits: a clear greedy choice
  PromptFormat cm = prompt_format(tok, cfg, "chatml");
  auto greedy = [&](const std::vector<int>& stops) {
    Engine e;
    EngineOptions eo;
    eo.max_tokens_in_flight = 1024;
    engine_init(e, m, eo);
    EngineRequest r;
    r.prompt = encode_prompt_ids(tok, cfg, cm, "1+1=");
    r.group_size = 1;
    r.params.temperature = 0.0f;
    r.params.max_new_tokens = 6;
    r.params.stop_token_ids = stops;
    engine_submit(e, r);
    std::vector<EngineResult> done;
    engine_run(e, done);
    return done.at(0).samples.at(0);
  };
  // Make <|im_end|> the greedy first token: its lm_head row is twice that of the current choice.
  const int first = greedy({}).completion.at(0);
  REQUIRE(first != kImEnd);
  const int C = cfg.hidden_size;
  for (int c = 0; c < C; c++) m.w.lm_head[kImEnd * C + c] = 2 * m.w.lm_head[first * C + c];
  Sample free_run = greedy({});
  REQUIRE(free_run.completion.at(0) == kImEnd);  // it would go on past the end of the turn
  CHECK(free_run.completion.size() == 6);
  Sample s = greedy(cm.stop_ids);
  CHECK(s.completion == std::vector<int>{kImEnd});
  CHECK(s.finish_reason == "stop");
  CHECK(completion_text(tok, cm, s.completion).empty());
}

TEST_CASE("scoring sees the template's response prefix (R1: <think>\\n + completion)") {
  test::TempDir dir("aha_test_prompt_score");
  Tokenizer tok = chat_tokenizer(dir, {{"bos_token", "<｜begin▁of▁sentence｜>"},
                                       {"eos_token", "<｜end▁of▁sentence｜>"},
                                       {"add_bos_token", true}});
  ModelConfig cfg = config_tiny();
  cfg.bos_token_id = kBosDs;
  cfg.eos_token_id = kEosDs;
  // arith: the built-in generated task scored by math (weight 1) + format (weight 0.1).
  TaskSetPtr ts = taskset_load({"arith"}, {}, "", 0, 4);
  TaskItem item = taskset_eval(*ts)[0];
  item.reference["answer"] = "5";
  const std::string completion = "reasoning</think> <answer>5</answer>";
  PromptFormat r1 = prompt_format(tok, cfg, "deepseek_r1");
  Scored with = taskset_score(*ts, item, reward_input(r1, completion));
  Scored without = taskset_score(*ts, item, reward_input(prompt_format(tok, cfg, ""), completion));
  auto component = [](const Scored& s, const std::string& name) {
    for (const auto& [n, v] : s.result.components)
      if (n == name) return v;
    FAIL("no component " << name);
    return -1.0;
  };
  CHECK(component(with, "format") == 1.0);
  CHECK(component(with, "format.think") == 1.0);
  CHECK(component(without, "format") == 0.0);
  CHECK(component(without, "format.think") == 0.0);
  CHECK(component(without, "format.answer") == 1.0);
  CHECK(with.correct);
  CHECK(without.correct);
  CHECK(with.result.score == doctest::Approx(1.1));
  CHECK(without.result.score == doctest::Approx(1.0));
  // The prompt ends with the assistant tag and the prefix's own ids.
  std::vector<int> ids = encode_prompt_ids(tok, cfg, r1, item.prompt);
  // <think> is an added token of the tiny vocabulary (3), "\n" is 7.
  CHECK(std::vector<int>(ids.end() - 3, ids.end()) == std::vector<int>{kAssistant, 3, 7});
  CHECK(ids.front() == kBosDs);
}

// Prompt ids of chat templates with the real DeepSeek-V3 and Qwen3 tokenizers: exactly one BOS for
// DeepSeek (the template writes it, add_bos_token would add it), none for Qwen (config.json's
// bos_token_id notwithstanding), the turn tokens at their places, and the stop tokens. Exits 77
// (skipped) when the shared data is absent.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/run/taskset.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace aha;

namespace {

const std::string kDir = std::string(AHA_SHARED_DATA_DIR) + "/tokenizers";

const bool kHaveData = aha::test::skip_unless_exist(
    {kDir + "/deepseek_v3/tokenizer.json", kDir + "/qwen3/tokenizer.json"});

bool ends_with(const std::vector<int>& v, const std::vector<int>& tail) {
  return v.size() >= tail.size() && std::equal(tail.begin(), tail.end(), v.end() - tail.size());
}

}  // namespace

TEST_CASE("deepseek_r1 with DeepSeek-V3's tokenizer: one BOS, then <｜Assistant｜><think>\\n") {
  Tokenizer tok = tokenizer_load(kDir + "/deepseek_v3");
  // Hand-checked against tokenizer.json's added_tokens.
  CHECK(tokenizer_token_id(tok, "<｜begin▁of▁sentence｜>") == 0);
  CHECK(tokenizer_token_id(tok, "<｜end▁of▁sentence｜>") == 1);
  CHECK(tokenizer_token_id(tok, "<｜User｜>") == 128803);
  CHECK(tokenizer_token_id(tok, "<｜Assistant｜>") == 128804);
  CHECK(tok.add_bos);
  CHECK(tok.bos_id == 0);
  ModelConfig cfg;  // DeepSeek-V3's config.json: bos_token_id 0, eos_token_id 1
  cfg.bos_token_id = 0;
  cfg.eos_token_id = 1;
  const std::string q = "What is 7 * 6? Reply with a number.";
  PromptFormat r1 = prompt_format(tok, cfg, "deepseek_r1");
  std::vector<int> ids = encode_prompt_ids(tok, cfg, r1, q);
  REQUIRE(ids.size() > 4);
  CHECK(ids[0] == 0);
  CHECK(std::count(ids.begin(), ids.end(), 0) == 1);
  CHECK(ids[1] == 128803);
  std::vector<int> tail = {128804};
  for (int id : tokenizer_encode(tok, "<think>\n")) tail.push_back(id);
  CHECK(tail.size() > 2);  // <think> is no token of V3: plain BPE pieces
  CHECK(ends_with(ids, tail));
  // BOS, <｜User｜>, the question's own ids, <｜Assistant｜>, "<think>\n".
  std::vector<int> want = {0, 128803};
  for (int id : tokenizer_encode(tok, q)) want.push_back(id);
  want.insert(want.end(), tail.begin(), tail.end());
  CHECK(ids == want);
  CHECK(r1.response_prefix == "<think>\n");
  CHECK(r1.stop_ids == std::vector<int>{1});  // end of turn is eos
  CHECK(r1.end_id == 1);
  // Without a template add_bos_token still gives the one BOS.
  std::vector<int> plain = encode_prompt_ids(tok, cfg, prompt_format(tok, cfg, ""), q);
  CHECK(plain[0] == 0);
  CHECK(std::vector<int>(plain.begin() + 1, plain.end()) == tokenizer_encode(tok, q));
}

TEST_CASE("qwen3_think with Qwen3's tokenizer: no BOS, ChatML tokens in place") {
  Tokenizer tok = tokenizer_load(kDir + "/qwen3");
  CHECK(tokenizer_token_id(tok, "<|im_start|>") == 151644);
  CHECK(tokenizer_token_id(tok, "<|im_end|>") == 151645);
  CHECK(tokenizer_token_id(tok, "<|endoftext|>") == 151643);
  CHECK_FALSE(tok.add_bos);
  CHECK(tok.bos_id == -1);
  ModelConfig cfg;  // Qwen3 base's config.json: bos_token_id and eos_token_id 151643
  cfg.bos_token_id = 151643;
  cfg.eos_token_id = 151643;
  const std::string q = "What is 7 * 6?";
  PromptFormat f = prompt_format(tok, cfg, "qwen3_think");
  std::vector<int> ids = encode_prompt_ids(tok, cfg, f, q);
  CHECK(std::count(ids.begin(), ids.end(), 151643) == 0);
  // <|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n
  std::vector<int> want = {151644};
  for (int id : tokenizer_encode(tok, "user\n" + q)) want.push_back(id);
  want.push_back(151645);
  for (int id : tokenizer_encode(tok, "\n")) want.push_back(id);
  want.push_back(151644);
  for (int id : tokenizer_encode(tok, "assistant\n")) want.push_back(id);
  CHECK(ids == want);
  CHECK(ids.front() == 151644);
  CHECK(std::count(ids.begin(), ids.end(), 151644) == 2);
  CHECK(std::count(ids.begin(), ids.end(), 151645) == 1);
  CHECK(f.response_prefix.empty());
  // The base model's eos <|endoftext|> and the turn's end <|im_end|> both stop generation.
  CHECK(f.stop_ids == std::vector<int>{151643, 151645});
  CHECK(f.end_id == 151645);
  // qwen3_nothink writes an empty think block for the model; its tokens are <think> and </think>.
  PromptFormat nt = prompt_format(tok, cfg, "qwen3_nothink");
  std::vector<int> nids = encode_prompt_ids(tok, cfg, nt, q);
  std::vector<int> nt_tail = {151667};
  for (int id : tokenizer_encode(tok, "\n\n")) nt_tail.push_back(id);
  nt_tail.push_back(151668);
  for (int id : tokenizer_encode(tok, "\n\n")) nt_tail.push_back(id);
  CHECK(ends_with(nids, nt_tail));
  // No template: the text alone, still no BOS.
  CHECK(encode_prompt_ids(tok, cfg, prompt_format(tok, cfg, ""), q) == tokenizer_encode(tok, q));
  // DeepSeek's end-of-turn is no Qwen token: refused by name.
  CHECK_THROWS_WITH(prompt_format(tok, cfg, "deepseek_r1"),
                    doctest::Contains("chat template deepseek_r1: its end-of-turn text"));
}

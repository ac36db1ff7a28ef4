// Chat templates: hand-written expected strings, plus tests/fixtures/tokenizer/chat_cases.json,
// conversations rendered by the real Jinja templates of DeepSeek-V3 and Qwen3 with jinja2 (see
// gen_chat_cases.py there): an independent reference for deepseek_v3, qwen3_think, qwen3_nothink.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "policy/chat_template.h"

using namespace aha;

namespace {
const std::vector<ChatMessage> kConv = {{"system", "Be brief."},
                                        {"user", "2+2?"},
                                        {"assistant", "<think>\nadd\n</think>\n\n4"},
                                        {"user", "3+3?"}};
}

TEST_CASE("deepseek_v3 and deepseek_r1 layouts (hand-written)") {
  CHECK(chat_template_apply("deepseek_v3", kConv, true) ==
        "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜><think>\nadd\n</think>\n\n4"
        "<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜>");
  // R1 drops the reasoning of past turns and opens <think> for the model.
  CHECK(chat_template_apply("deepseek_r1", kConv, true) ==
        "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜>\n\n4"
        "<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜><think>\n");
  CHECK(chat_template_apply("deepseek_r1", {{"user", "hi"}}, false) ==
        "<｜begin▁of▁sentence｜><｜User｜>hi");
  CHECK(chat_template_apply("deepseek_v3", {{"system", "A"}, {"system", "B"}, {"user", "u"}},
                            false) == "<｜begin▁of▁sentence｜>A\n\nB<｜User｜>u");
  CHECK(chat_template_generation_prefix("deepseek_r1") == "<think>\n");
  CHECK(chat_template_generation_prefix("deepseek_v3") == "");
  CHECK(chat_template_end_of_turn("deepseek_r1") == "<｜end▁of▁sentence｜>");
}

TEST_CASE("chatml, qwen3 and plain layouts (hand-written)") {
  CHECK(chat_template_apply("chatml", {{"system", "S"}, {"user", "Q"}}, true) ==
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
  CHECK(chat_template_apply("qwen3_think", kConv, true) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n"
        "<|im_start|>assistant\n");
  CHECK(chat_template_apply("qwen3_nothink", {{"user", "Q"}}, true) ==
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // The final assistant turn after the last query always gets a (possibly empty) think block.
  CHECK(
      chat_template_apply("qwen3_think", {{"user", "Q"}, {"assistant", "A"}}, false) ==
      "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
  CHECK(chat_template_apply("plain", {{"system", "S"}, {"user", "Q"}}, true) == "S\nQ");
  CHECK(chat_template_end_of_turn("qwen3_think") == "<|im_end|>");
  CHECK(chat_template_generation_prefix("qwen3_nothink") == "<think>\n\n</think>\n\n");
}

TEST_CASE("templates equal the models' own Jinja templates (jinja2 fixture)") {
  std::ifstream f(std::string(AHA_FIXTURES_DIR) + "/tokenizer/chat_cases.json");
  REQUIRE(f.good());
  nlohmann::json cases = nlohmann::json::parse(f);
  REQUIRE(cases.size() == 38);
  for (const auto& c : cases) {
    std::vector<ChatMessage> msgs;
    for (const auto& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
    std::string got = chat_template_apply(c["template"].get<std::string>(), msgs,
                                          c["add_generation_prompt"].get<bool>());
    CHECK_MESSAGE(got == c["expected"].get<std::string>(), c.dump());
  }
}

TEST_CASE("unknown template or role is an error naming it") {
  CHECK_THROWS_WITH_AS(chat_template_apply("llama3", kConv, true),
                       doctest::Contains("unknown chat template 'llama3'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(chat_template_apply("llama3", kConv, true), doctest::Contains("deepseek_r1"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(chat_template_apply("chatml", {{"tool", "x"}}, true),
                       doctest::Contains("'tool'"), std::runtime_error);
  CHECK_THROWS_AS(chat_template_generation_prefix("nope"), std::runtime_error);
  CHECK(chat_template_names().size() == 6);
}

// Chat templates: the prompt string a model was trained to see for a conversation, for a small
// fixed set of named layouts (written out in C++, no Jinja). Invariants: a template either renders
// every message or throws naming the problem (unknown template, unsupported role); output for
// system/user/assistant conversations equals the model's own Jinja chat_template
// (tokenizer_config.json) rendered with the same messages and add_generation_prompt.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace aha {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// "deepseek_v3", "deepseek_r1", "chatml", "qwen3_think", "qwen3_nothink", "plain".
std::vector<std::string> chat_template_names();

// The prompt text for messages; add_generation_prompt appends the opening of the assistant turn
// (including what the template writes for the model, see chat_template_generation_prefix).
// Throws std::runtime_error for an unknown template (listing the valid ones) or role.
std::string chat_template_apply(std::string_view name, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt);

// Text the generation prompt writes after the assistant tag on the model's behalf ("<think>\n"
// for deepseek_r1, "<think>\n\n</think>\n\n" for qwen3_nothink, "" otherwise): a format reward
// checking "<think>...</think>" must prepend it to the completion to see the whole turn.
std::string chat_template_generation_prefix(std::string_view name);

// Text that ends an assistant turn ("<｜end▁of▁sentence｜>", "<|im_end|>"; "" for plain).
std::string chat_template_end_of_turn(std::string_view name);

}  // namespace aha

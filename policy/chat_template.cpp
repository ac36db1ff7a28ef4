// Chat templates (see chat_template.h). Each layout mirrors its Jinja source line by line:
// deepseek_v3 from DeepSeek-V3's tokenizer_config.json, deepseek_r1 from DeepSeek-R1's (history
// keeps only the text after </think>; the generation prompt opens <think>), qwen3_* from Qwen3's.
#include "policy/chat_template.h"

#include <stdexcept>

namespace aha {

namespace {

const char* const kNames[] = {"deepseek_v3", "deepseek_r1",   "chatml",
                              "qwen3_think", "qwen3_nothink", "plain"};

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";
const std::string kUser = "<｜User｜>";
const std::string kAssistant = "<｜Assistant｜>";

std::string names_list() {
  std::string s;
  for (const char* n : kNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

[[noreturn]] void bad_role(std::string_view name, size_t k, const std::string& role) {
  throw std::runtime_error("chat template " + std::string(name) + ": message " + std::to_string(k) +
                           " has unsupported role '" + role +
                           "' (supported: system, user, assistant)");
}

void check_roles(std::string_view name, const std::vector<ChatMessage>& msgs) {
  for (size_t k = 0; k < msgs.size(); k++) {
    const std::string& r = msgs[k].role;
    if (r != "system" && r != "user" && r != "assistant") bad_role(name, k, r);
  }
}

// Python's str.strip/lstrip/rstrip of '\n' characters.
std::string lstrip_nl(const std::string& s) {
  size_t a = s.find_first_not_of('\n');
  return a == std::string::npos ? "" : s.substr(a);
}
std::string rstrip_nl(const std::string& s) {
  size_t b = s.find_last_not_of('\n');
  return b == std::string::npos ? "" : s.substr(0, b + 1);
}

// Text after the last "</think>" (Python s.split('</think>')[-1]).
std::string after_last_think(const std::string& s) {
  size_t p = s.rfind("</think>");
  return p == std::string::npos ? s : s.substr(p + 8);
}

std::string deepseek(std::string_view name, const std::vector<ChatMessage>& msgs, bool gen,
                     bool r1) {
  std::string system;
  bool first_system = true;
  for (const ChatMessage& m : msgs) {
    if (m.role != "system") continue;
    system += (first_system ? "" : "\n\n") + m.content;
    first_system = false;
  }
  std::string out = kBos + system;
  for (const ChatMessage& m : msgs) {
    if (m.role == "user")
      out += kUser + m.content;
    else if (m.role == "assistant")
      out += kAssistant + (r1 ? after_last_think(m.content) : m.content) + kEos;
  }
  (void)name;
  if (gen) out += kAssistant + (r1 ? std::string("<think>\n") : std::string());
  return out;
}

std::string chatml(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  for (const ChatMessage& m : msgs)
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// Qwen3's template without tools: assistant turns after the last user query carry their reasoning
// in a <think> block (the final one always does); earlier turns keep only the answer.
std::string qwen3(const std::vector<ChatMessage>& msgs, bool gen, bool think) {
  std::string out;
  if (!msgs.empty() && msgs[0].role == "system")
    out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  long last_query = (long)msgs.size() - 1;
  for (long k = (long)msgs.size() - 1; k >= 0; k--) {
    const std::string& c = msgs[k].content;
    bool tool_response = c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 &&
                         c.compare(c.size() - 16, 16, "</tool_response>") == 0;
    if (msgs[k].role == "user" && !tool_response) {
      last_query = k;
      break;
    }
  }
  for (long k = 0; k < (long)msgs.size(); k++) {
    const ChatMessage& m = msgs[k];
    if (m.role == "user" || (m.role == "system" && k != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string content = m.content, reasoning;
      size_t close = m.content.find("</think>");
      if (close != std::string::npos) {
        content = lstrip_nl(after_last_think(m.content));
        std::string before = rstrip_nl(m.content.substr(0, close));
        size_t open = before.rfind("<think>");
        reasoning = lstrip_nl(open == std::string::npos ? before : before.substr(open + 7));
      }
      bool last = k == (long)msgs.size() - 1;
      if (k > last_query && (last || !reasoning.empty()))
        out += "<|im_start|>assistant\n<think>\n" + rstrip_nl(lstrip_nl(reasoning)) +
               "\n</think>\n\n" + lstrip_nl(content);
      else
        out += "<|im_start|>assistant\n" + content;
      out += "<|im_end|>\n";
    }
  }
  if (gen) out += "<|im_start|>assistant\n" + std::string(think ? "" : "<think>\n\n</think>\n\n");
  return out;
}

std::string plain(const std::vector<ChatMessage>& msgs) {
  std::string out;
  for (size_t k = 0; k < msgs.size(); k++) out += (k ? "\n" : "") + msgs[k].content;
  return out;
}

void check_name(std::string_view name) {
  for (const char* n : kNames)
    if (name == n) return;
  throw std::runtime_error("unknown chat template '" + std::string(name) +
                           "' (valid: " + names_list() + ")");
}

}  // namespace

std::vector<std::string> chat_template_names() {
  return {std::begin(kNames), std::end(kNames)};
}

std::string chat_template_apply(std::string_view name, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) {
  check_name(name);
  check_roles(name, messages);
  if (name == "deepseek_v3") return deepseek(name, messages, add_generation_prompt, false);
  if (name == "deepseek_r1") return deepseek(name, messages, add_generation_prompt, true);
  if (name == "chatml") return chatml(messages, add_generation_prompt);
  if (name == "qwen3_think") return qwen3(messages, add_generation_prompt, true);
  if (name == "qwen3_nothink") return qwen3(messages, add_generation_prompt, false);
  return plain(messages);
}

std::string chat_template_generation_prefix(std::string_view name) {
  check_name(name);
  if (name == "deepseek_r1") return "<think>\n";
  if (name == "qwen3_nothink") return "<think>\n\n</think>\n\n";
  return "";
}

std::string chat_template_end_of_turn(std::string_view name) {
  check_name(name);
  if (name == "deepseek_v3" || name == "deepseek_r1") return kEos;
  if (name == "plain") return "";
  return "<|im_end|>";
}

}  // namespace aha

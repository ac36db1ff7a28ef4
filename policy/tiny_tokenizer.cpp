#include "policy/tiny_tokenizer.h"

#include <string>

namespace aha {

namespace {

// GPT-2's byte-level alphabet: printable bytes map to themselves, the rest to U+0100 + n.
std::string byte_level_char(int byte) {
  int cp = byte;
  if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174))) {
    int n = 0;
    for (int b = 0; b < byte; b++)
      if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))) n++;
    cp = 256 + n;
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

const char* kSpecial[] = {"<|pad|>",  "<|bos|>",  "<|eos|>",  "<think>",
                          "</think>", "<answer>", "</answer>"};

}  // namespace

nlohmann::json tiny_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json added = nlohmann::json::array();
  int id = 0;
  for (const char* s : kSpecial) {
    vocab[s] = id;
    added.push_back({{"id", id},
                     {"content", s},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", id < 3}});
    id++;
  }
  vocab[byte_level_char('\n')] = id++;
  for (int c = 32; c <= 126; c++) vocab[byte_level_char(c)] = id++;
  nlohmann::json j;
  j["version"] = "1.0";
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"},
                        {"add_prefix_space", false},
                        {"trim_offsets", true},
                        {"use_regex", false}};
  j["post_processor"] = nullptr;
  j["decoder"] = {{"type", "ByteLevel"},
                  {"add_prefix_space", false},
                  {"trim_offsets", true},
                  {"use_regex", false}};
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"vocab", vocab},
                {"merges", nlohmann::json::array()}};
  return j;
}

nlohmann::json tiny_tokenizer_config_json() {
  return {{"bos_token", "<|bos|>"},  {"eos_token", "<|eos|>"},
          {"pad_token", "<|pad|>"},  {"add_bos_token", false},
          {"model_max_length", 256}, {"tokenizer_class", "PreTrainedTokenizerFast"}};
}

}  // namespace aha

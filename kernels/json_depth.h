// Nesting limit for JSON read from outside (safetensors headers, tokenizer and model configs, JSONL
// rows, wire payloads), checked before nlohmann parses it: its parser is iterative, but copying,
// dump() and our walkers recurse once per level, so "[[[[..." 10^5 deep overflows the stack.
// Header-only and dependency-free so that every library (tasks and reward too) can use it.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aha {

// Real inputs nest under 10 levels; 256 leaves room and keeps recursion far from the stack's end.
constexpr size_t kJsonMaxDepth = 256;

// Byte offset of the '[' or '{' that opens level max_depth + 1, or npos when text nests no deeper.
// Brackets inside strings (escaped quotes included) do not count; text need not be valid JSON.
inline size_t json_too_deep_at(std::string_view text, size_t max_depth = kJsonMaxDepth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;  // the escaped character is never a quote that ends the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return std::string_view::npos;
}

// Throws std::runtime_error "<where>: JSON nested deeper than N levels (at byte B)" when too deep.
inline void json_check_depth(std::string_view text, const std::string& where,
                             size_t max_depth = kJsonMaxDepth) {
  const size_t at = json_too_deep_at(text, max_depth);
  if (at != std::string_view::npos)
    throw std::runtime_error(where + ": JSON nested deeper than " + std::to_string(max_depth) +
                             " levels (at byte " + std::to_string(at) + ")");
}

}  // namespace aha

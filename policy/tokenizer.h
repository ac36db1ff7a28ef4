// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (DeepSeek-V3, Qwen2/3, Llama-3,
// GPT-2 style). Pipeline for encode: added tokens are cut out first (longest match at the leftmost
// position), each remaining segment is normalised (NFC if declared), pre-tokenized by the declared
// Split/ByteLevel steps, and every piece is BPE-merged in merge-rank order. The Split regexes are
// not run by a regex engine: each supported regex string has a hand-coded matcher reproducing
// exactly the splits of Oniguruma (lookahead included); an unknown regex, pre-tokenizer,
// normaliser, decoder or model type is refused at load with a message naming it. Invariants: ids
// are dense in [0, vocab_size) except holes (ids nobody declared); decode(ids) returns the exact
// bytes of the tokens (no U+FFFD replacement), so decode(encode(x)) == normalise(x). A loaded
// Tokenizer is immutable; encode/decode are safe from many threads (the word cache is
// thread-local).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aha {

// One Split step's regex, recognised by its exact pattern string.
enum class SplitPattern {
  kLiteral,         // {"String": "..."}: split on a literal string
  kQwen2,           // cl100k-like, single digits: Qwen2/2.5/3
  kCl100k,          // cl100k / Llama-3: digits in groups of up to 3
  kGpt2,            // GPT-2's pattern (also ByteLevel's use_regex)
  kDeepSeekDigits,  // \p{N}{1,3}
  kDeepSeekCjk,     // [一-龥\u3040-ゟ゠-ヿ]+
  kDeepSeekMain,    // DeepSeek-V3's punctuation/letters/whitespace pattern
};
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokStep {
  bool is_split = true;  // false: ByteLevel
  SplitPattern pattern = SplitPattern::kLiteral;
  std::string literal;                // kLiteral only
  std::vector<uint32_t> literal_cps;  // kLiteral only: its code points
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel only
  bool use_regex = false;         // ByteLevel only: split with the GPT-2 pattern
};

struct AddedToken {
  std::string content;
  int id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false;
};

struct BpeMerge {
  int rank = 0;
  int merged_id = 0;
};

struct Tokenizer {
  std::string source;                          // path it was loaded from (for messages)
  int vocab_size = 0;                          // V: max id + 1
  std::vector<std::string> id_token;           // [V] token as written in tokenizer.json ("" = hole)
  std::vector<std::string> id_bytes;           // [V] exact bytes the id decodes to
  std::vector<uint8_t> id_special;             // [V] 1 for special added tokens
  std::unordered_map<std::string, int> vocab;  // model.vocab: byte-level token string -> id
  std::unordered_map<uint64_t, BpeMerge> merges;  // key (left_id << 32 | right_id)
  struct MergeSlot {
    uint64_t key = ~0ull;  // ~0: empty
    BpeMerge merge;
  };
  std::vector<MergeSlot> merge_table;  // open-addressing copy of merges for the hot loop
  int byte_id[256];                    // id of each byte's byte-level symbol, -1 if absent
  std::vector<AddedToken> added;       // sorted longest content first
  struct TrieNode {
    std::vector<std::pair<unsigned char, int>> next;  // byte -> node index
    int added_idx = -1;                               // index into added if a token ends here
  };
  std::vector<TrieNode> added_trie;  // byte trie of the added tokens' contents, root at 0
  bool nfc = false;
  bool ignore_merges = false;
  std::vector<PreTokStep> pre;
  int bos_id = -1, eos_id = -1, pad_id = -1;  // from tokenizer_config.json when present
  bool add_bos = false, add_eos = false;      // tokenizer_config.json's add_bos_token/add_eos_token
  // Unique per load; keys the thread-local word cache (a copy given other vocab or merges must
  // get a new serial).
  uint64_t serial = 0;
};

// Loads DIR/tokenizer.json (+ DIR/tokenizer_config.json if present) or a tokenizer.json path
// (+ tokenizer_config.json beside it). Throws std::runtime_error naming the file and the problem.
Tokenizer tokenizer_load(const std::string& dir_or_json_path);

// Token ids of text. parse_special=false treats special added tokens as plain text (non-special
// added tokens such as <think> are still matched, but not inside a special token's text, like
// HF's split_special_tokens). No BOS/EOS added.
std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text,
                                  bool parse_special = true);

// Exact bytes of the ids concatenated (may be partial UTF-8 for a prefix of a sequence). Throws on
// an id outside the vocabulary. skip_special drops special added tokens.
std::string tokenizer_decode(const Tokenizer& tok, const std::vector<int>& ids,
                             bool skip_special = false);

// Id of a token given as its text (an added token's content, or a vocab entry's byte-level form);
// -1 if none.
int tokenizer_token_id(const Tokenizer& tok, std::string_view token);

// Debug/test helpers: the pieces the pre-tokenizer cuts a normalised segment into (bytes, before
// the byte-level mapping), NFC of a UTF-8 string (invalid bytes pass through unchanged), and the
// BPE of one piece with the naive O(n^2) reference merge loop (method 0), the cached-rank loop
// used for short pieces (1) or the priority-queue loop used for long ones (2).
std::vector<std::string> tokenizer_pre_tokenize(const Tokenizer& tok, std::string_view text);
std::string unicode_nfc(std::string_view text);
std::vector<int> tokenizer_bpe_piece(const Tokenizer& tok, std::string_view piece, int method);

}  // namespace aha

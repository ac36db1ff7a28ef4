// Tokenizer unit tests on the tiny fixture tests/fixtures/tokenizer/tiny (256 byte symbols with ids
// equal to the byte value, 9 merges, 4 added tokens). Expected ids were computed by hand and agree
// with Hugging Face `tokenizers` 0.23.3 on the same file.
#include <doctest/doctest.h>
#include <unistd.h>  // getpid

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "policy/tokenizer.h"

using namespace aha;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = std::string(AHA_FIXTURES_DIR) + "/tokenizer/tiny";

// Merged tokens of the fixture, in merge order (ids 256..264), and the added tokens.
enum : int { Gt = 256, he, Gthe, lo, low, er, lower, ow, aa, kBegin, kEnd, kThink, kE };

const Tokenizer& tiny() {
  static Tokenizer tok = tokenizer_load(kTiny);
  return tok;
}

nlohmann::json tiny_json() {
  std::ifstream f(kTiny + "/tokenizer.json");
  return nlohmann::json::parse(f);
}

// Writes j as DIR/tokenizer.json in a fresh temp dir and returns the file path.
std::string write_temp(const nlohmann::json& j, const std::string& text = "") {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() /
                 ("aha_tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  std::ofstream f(dir / "tokenizer.json");
  f << (text.empty() ? j.dump() : text);
  return (dir / "tokenizer.json").string();
}

std::string load_error(const nlohmann::json& j, const std::string& text = "") {
  std::string path = write_temp(j, text);
  try {
    tokenizer_load(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::vector<int> bytes_of(std::string_view s) {
  std::vector<int> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}

}  // namespace

TEST_CASE("tokenizer loads the fixture with its config") {
  const Tokenizer& t = tiny();
  CHECK(t.vocab_size == 269);
  CHECK(t.bos_id == kBegin);
  CHECK(t.eos_id == kEnd);
  CHECK(t.pad_id == -1);
  CHECK(t.add_bos);
  CHECK(!t.add_eos);
  CHECK(t.nfc);
  CHECK(tokenizer_token_id(t, "<think>") == kThink);
  CHECK(tokenizer_token_id(t, "Ġthe") == Gthe);
  CHECK(tokenizer_token_id(t, "nope") == -1);
}

TEST_CASE("merges are applied in rank order, leftmost first on ties") {
  const Tokenizer& t = tiny();
  // l-o (rank 3) before o-w (rank 7): "lowe" is low+e, not l+ow+e.
  CHECK(tokenizer_encode(t, "lowe") == std::vector<int>{low, 'e'});
  // e-r (rank 5) before o-w (rank 7); no merge joins ow and er.
  CHECK(tokenizer_encode(t, "ower") == std::vector<int>{ow, er});
  CHECK(tokenizer_encode(t, "lower") == std::vector<int>{lower});
  CHECK(tokenizer_encode(t, "aaa") == std::vector<int>{aa, 'a'});
  CHECK(tokenizer_encode(t, "aaaa") == std::vector<int>{aa, aa});
  CHECK(tokenizer_encode(t, " the") == std::vector<int>{Gthe});
  CHECK(tokenizer_encode(t, "the") == std::vector<int>{'t', he});
  CHECK(tokenizer_encode(t, "Hello  world") ==
        std::vector<int>{'H', 'e', 'l', lo, ' ', ' ', 'w', 'o', 'r', 'l', 'd'});
}

TEST_CASE("cached-rank and heap merge loops equal the naive O(n^2) reference") {
  const Tokenizer& t = tiny();
  std::mt19937 rng(7);
  const std::string alpha = "aloweerht ";
  for (int trial = 0; trial < 300; trial++) {
    std::string s;
    int n = 1 + rng() % (trial % 2 ? 40 : 200);
    for (int k = 0; k < n; k++) s += alpha[rng() % alpha.size()];
    std::vector<int> want = tokenizer_bpe_piece(t, s, 0);
    if (s.size() <= 64) CHECK(tokenizer_bpe_piece(t, s, 1) == want);
    CHECK(tokenizer_bpe_piece(t, s, 2) == want);
  }
}

TEST_CASE("both merge forms (\"a b\" and [a, b]) load the same model") {
  nlohmann::json j = tiny_json();
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& m : j["model"]["merges"]) {
    std::string s = m.get<std::string>();
    size_t sp = s.find(' ');
    pairs.push_back({s.substr(0, sp), s.substr(sp + 1)});
  }
  j["model"]["merges"] = pairs;
  Tokenizer t2 = tokenizer_load(write_temp(j));
  for (const char* s : {"lowe", "ower", "lower", "aaa", " the", "the lower tower", "é"})
    CHECK(tokenizer_encode(t2, s) == tokenizer_encode(tiny(), s));
  CHECK(t2.merges.size() == 9);
}

TEST_CASE("added tokens: matched before pre-tokenization, longest first, special switch") {
  const Tokenizer& t = tiny();
  CHECK(tokenizer_encode(t, "x<|end|>y") == std::vector<int>{'x', kEnd, 'y'});
  CHECK(tokenizer_encode(t, "<|e") == std::vector<int>{kE});
  CHECK(tokenizer_encode(t, "<|e<|end|>") == std::vector<int>{kE, kEnd});
  CHECK(tokenizer_encode(t, "a<think>b") == std::vector<int>{'a', kThink, 'b'});
  CHECK(tokenizer_encode(t, "<|begin|>the") == std::vector<int>{kBegin, 't', he});
  // parse_special=false: special tokens are text, the non-special <think> still matches.
  CHECK(tokenizer_encode(t, "<|end|><think><|e", false) ==
        std::vector<int>{'<', '|', 'e', 'n', 'd', '|', '>', kThink, '<', '|', 'e'});
  CHECK(tokenizer_decode(t, {kBegin, 't', he, kEnd}) == "<|begin|>the<|end|>");
  CHECK(tokenizer_decode(t, {kBegin, 't', he, kThink, kEnd}, true) == "the<think>");
}

TEST_CASE("unseen characters fall back to byte-level symbols") {
  const Tokenizer& t = tiny();
  CHECK(tokenizer_encode(t, "é") == bytes_of("é"));             // C3 A9
  CHECK(tokenizer_encode(t, "中") == bytes_of("中"));           // E4 B8 AD
  CHECK(tokenizer_encode(t, "😀") == bytes_of("😀"));             // 4 bytes
  CHECK(tokenizer_encode(t, "e\u0301") == bytes_of("\u00e9"));  // NFC first
  CHECK(tokenizer_decode(t, bytes_of("中")) == "中");
  // Decode gives exact bytes, even a partial character.
  CHECK(tokenizer_decode(t, {0xE4, 0xB8}) == std::string("\xE4\xB8"));
}

TEST_CASE("pre-tokenizer splits of the Qwen2 pattern (hand-computed)") {
  const Tokenizer& t = tiny();
  using V = std::vector<std::string>;
  CHECK(tokenizer_pre_tokenize(t, "Hello  world") == V{"Hello", " ", " world"});
  CHECK(tokenizer_pre_tokenize(t, "x\n\n  y") == V{"x", "\n\n", " ", " y"});
  CHECK(tokenizer_pre_tokenize(t, "it's 123!!\n") == V{"it", "'s", " ", "1", "2", "3", "!!\n"});
  CHECK(tokenizer_pre_tokenize(t, "a   ") == V{"a", "   "});
  CHECK(tokenizer_pre_tokenize(t, "I'LL do") == V{"I", "'LL", " do"});
  CHECK(tokenizer_pre_tokenize(t, "\tx") == V{"\tx"});
  CHECK(tokenizer_pre_tokenize(t, "") == V{});
}

TEST_CASE("NFC (hand-computed cases from UAX #15)") {
  CHECK(unicode_nfc("e\u0301") == "\u00e9");
  CHECK(unicode_nfc("\u1e9b\u0323") == "\u1e9b\u0323");    // no composite exists
  CHECK(unicode_nfc("\u1100\u1161\u11a8") == "\uac01");    // Hangul L V T
  CHECK(unicode_nfc("q\u0307\u0323") == "q\u0323\u0307");  // canonical reordering
  CHECK(unicode_nfc("\u212b") == "\u00c5");                // Angstrom sign singleton
  CHECK(unicode_nfc("a\u0323\u0302") == "\u1ead");         // a + dot below + circumflex
  CHECK(unicode_nfc("plain ascii") == "plain ascii");
  CHECK(unicode_nfc(std::string("\xff"
                                "e\xcc\x81",
                                4)) == std::string("\xff\xc3\xa9", 3));
}

TEST_CASE("decode(encode(x)) == NFC(x) for random bytes, invalid UTF-8 included") {
  const Tokenizer& t = tiny();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; trial++) {
    std::string s;
    int n = rng() % 64;
    for (int k = 0; k < n; k++) s.push_back((char)(rng() % 256));
    CHECK(tokenizer_decode(t, tokenizer_encode(t, s, false)) == unicode_nfc(s));
  }
}

TEST_CASE("concurrent encodes agree with a single thread (thread-local word caches)") {
  const Tokenizer& t = tiny();
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  const std::string alpha = "aloweerht <|end|>\n\u00e9";
  for (int k = 0; k < 200; k++) {
    std::string s;
    for (int n = rng() % 40; n > 0; n--) s += alpha[rng() % alpha.size()];
    texts.push_back(s);
  }
  std::vector<std::vector<int>> want;
  for (auto& s : texts) want.push_back(tokenizer_encode(t, s));
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; w++)
    threads.emplace_back([&, w] {
      for (int rep = 0; rep < 5; rep++)
        for (size_t k = 0; k < texts.size(); k++) ok[w] += tokenizer_encode(t, texts[k]) == want[k];
    });
  for (auto& th : threads) th.join();
  for (int w = 0; w < 4; w++) CHECK(ok[w] == 5 * (int)texts.size());
}

TEST_CASE("decode rejects ids outside the vocabulary") {
  const Tokenizer& t = tiny();
  CHECK_THROWS_WITH_AS(tokenizer_decode(t, {1, 269}), doctest::Contains("id 269"),
                       std::runtime_error);
  CHECK_THROWS_AS(tokenizer_decode(t, {-1}), std::runtime_error);
}

TEST_CASE("malformed tokenizer.json files are refused with the problem named") {
  nlohmann::json j = tiny_json();
  auto with = [&](auto edit) {
    nlohmann::json k = j;
    edit(k);
    return load_error(k);
  };
  CHECK(with([](auto& k) {
          k["pre_tokenizer"]["pretokenizers"][0]["type"] = "Metaspace";
        }).find("'Metaspace'") != std::string::npos);
  CHECK(with([](auto& k) { k["model"].erase("merges"); }).find("merges") != std::string::npos);
  CHECK(with([](auto& k) {
          k["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+(?=x)";
        }).find("unsupported Split regex '\\w+(?=x)'") != std::string::npos);
  CHECK(with([](auto& k) {
          k["normalizer"] = {{"type", "NFKD"}};
        }).find("'NFKD'") != std::string::npos);
  CHECK(with([](auto& k) { k["model"]["merges"][0] = "Ġ zz"; }).find("'zz'") != std::string::npos);
  CHECK(with([](auto& k) { k["model"]["type"] = "WordPiece"; }).find("WordPiece") !=
        std::string::npos);
  CHECK(with([](auto& k) {
          k["decoder"] = {{"type", "Metaspace"}};
        }).find("decoder") != std::string::npos);
  CHECK(with([](auto& k) {
          k["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Weird";
        }).find("'Weird'") != std::string::npos);
  CHECK(with([](auto& k) { k["pre_tokenizer"] = nullptr; }).find("ByteLevel") != std::string::npos);
  std::string bad = load_error(j, "{\"model\": ");
  CHECK(bad.find("tokenizer.json") != std::string::npos);
  CHECK(bad.find("invalid JSON") != std::string::npos);
  CHECK_THROWS_WITH_AS(tokenizer_load("/nonexistent/dir"), doctest::Contains("not found"),
                       std::runtime_error);
}

TEST_CASE("token ids far beyond the declared tokens, or wrapping, are refused before allocating") {
  nlohmann::json j = tiny_json();
  auto with = [&](auto edit) {
    nlohmann::json k = j;
    edit(k);
    return load_error(k);
  };
  // Found by fuzzing: one vocab entry with id 2^26 made the load allocate about 4 GB of holes.
  std::string e = with([](auto& k) { k["model"]["vocab"]["a"] = 1 << 26; });
  CHECK(e.find("model.vocab: token 'a'") != std::string::npos);
  CHECK(e.find("token id 67108864 out of range [0, ") != std::string::npos);
  // 2^32 + 5 was read as id 5 (get<int> wraps); the added token's id is checked the same way.
  CHECK(with([](auto& k) {
          k["model"]["vocab"]["a"] = 4294967301ull;
        }).find("token id 4294967301 out of range") != std::string::npos);
  CHECK(with([](auto& k) {
          k["added_tokens"][0]["id"] = -3;
        }).find("added_tokens[0]: field 'id': token id -3 out of range") != std::string::npos);
  CHECK(with([](auto& k) { k["added_tokens"][0]["id"] = 2.5; }).find("is not an integer") !=
        std::string::npos);
  // Holes within twice the declared count stay allowed.
  CHECK(with([](auto& k) { k["added_tokens"][0]["id"] = 400; }) == "");
}

TEST_CASE("a tokenizer.json nested thousands deep is refused, naming the byte") {
  // Found by fuzzing: a normalizer of 10^6 nested arrays overflowed the stack while copying it.
  const std::string deep =
      "{\"normalizer\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string e = load_error(nullptr, deep);
  CHECK(e.find("tokenizer.json: JSON nested deeper than 256 levels (at byte 270)") !=
        std::string::npos);
}

// Cases found by experiments/tokenizer_diff.py; expected values from Hugging Face `tokenizers`
// 0.23.3, whose regexes use Unicode 16.0 categories and whose NFC knows only older marks.
TEST_CASE("Unicode categories are Oniguruma's (Unicode 16.0), not those of Unicode 14.0") {
  const Tokenizer& t = tiny();
  using V = std::vector<std::string>;
  // U+2EBF0 (CJK Extension I, Unicode 15.1) is a letter: it joins the word before it.
  CHECK(tokenizer_pre_tokenize(t, "x\U0002EBF0") == V{"x\U0002EBF0"});
  // Kaktovik numerals (Unicode 15.0) are \p{N}: one piece per digit in the Qwen2 pattern.
  CHECK(tokenizer_pre_tokenize(t, "x\U0001D2C0\U0001D2C1") == V{"x", "\U0001D2C0", "\U0001D2C1"});
  // DeepSeek-V3's pattern: U+1CD8A (Unicode 16.0) is \p{S}, so it takes the backslash with it.
  nlohmann::json j = tiny_json();
  std::ifstream pf(std::string(AHA_FIXTURES_DIR) + "/tokenizer/deepseek_v3_pre_tokenizer.json");
  j["pre_tokenizer"] = nlohmann::json::parse(pf);
  j["normalizer"] = nullptr;
  Tokenizer ds = tokenizer_load(write_temp(j));
  CHECK(tokenizer_pre_tokenize(ds, "\U0001CD8A\\lft") == V{"\U0001CD8A\\", "lft"});
  CHECK(tokenizer_pre_tokenize(ds, "a\U0001CD8A") == V{"a", "\U0001CD8A"});
  CHECK(tokenizer_pre_tokenize(ds, "x\U0001D2C0\U0001D2C1") == V{"x", "\U0001D2C0\U0001D2C1"});
}

TEST_CASE("NFC leaves marks alone that Hugging Face's normaliser does not know") {
  // Classes 230/9 and 230/7 (Unicode 10-11 marks): not reordered.
  CHECK(unicode_nfc("\u0951\u0d3c") == "\u0951\u0d3c");
  CHECK(unicode_nfc("\u09fe\u09bc") == "\u09fe\u09bc");
  // U+1DFA (class 218, Unicode 14.0) counts as a starter, so it blocks the acute from composing.
  CHECK(unicode_nfc("a\u1dfa\u0301") == "a\u1dfa\u0301");
  CHECK(unicode_nfc("e\u0301\u1dfa") == "\u00e9\u1dfa");
  // Dives Akuru O (Unicode 13.0) is not composed from its parts.
  CHECK(unicode_nfc("\U00011935\U00011930") == "\U00011935\U00011930");
  CHECK(unicode_nfc("\U00011938") == "\U00011938");
  // Nor decomposed when a mark follows (its normaliser has no decomposition for it).
  CHECK(unicode_nfc("\U00011938\U0001D16E") == "\U00011938\U0001D16E");
}

TEST_CASE("with parse_special=false a special token's text hides the added tokens inside it") {
  nlohmann::json j = tiny_json();
  j["added_tokens"].push_back({{"id", 269},
                               {"content", "<|x<think>|>"},
                               {"single_word", false},
                               {"lstrip", false},
                               {"rstrip", false},
                               {"normalized", false},
                               {"special", true}});
  Tokenizer t = tokenizer_load(write_temp(j));
  CHECK(tokenizer_encode(t, "a<|x<think>|>b") == std::vector<int>{'a', 269, 'b'});
  CHECK(tokenizer_encode(t, "a<|x<think>|>b", false) == bytes_of("a<|x<think>|>b"));
  // Only a complete special token hides anything.
  CHECK(tokenizer_encode(t, "<|x<think>", false) == std::vector<int>{'<', '|', 'x', kThink});
  CHECK(tokenizer_encode(t, "<|e<|end|>", false) == bytes_of("<|e<|end|>"));
}

TEST_CASE("NFC of a long run of stacked marks is canonical and not quadratic") {
  // 'a' then (acute 230, grave-below 220) x N: the 220s sort first, the first acute composes.
  const int n = 100000;
  std::string in = "a", want = "\u00e1";
  for (int k = 0; k < n; k++) in += "\u0301\u0316";
  for (int k = 0; k < n; k++) want += "\u0316";
  for (int k = 1; k < n; k++) want += "\u0301";
  auto t0 = std::chrono::steady_clock::now();
  CHECK(unicode_nfc(in) == want);
  // An insertion sort takes minutes here; the stable sort milliseconds.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  const Tokenizer& t = tiny();
  CHECK(tokenizer_decode(t, tokenizer_encode(t, in)) == want);
}

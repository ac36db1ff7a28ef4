// The real DeepSeek-V3 and Qwen3 tokenizers against independent references:
// - ../shared/data/tokenizers/*/reference_encodings.jsonl (709 rows each, transformers.js port),
// - tests/fixtures/tokenizer/hf_fuzz.jsonl: random stress strings encoded by Hugging Face
//   `tokenizers` 0.23.3 with both files, and with Qwen3's vocabulary under other pre-tokenizers
//   (cl100k/Llama-3 digits, GPT-2 ByteLevel regex with prefix space, literal splits with every
//   behaviour and invert), see gen_hf_fuzz.py.
// Plus `aha tokenize` end to end. Exits 77 (skipped) when the shared data is absent.
#include <doctest/doctest.h>
#include <unistd.h>  // getpid

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/chat_template.h"
#include "policy/tokenizer.h"
#include "tests/test_util.h"

using namespace aha;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kDir = std::string(AHA_SHARED_DATA_DIR) + "/tokenizers";
const std::string kFix = std::string(AHA_FIXTURES_DIR) + "/tokenizer";

const bool kHaveData = aha::test::skip_unless_exist(
    {kDir + "/deepseek_v3/tokenizer.json", kDir + "/qwen3/tokenizer.json"});

const Tokenizer& get(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, tokenizer_load(kDir + "/" + name)).first;
  return it->second;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  std::vector<json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

void check_reference(const std::string& name) {
  const Tokenizer& tok = get(name);
  auto rows = read_jsonl(kDir + "/" + name + "/reference_encodings.jsonl");
  CHECK(rows.size() == 709);
  int exact = 0, round_trip = 0, nfc_rows = 0;
  for (size_t k = 0; k < rows.size(); k++) {
    std::string text = rows[k]["text"].get<std::string>();
    auto want = rows[k]["ids"].get<std::vector<int>>();
    auto got = tokenizer_encode(tok, text, false);
    if (got == want)
      exact++;
    else
      MESSAGE(name << " row " << k << " differs: " << json(text).dump());
    std::string back = tokenizer_decode(tok, got);
    // decode(encode(x)) == x exactly, except that an NFC tokenizer returns NFC(x) (one row of
    // decomposed accents; Hugging Face `tokenizers` gives the same).
    std::string expect = tok.nfc ? unicode_nfc(text) : text;
    if (expect != text) nfc_rows++;
    if (back == expect) round_trip++;
  }
  MESSAGE(name << ": " << exact << "/" << rows.size() << " exact, " << round_trip
               << " round trips (" << nfc_rows << " rows not NFC)");
  CHECK(exact == (int)rows.size());
  CHECK(round_trip == (int)rows.size());
}

}  // namespace

TEST_CASE("deepseek_v3 reference encodings") {
  check_reference("deepseek_v3");
  const Tokenizer& t = get("deepseek_v3");
  CHECK(t.bos_id == 0);
  CHECK(t.eos_id == 1);
  CHECK(t.add_bos);
  CHECK(tokenizer_token_id(t, "<｜User｜>") >= 0);
  CHECK(tokenizer_encode(t, "<｜User｜>hi") ==
        std::vector<int>{tokenizer_token_id(t, "<｜User｜>"), tokenizer_encode(t, "hi")[0]});
}

TEST_CASE("qwen3 reference encodings") {
  check_reference("qwen3");
  const Tokenizer& t = get("qwen3");
  CHECK(t.bos_id == -1);
  CHECK(t.eos_id == tokenizer_token_id(t, "<|im_end|>"));
  CHECK(t.eos_id == 151645);
  CHECK(t.pad_id == 151643);
  CHECK(tokenizer_decode(t, {151644}) == "<|im_start|>");
}

TEST_CASE("chat prompts encode their markers as the special tokens") {
  const Tokenizer& ds = get("deepseek_v3");
  std::string p = chat_template_apply("deepseek_r1", {{"user", "2+2?"}}, true);
  std::vector<int> ids = tokenizer_encode(ds, p);
  REQUIRE(ids.size() >= 4);
  CHECK(ids[0] == ds.bos_id);
  CHECK(ids[1] == tokenizer_token_id(ds, "<｜User｜>"));
  CHECK(tokenizer_decode(ds, ids) == p);
  const Tokenizer& qw = get("qwen3");
  p = chat_template_apply("qwen3_think", {{"system", "S"}, {"user", "Q"}}, true);
  ids = tokenizer_encode(qw, p);
  CHECK(ids[0] == 151644);                                 // <|im_start|>
  CHECK(std::count(ids.begin(), ids.end(), 151645) == 2);  // <|im_end|>
  CHECK(tokenizer_decode(qw, ids) == p);
}

TEST_CASE("Hugging Face tokenizers fuzz rows, real files and pre-tokenizer variants") {
  auto rows = read_jsonl(kFix + "/hf_fuzz.jsonl");
  std::ifstream vf(kFix + "/hf_fuzz_variants.json");
  json variants = json::parse(vf);
  // A variant is Qwen3's vocabulary and merges with another pre_tokenizer: parse the pre_tokenizer
  // through the tiny fixture, then put its steps into a copy of the Qwen3 tokenizer.
  std::map<std::string, Tokenizer> built;
  std::ifstream tf(kFix + "/tiny/tokenizer.json");
  json tiny = json::parse(tf);
  fs::path tmp = fs::temp_directory_path() / ("aha_tok_variant_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (auto& [name, pre] : variants.items()) {
    tiny["pre_tokenizer"] = pre;
    std::ofstream(tmp / "tokenizer.json") << tiny.dump();
    Tokenizer v = get("qwen3");
    v.pre = tokenizer_load((tmp / "tokenizer.json").string()).pre;
    built.emplace(name, std::move(v));
  }
  fs::remove_all(tmp);
  std::map<std::string, std::pair<int, int>> score;  // name -> (exact, rows)
  for (const json& r : rows) {
    std::string name = r["tokenizer"].get<std::string>();
    const Tokenizer& tok = built.count(name) ? built.at(name) : get(name);
    std::string text = r["text"].get<std::string>();
    auto got = tokenizer_encode(tok, text, false);
    bool ok = got == r["ids"].get<std::vector<int>>();
    if (!ok) MESSAGE(name << " differs on " << json(text).dump());
    score[name].first += ok;
    score[name].second += 1;
    // Round trip, except where the pre-tokenizer adds (prefix space) or removes text.
    if (name.find("Removed") == std::string::npos && name != "gpt2_bytelevel")
      CHECK(tokenizer_decode(tok, got) == (tok.nfc ? unicode_nfc(text) : text));
  }
  CHECK(score.size() == variants.size() + 2);
  for (auto& [name, s] : score) {
    MESSAGE(name << ": " << s.first << "/" << s.second);
    CHECK(s.first == s.second);
  }
}

TEST_CASE("aha tokenize and aha tokenize --decode") {
  fs::path tmp = fs::temp_directory_path() / ("aha_tok_cli_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  {
    std::ofstream f(tmp / "in.jsonl");
    f << R"({"id": 7, "text": "Hello world<|im_end|>"})"
      << "\n\n"
      << R"({"text": "12345 é"})"
      << "\n";
  }
  std::string bin = AHA_BINARY, dir = kDir + "/qwen3";
  std::string cmd = bin + " tokenize --tokenizer " + dir + " --input " +
                    (tmp / "in.jsonl").string() + " > " + (tmp / "out.jsonl").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto out = read_jsonl((tmp / "out.jsonl").string());
  REQUIRE(out.size() == 2);
  const Tokenizer& t = get("qwen3");
  CHECK(out[0]["id"] == 7);
  CHECK(out[0]["ids"].get<std::vector<int>>() == tokenizer_encode(t, "Hello world<|im_end|>"));
  CHECK(out[0]["ids"].back() == 151645);
  CHECK(out[1]["ids"].get<std::vector<int>>() == tokenizer_encode(t, "12345 é"));
  {
    std::ofstream f(tmp / "ids.jsonl");
    for (auto& r : out) f << json{{"ids", r["ids"]}}.dump() << "\n";
  }
  cmd = bin + " tokenize --decode --tokenizer " + dir + " --input " + (tmp / "ids.jsonl").string() +
        " --output " + (tmp / "text.jsonl").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto back = read_jsonl((tmp / "text.jsonl").string());
  REQUIRE(back.size() == 2);
  CHECK(back[0]["text"] == "Hello world<|im_end|>");
  CHECK(back[1]["text"] == "12345 é");
  // A malformed row fails with the line named.
  {
    std::ofstream f(tmp / "bad.jsonl");
    f << R"({"text": "ok"})"
      << "\n"
      << R"({"txt": "no"})"
      << "\n";
  }
  cmd = bin + " tokenize --tokenizer " + dir + " --input " + (tmp / "bad.jsonl").string() +
        " > /dev/null 2> " + (tmp / "err.txt").string();
  CHECK(std::system(cmd.c_str()) != 0);
  std::ifstream ef(tmp / "err.txt");
  std::string err((std::istreambuf_iterator<char>(ef)), std::istreambuf_iterator<char>());
  CHECK(err.find("bad.jsonl:2") != std::string::npos);
  CHECK(err.find("'text'") != std::string::npos);
  // An id past int wrapped to a small one and decoded the wrong token; a row nested 10^5 deep
  // overflowed the stack. Both now fail naming the line.
  auto fails_with = [&](const std::string& row, const std::string& flags, const std::string& want) {
    std::ofstream(tmp / "bad2.jsonl") << R"({"text": "a", "ids": [1]})"
                                      << "\n"
                                      << row << "\n";
    std::string c = bin + " tokenize " + flags + " --tokenizer " + dir + " --input " +
                    (tmp / "bad2.jsonl").string() + " > /dev/null 2> " +
                    (tmp / "err2.txt").string();
    CHECK(std::system(c.c_str()) != 0);
    std::ifstream f(tmp / "err2.txt");
    std::string e((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    INFO(e);
    CHECK(e.find(want) != std::string::npos);
  };
  fails_with(R"({"ids": [5, 4294967297]})", "--decode",
             "bad2.jsonl:2: field 'ids' position 1: id 4294967297 is out of range");
  fails_with("{\"text\": " + std::string(100000, '[') + std::string(100000, ']') + "}", "",
             "bad2.jsonl:2: JSON nested deeper than 256 levels (at byte 264)");
  fs::remove_all(tmp);
}

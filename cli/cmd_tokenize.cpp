// `aha tokenize`: JSONL rows with "text" get "ids" (or, with --decode, rows with "ids" get "text"),
// for people checking what the model sees. `aha bench tokenizer`: encode/decode throughput.
#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "kernels/json_depth.h"
#include "kernels/user_input.h"
#include "policy/tokenizer.h"

namespace {

using ojson = nlohmann::ordered_json;

struct TokenizeArgs {
  std::string tokenizer, input, output;
  bool decode = false, no_special = false, skip_special = false;
};

void run_tokenize(const TokenizeArgs& a) {
  aha::Tokenizer tok = aha::tokenizer_load(a.tokenizer);
  std::ifstream fin;
  if (!a.input.empty()) {
    fin = aha::open_input(a.input, "cannot open input");
  }
  std::istream& in = a.input.empty() ? std::cin : fin;
  std::unique_ptr<aha::OutputFile> fout;
  if (!a.output.empty()) fout = std::make_unique<aha::OutputFile>(a.output, "--output");
  std::ostream& out = fout ? fout->stream() : std::cout;
  const std::string where = a.input.empty() ? std::string("stdin") : a.input;
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); line_no++) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string at = where + ":" + std::to_string(line_no);
    aha::json_check_depth(line, at);
    ojson row;
    try {
      row = ojson::parse(line);
    } catch (const ojson::exception& e) {
      throw std::runtime_error(at + ": invalid JSON: " + aha::json_error_text(e.what()));
    }
    if (!row.is_object()) throw std::runtime_error(at + ": row is not a JSON object");
    if (!a.decode) {
      if (!row.contains("text") || !row["text"].is_string())
        throw std::runtime_error(at + ": missing string field 'text'");
      row["ids"] = aha::tokenizer_encode(tok, row["text"].get<std::string>(), !a.no_special);
    } else {
      if (!row.contains("ids") || !row["ids"].is_array())
        throw std::runtime_error(at + ": missing array field 'ids'");
      std::vector<int> ids;
      for (const auto& v : row["ids"]) {
        if (!v.is_number_integer())
          throw std::runtime_error(at + ": field 'ids' holds a non-integer");
        // get<int>() would wrap 2^32 + 1 to id 1 and decode the wrong token.
        if (v.is_number_unsigned() ? v.get<uint64_t>() > INT_MAX
                                   : (v.get<int64_t>() < INT_MIN || v.get<int64_t>() > INT_MAX))
          throw std::runtime_error(at + ": field 'ids' position " + std::to_string(ids.size()) +
                                   ": id " + v.dump() + " is out of range");
        ids.push_back(static_cast<int>(v.get<int64_t>()));
      }
      try {
        row["text"] = aha::tokenizer_decode(tok, ids, a.skip_special);
      } catch (const std::exception& e) {
        throw std::runtime_error(at + ": " + e.what());
      }
    }
    // JSON must be UTF-8: bytes of ids that split a character are written as U+FFFD.
    out << row.dump(-1, ' ', false, ojson::error_handler_t::replace) << '\n';
  }
  if (in.bad()) throw std::runtime_error(where + ": read error");
  if (fout) fout->commit();
}

void add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* c = app.add_subcommand("tokenize", "Add token ids to JSONL rows with \"text\" (or decode)");
  c->add_option("--tokenizer", a->tokenizer, "Directory with tokenizer.json (or its path)")
      ->required();
  c->add_option("--input", a->input, "JSONL input (default stdin)");
  c->add_option("--output", a->output, "JSONL output (default stdout)");
  c->add_flag("--decode", a->decode, "Rows with \"ids\" get \"text\"");
  c->add_flag("--no-special", a->no_special, "Treat special tokens in text as plain text");
  c->add_flag("--skip-special", a->skip_special, "With --decode, drop special tokens");
  c->callback([a] { run_tokenize(*a); });
}
AHA_COMMAND(add_tokenize);

// Text of a benchmark file: a .jsonl file gives the string fields of every row, one per line.
std::string bench_text(const std::string& path) {
  std::ifstream f = aha::open_input(path, "cannot open", std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string raw = ss.str();
  if (path.size() < 6 || path.substr(path.size() - 6) != ".jsonl") return raw;
  std::string text;
  std::istringstream in(raw);
  std::string line;
  for (size_t n = 1; std::getline(in, line); n++) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    aha::json_check_depth(line, path + ":" + std::to_string(n));
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": invalid JSON: " + aha::json_error_text(e.what()));
    }
    if (!row.is_object()) continue;
    for (auto& [k, v] : row.items())
      if (v.is_string()) text += v.get<std::string>() + "\n";
  }
  return text;
}

struct BenchArgs {
  std::string tokenizer, file;
  int passes = 3;
};

void run_bench(const BenchArgs& a) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  // CPU time of this thread: the per-core figure, robust to other processes sharing the cores.
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  auto t0 = clock::now();
  aha::Tokenizer tok = aha::tokenizer_load(a.tokenizer);
  double load_s = secs(t0);
  std::string file = a.file.empty() ? a.tokenizer + "/reference_encodings.jsonl" : a.file;
  std::string text = bench_text(file);
  // Encode line by line, as a data loader would (one call per document line).
  std::vector<std::string_view> lines;
  for (size_t i = 0; i < text.size();) {
    size_t j = text.find('\n', i);
    j = j == std::string::npos ? text.size() : j + 1;
    lines.emplace_back(text.data() + i, j - i);
    i = j;
  }
  double mb = text.size() / 1e6;
  std::printf("tokenizer %s: load %.2f s, vocab %d\n", tok.source.c_str(), load_s, tok.vocab_size);
  std::printf("text %s: %.2f MB, %zu lines\n", file.c_str(), mb, lines.size());
  std::vector<std::vector<int>> ids(lines.size());
  for (int pass = 0; pass < a.passes; pass++) {
    t0 = clock::now();
    double c0 = cpu_now();
    size_t num_tokens = 0;
    for (size_t k = 0; k < lines.size(); k++) {
      ids[k] = aha::tokenizer_encode(tok, lines[k]);
      num_tokens += ids[k].size();
    }
    double s = secs(t0), cpu = cpu_now() - c0;
    std::printf(
        "encode pass %d (%s word cache): cpu %.3f s, %.2f MB/s per core, %.2f M tokens/s per "
        "core (wall %.3f s), %zu tokens\n",
        pass + 1, pass == 0 ? "cold" : "warm", cpu, mb / cpu, num_tokens / cpu / 1e6, s,
        num_tokens);
  }
  double c0 = cpu_now();
  size_t bytes = 0, mismatches = 0;
  for (size_t k = 0; k < lines.size(); k++) {
    std::string d = aha::tokenizer_decode(tok, ids[k]);
    bytes += d.size();
    mismatches += tok.nfc ? 0 : (d != lines[k]);
  }
  double cpu = cpu_now() - c0;
  std::printf("decode: cpu %.3f s, %.2f MB/s per core%s\n", cpu, bytes / 1e6 / cpu,
              tok.nfc ? "" : (", round-trip mismatches: " + std::to_string(mismatches)).c_str());
}

void add_bench_tokenizer(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* bench = aha::cli::subcommand(app, "bench", "Benchmarks");
  auto* c = bench->add_subcommand("tokenizer", "Tokenizer encode/decode throughput (one thread)");
  c->add_option("--tokenizer", a->tokenizer, "Directory with tokenizer.json")->required();
  c->add_option("--file", a->file,
                "Text file, or .jsonl (string fields of each row); default "
                "DIR/reference_encodings.jsonl");
  c->add_option("--passes", a->passes, "Encode passes (the first has a cold word cache)")
      ->check(aha::cli::in_range(1, 1e6));
  c->callback([a] { run_bench(*a); });
}
AHA_COMMAND(add_bench_tokenizer);

}  // namespace

// `aha reward score`: scores JSONL rows (completion + reference fields) with a task or a checker,
// in parallel, writing every row back in input order with reward, components, extracted and reason.
// `aha reward tasks`: lists the tasks. `aha bench reward`: checker and sandbox throughput.
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "kernels/json_depth.h"
#include "kernels/user_input.h"
#include "reward/math.h"
#include "reward/reward.h"
#include "reward/sandbox.h"
#include "tasks/task.h"

extern char** environ;

namespace {

struct ScoreArgs {
  std::string task, tasks_file, checker, input = "-", output = "-";
  std::vector<std::string> options;
  int threads = 0;
};

void score_command(const ScoreArgs& a) {
  if (a.task.empty() == a.checker.empty())
    throw std::invalid_argument("give exactly one of --task or --checker");
  // Configuration first: an error here stops before any row is read.
  std::vector<aha::RewardComponent> spec;
  aha::TaskSpec ts;  // with --task: its field mapping reads rows of the task's own data
  if (!a.task.empty()) {
    ts = aha::find_task_spec(a.task, a.tasks_file);
    spec = ts.reward;
    if (!a.options.empty())
      throw std::invalid_argument(
          "--option goes with --checker (task options live in the TOML file)");
  } else {
    aha::check_option_names(a.checker, {}, "--checker");  // the checker exists
    aha::RewardComponent c;
    c.name = a.checker;
    c.checker = a.checker;
    for (const auto& kv : a.options) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("--option wants key=value, got '" + kv + "'");
      c.options.set_from_text(kv.substr(0, eq), kv.substr(eq + 1));
    }
    aha::check_option_names(a.checker, c.options, "--option");
    spec.push_back(c);
  }

  std::istream* in = &std::cin;
  std::ifstream fin;
  std::string in_name = a.input == "-" ? "<stdin>" : a.input;
  if (a.input != "-") {
    fin = aha::open_input(a.input);
    in = &fin;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(*in, line);) lines.push_back(line);
  if (in->bad()) throw std::runtime_error(in_name + ": read error");

  size_t n = lines.size();
  std::vector<nlohmann::json> rows(n);
  std::vector<std::string> errors(n);
  std::vector<char> skip(n, 0);  // blank or malformed lines: nothing to write back
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      const std::string& line = lines[i];
      std::string where = in_name + ":" + std::to_string(i + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        skip[i] = 1;
        continue;
      }
      if (aha::json_too_deep_at(line) != std::string::npos) {
        errors[i] = where + ": JSON nested deeper than " + std::to_string(aha::kJsonMaxDepth) +
                    " levels (refused)";
        skip[i] = 1;
        continue;
      }
      try {
        rows[i] = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        errors[i] = where + ": malformed JSON: " + aha::json_error_text(e.what());
        skip[i] = 1;
        continue;
      }
      nlohmann::json& row = rows[i];
      if (!row.is_object()) {
        errors[i] = where + ": a row must be a JSON object";
        skip[i] = 1;
        continue;
      }
      try {
        if (!row.contains("completion") || !row["completion"].is_string())
          throw std::invalid_argument("missing field 'completion' (a string)");
        aha::RewardResult r = aha::compose_reward(spec, row["completion"].get<std::string>(),
                                                  aha::task_reference(ts, row));
        row["reward"] = r.score;
        nlohmann::json comps = nlohmann::json::object();
        for (const auto& [k, v] : r.components) comps[k] = v;
        row["components"] = comps;
        row["extracted"] = r.extracted;
        row["reason"] = r.reason;
      } catch (const std::exception& e) {
        errors[i] = where + ": " + e.what();
        row["reward"] = nullptr;
        row["error"] = e.what();
      }
    }
  };
  int threads = a.threads > 0 ? a.threads
                              : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  aha::sandbox_set_concurrency(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  std::ostream* out = &std::cout;
  std::unique_ptr<aha::OutputFile> fout;
  if (a.output != "-") {
    fout = std::make_unique<aha::OutputFile>(a.output, "--output");
    out = &fout->stream();
  }
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (!skip[i])
      *out << rows[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!errors[i].empty()) {
      std::fprintf(stderr, "aha: %s\n", errors[i].c_str());
      bad++;
    }
  }
  out->flush();
  if (!*out)
    throw std::runtime_error((a.output == "-" ? std::string("<stdout>") : a.output) +
                             ": write error");
  if (fout) fout->commit();
  if (bad > 0) {
    std::fprintf(stderr, "aha: %d of %zu rows had errors (listed above)\n", bad, n);
    aha::cli::set_exit_code(1);
  }
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `python3 -c pass` directly (no sandbox) n times from `threads` threads; seconds elapsed.
double bare_python(int n, int threads) {
  std::atomic<int> next{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      while (next.fetch_add(1) < n) {
        const char* argv[] = {"/usr/bin/python3", "-I", "-c", "pass", nullptr};
        pid_t pid;
        if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
          continue;
        int st;
        waitpid(pid, &st, 0);
      }
    });
  for (auto& t : ts) t.join();
  return since(t0);
}

double sandboxed_python(int n, int threads) {
  aha::sandbox_set_concurrency(threads);
  std::atomic<int> next{0}, failed{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      while (next.fetch_add(1) < n) {
        aha::SandboxSession box;
        aha::SandboxResult r = box.run({{"/usr/bin/python3", "-I", "-c", "pass"}, "", {}, {}, ""});
        if (r.exit_code != 0) failed++;
      }
    });
  for (auto& t : ts) t.join();
  if (failed > 0) std::fprintf(stderr, "aha: %d sandboxed runs failed\n", failed.load());
  return since(t0);
}

void bench_command(int n_math, int n_sandbox) {
  aha::MathOptions opt;
  // GSM8K-style: extraction of "#### N" from a worked answer and an integer comparison.
  std::vector<std::pair<std::string, std::string>> gsm;
  for (int i = 0; i < 200; i++) {
    std::string gold = std::to_string(1000 + 37 * i);
    std::string comp = "<think>Each box holds " + std::to_string(i) + " apples, so 3 * " +
                       std::to_string(i) + " = " + std::to_string(3 * i) +
                       ".</think> The answer is " +
                       (i % 3 ? gold : std::to_string(1000 + 37 * i + 1)) + ".";
    gsm.emplace_back(gold, comp);
  }
  auto t0 = std::chrono::steady_clock::now();
  int correct = 0;
  for (int k = 0; k < n_math; k++) {
    const auto& [gold, comp] = gsm[k % gsm.size()];
    std::string m;
    correct += aha::math_equal(gold, aha::math_extract(comp, opt, &m), opt).equal;
  }
  double gsm_s = since(t0);
  // Symbolic answers: forms that need GiNaC.
  const std::pair<const char*, const char*> sym[] = {
      {"\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"},
      {"(x+1)^2", "x^2+2x+1"},
      {"2\\sqrt{2}", "\\sqrt{8}"},
      {"\\frac{x^2-1}{x-1}", "x+1"},
      {"\\sin^2 x + \\cos^2 x", "1"},
      {"\\frac{\\pi}{3}", "\\frac{2\\pi}{6}"},
      {"3x+2y", "2y+3x+1"},
      {"\\log_2 8", "3"}};
  int n_sym = std::max(1, n_math / 20);
  t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < n_sym; k++) {
    const auto& [g, p] = sym[k % 8];
    aha::math_equal(g, p, opt);
  }
  double sym_s = since(t0);
  std::printf(
      "math checks, GSM8K-style (extract + compare): %d in %.3f s = %.0f checks/s (%d correct)\n",
      n_math, gsm_s, n_math / gsm_s, correct);
  std::printf("math checks, symbolic (GiNaC):                %d in %.3f s = %.0f checks/s\n", n_sym,
              sym_s, n_sym / sym_s);
  std::printf("sandbox isolation: %s\n", aha::isolation_name(aha::sandbox_isolation()));
  // Warm-up (page cache, probe), then the runs side by side.
  bare_python(2, 1);
  sandboxed_python(2, 1);
  double bare1 = bare_python(n_sandbox, 1), box1 = sandboxed_python(n_sandbox, 1);
  double bare2 = bare_python(n_sandbox, 2), box2 = sandboxed_python(n_sandbox, 2);
  std::printf("python3 -c pass, bare,      concurrency 1: %.1f runs/s (%.1f ms/run)\n",
              n_sandbox / bare1, 1000 * bare1 / n_sandbox);
  std::printf("python3 -c pass, sandboxed, concurrency 1: %.1f runs/s (%.1f ms/run)\n",
              n_sandbox / box1, 1000 * box1 / n_sandbox);
  std::printf("python3 -c pass, bare,      concurrency 2: %.1f runs/s\n", n_sandbox / bare2);
  std::printf("python3 -c pass, sandboxed, concurrency 2: %.1f runs/s\n", n_sandbox / box2);
  std::printf(
      "sandbox overhead per run: %.1f ms (concurrency 1), ratio sandboxed/bare %.2fx (c1) %.2fx "
      "(c2)\n",
      1000 * (box1 - bare1) / n_sandbox, box1 / bare1, box2 / bare2);
}

void add_reward(CLI::App& app) {
  CLI::App* reward = aha::cli::subcommand(app, "reward", "Reward checkers and tasks");
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* score =
      reward->add_subcommand("score", "Score JSONL rows (completion + reference fields)");
  score->add_option("--task", args->task, "task name (built-in or from --tasks-file)");
  score->add_option("--tasks-file", args->tasks_file, "TOML file with [tasks.NAME] tables");
  score->add_option("--checker", args->checker,
                    "a single checker: math, format, countdown, code, ...");
  score->add_option("--option", args->options, "checker option key=value (repeatable)");
  score->add_option("--input", args->input, "input JSONL file, - for stdin")->capture_default_str();
  score->add_option("--output", args->output, "output JSONL file, - for stdout")
      ->capture_default_str();
  score
      ->add_option("--threads", args->threads, "scoring threads (and sandbox slots); 0 = all cores")
      ->check(aha::cli::in_range(0, 4096));
  score->callback([args] { score_command(*args); });

  auto tasks_file = std::make_shared<std::string>();
  CLI::App* tasks =
      reward->add_subcommand("tasks", "List the tasks (built-in, and from --tasks-file)");
  tasks->add_option("--tasks-file", *tasks_file, "TOML file with [tasks.NAME] tables");
  tasks->callback([tasks_file] {
    // The file first: a bad one fails before anything is listed.
    std::vector<aha::TaskSpec> from_file;
    if (!tasks_file->empty()) {
      std::ifstream f = aha::open_input(*tasks_file);
      std::stringstream ss;
      ss << f.rdbuf();
      from_file = aha::parse_task_toml(ss.str(), *tasks_file, ".");
    }
    int width = 10;  // the names' column, as wide as the longest (mod10_chain is 11)
    for (const auto& n : aha::builtin_task_names())
      width = std::max(width, static_cast<int>(n.size()));
    for (const auto& s : from_file) width = std::max(width, static_cast<int>(s.name.size()));
    for (const auto& n : aha::builtin_task_names()) {
      aha::TaskSpec s = aha::find_task_spec(n);
      std::printf("%-*s %s\n", width, n.c_str(), s.description.c_str());
    }
    for (const auto& s : from_file)
      std::printf("%-*s %s (%s)\n", width, s.name.c_str(), s.description.c_str(),
                  tasks_file->c_str());
  });

  CLI::App* bench = aha::cli::subcommand(app, "bench", "Benchmarks");
  auto n_math = std::make_shared<int>(20000);
  auto n_box = std::make_shared<int>(40);
  CLI::App* br = bench->add_subcommand("reward", "Math checks/s and sandboxed programs/s");
  br->add_option("--math-checks", *n_math, "number of GSM8K-style checks (symbolic: 1/20 of it)")
      ->capture_default_str()
      ->check(aha::cli::in_range(20, 1e9));
  br->add_option("--programs", *n_box, "number of python3 runs per measurement")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1e6));
  br->callback([n_math, n_box] { bench_command(*n_math, *n_box); });
}

AHA_COMMAND(add_reward);

}  // namespace

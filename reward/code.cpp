// Code checker: runs a completion against tests in the sandbox.
// Python: HumanEval rows (prompt + completion + "\n" + test + "\n" + check(entry_point)), MBPP rows
// (code + test_setup_code + each assert of test_list: the setups use the solution's classes) and
// generic rows ("tests": [asserts]). C++: compiled with g++ inside the sandbox, then run against
// stdin/stdout tests or a test main. Results come back on fd 3 tagged with a per-run random nonce,
// so a program that exits early or prints look-alike lines to stdout cannot claim passes. Score =
// fraction of tests passed; component all_pass = 1 only when every test passed (a timeout never
// gets credit for what it missed).
#include <unistd.h>

#include <csignal>
#include <random>
#include <sstream>
#include <stdexcept>

#include "reward/reward.h"
#include "reward/sandbox.h"

namespace aha {

namespace {

std::string nonce() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

// Python string literal for arbitrary text (no escapes can break out).
std::string py_literal(const std::string& s) {
  std::string out = "\"";
  char buf[8];
  for (unsigned char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

// The code inside the first fenced block (```python ... ```), else the completion as it is.
std::string extract_code(const std::string& c, bool enabled) {
  if (!enabled) return c;
  size_t open = c.find("```");
  if (open == std::string::npos) return c;
  size_t line_end = c.find('\n', open);
  if (line_end == std::string::npos) return c;
  size_t close = c.find("```", line_end);
  if (close == std::string::npos) return c.substr(line_end + 1);
  return c.substr(line_end + 1, close - line_end - 1);
}

std::string last_line(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > 160) last = last.substr(0, 160) + "...";
  return last;
}

std::string field_string(const nlohmann::json& ref, const std::string& name, bool required) {
  if (!ref.contains(name) || ref.at(name).is_null()) {
    if (required) throw std::invalid_argument("code: reference has no field '" + name + "'");
    return "";
  }
  if (!ref.at(name).is_string())
    throw std::invalid_argument("code: reference field '" + name + "' must be a string");
  return ref.at(name).get<std::string>();
}

// Why a run did not finish cleanly, in words.
std::string failure_note(const SandboxResult& r, const SandboxLimits& lim) {
  if (!r.error.empty()) return r.error;
  char buf[96];
  if (r.timed_out) {
    std::snprintf(buf, sizeof buf, "timeout (%.1f s)", lim.wall_s);
    return buf;
  }
  if (r.output_limit) return "output limit exceeded";
  if (r.term_signal == SIGXCPU || r.term_signal == SIGKILL) {
    if (r.term_signal == SIGXCPU) return "cpu time limit";
    return "killed (signal 9)";
  }
  if (r.term_signal) return "killed by signal " + std::to_string(r.term_signal);
  std::string l = last_line(r.output);
  if (!l.empty()) return l;
  return "exit code " + std::to_string(r.exit_code);
}

// The system interpreter (not a user's virtualenv shim): it must exist under /usr, which is all the
// sandbox shows.
std::string python_path(const CheckerOptions& o) {
  std::string p = o.get_string("python", "/usr/bin/python3");
  if (access(p.c_str(), X_OK) != 0)
    throw std::runtime_error("code: Python interpreter " + p + " not found");
  return p;
}

SandboxLimits limits_from(const CheckerOptions& o) {
  SandboxLimits l;
  l.wall_s = o.get_double("timeout_s", 5.0);
  l.cpu_s = static_cast<int>(o.get_int("cpu_s", static_cast<int64_t>(l.wall_s + 0.999)));
  l.memory_bytes = static_cast<uint64_t>(o.get_int("memory_mb", 1024)) << 20;
  l.file_bytes = static_cast<uint64_t>(o.get_int("file_mb", 16)) << 20;
  l.nproc = static_cast<int>(o.get_int("nproc", 64));
  l.nofile = static_cast<int>(o.get_int("nofile", 64));
  l.output_bytes = static_cast<size_t>(o.get_int("output_kb", 64)) << 10;
  return l;
}

RewardResult finish(int passed, int total, const std::string& note, const std::string& extracted) {
  RewardResult r;
  r.score = total > 0 ? static_cast<double>(passed) / total : 0.0;
  double all = (total > 0 && passed == total) ? 1.0 : 0.0;
  r.components = {{"pass_rate", r.score}, {"all_pass", all}};
  r.extracted = extracted.size() > 2000 ? extracted.substr(0, 2000) : extracted;
  r.reason = std::to_string(passed) + "/" + std::to_string(total) + " tests passed";
  if (!note.empty() && passed < total) r.reason += ": " + note;
  return r;
}

// Counts "<nonce> <i> pass" lines of the result channel.
int count_passes(const std::string& channel, const std::string& tag, int total, bool* done) {
  std::istringstream in(channel);
  std::string line;
  std::vector<bool> seen(static_cast<size_t>(total), false);
  int passed = 0;
  *done = false;
  while (std::getline(in, line)) {
    if (line.rfind(tag + " ", 0) != 0) continue;
    std::string rest = line.substr(tag.size() + 1);
    if (rest == "done") {
      *done = true;
      continue;
    }
    int i = -1;
    char word[8] = {0};
    if (std::sscanf(rest.c_str(), "%d %7s", &i, word) == 2 && i >= 0 && i < total &&
        std::string(word) == "pass" && !seen[static_cast<size_t>(i)]) {
      seen[static_cast<size_t>(i)] = true;
      passed++;
    }
  }
  return passed;
}

RewardResult check_python_asserts(const std::string& code, const std::string& setup,
                                  const std::vector<std::string>& tests,
                                  const CheckerOptions& opt) {
  SandboxLimits lim = limits_from(opt);
  std::string tag = nonce();
  // The setup goes after the code: MBPP's setups build objects of the solution's classes (367,
  // 927).
  std::string prog = code + "\n" + setup + "\n\n";
  prog += "import os as _aha_os\n_aha_ch = _aha_os.fdopen(3, 'w')\n_aha_tests = [";
  for (const auto& t : tests) prog += py_literal(t) + ", ";
  prog += "]\nfor _aha_i, _aha_t in enumerate(_aha_tests):\n";
  prog += "    try:\n        exec(_aha_t, globals())\n";
  prog += "        _aha_ch.write('" + tag + " %d pass\\n' % _aha_i)\n";
  prog += "    except BaseException as _aha_e:\n";
  prog += "        _aha_ch.write('" + tag + " %d fail %s\\n' % (_aha_i, type(_aha_e).__name__))\n";
  prog +=
      "        import sys as _aha_sys; print('test %d failed: %r' % (_aha_i, _aha_e), "
      "file=_aha_sys.stderr)\n";
  prog += "    _aha_ch.flush()\n";
  prog += "_aha_ch.write('" + tag + " done\\n')\n_aha_ch.flush()\n";
  SandboxSession box;
  box.write_file("main.py", prog);
  SandboxResult r = box.run({{python_path(opt), "-I", "main.py"}, "", lim});
  bool done = false;
  int total = static_cast<int>(tests.size());
  int passed = count_passes(r.channel, tag, total, &done);
  std::string note;
  if (!done || r.timed_out || r.output_limit || !r.error.empty())
    note = failure_note(r, lim);
  else if (passed < total)
    note = last_line(r.output);
  return finish(passed, total, note, code);
}

RewardResult check_humaneval(const std::string& code, const nlohmann::json& ref,
                             const CheckerOptions& opt) {
  SandboxLimits lim = limits_from(opt);
  std::string tag = nonce();
  std::string prog = field_string(ref, "prompt", true) + code + "\n" +
                     field_string(ref, "test", true) + "\n" + "check(" +
                     field_string(ref, "entry_point", true) + ")\n";
  prog += "import os as _aha_os\n_aha_ch = _aha_os.fdopen(3, 'w')\n";
  prog += "_aha_ch.write('" + tag + " 0 pass\\n" + tag + " done\\n')\n_aha_ch.flush()\n";
  SandboxSession box;
  box.write_file("main.py", prog);
  SandboxResult r = box.run({{python_path(opt), "-I", "main.py"}, "", lim});
  bool done = false;
  int passed = count_passes(r.channel, tag, 1, &done);
  std::string note = passed == 1 ? "" : failure_note(r, lim);
  return finish(passed, 1, note, code);
}

std::string squash_ws(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

RewardResult check_cpp(const std::string& code, const nlohmann::json& ref,
                       const CheckerOptions& opt) {
  SandboxLimits lim = limits_from(opt);
  SandboxLimits cl = lim;  // the compiler needs more room than the program
  cl.wall_s = opt.get_double("compile_timeout_s", 30.0);
  cl.cpu_s = static_cast<int>(cl.wall_s + 1);
  cl.memory_bytes = static_cast<uint64_t>(opt.get_int("compile_memory_mb", 2048)) << 20;
  cl.file_bytes = 256ull << 20;
  cl.tmp_bytes = 256ull << 20;
  std::string test_main = field_string(ref, "test", false);
  SandboxSession box;
  box.write_file("main.cpp", code + "\n" + test_main + "\n");
  SandboxResult c =
      box.run({{"/usr/bin/g++", "-std=c++17", "-O1", "-pipe", "-o", "prog", "main.cpp"}, "", cl});
  if (c.exit_code != 0 || c.timed_out) {
    std::string first;
    std::istringstream in(c.output);
    for (std::string line; std::getline(in, line);)
      if (line.find("error") != std::string::npos) {
        first = line.substr(0, 160);
        break;
      }
    int total = ref.contains("tests") && ref.at("tests").is_array()
                    ? static_cast<int>(ref.at("tests").size())
                    : 1;
    return finish(0, total == 0 ? 1 : total,
                  "compile error: " + (first.empty() ? failure_note(c, cl) : first), code);
  }
  if (!test_main.empty()) {
    SandboxResult r = box.run({{"./prog"}, "", lim});
    int passed = r.exit_code == 0 && r.term_signal == 0 && !r.timed_out && !r.output_limit ? 1 : 0;
    return finish(passed, 1, passed ? "" : failure_note(r, lim), code);
  }
  if (!ref.contains("tests") || !ref.at("tests").is_array())
    throw std::invalid_argument(
        "code: a C++ reference needs 'test' (a main) or 'tests' ([{input, output}])");
  const auto& tests = ref.at("tests");
  int passed = 0;
  std::string note;
  for (size_t i = 0; i < tests.size(); i++) {
    const auto& t = tests[i];
    if (!t.is_object() || !t.contains("output"))
      throw std::invalid_argument("code: tests[" + std::to_string(i) + "] needs 'output'");
    std::string input = t.contains("input") ? t.at("input").get<std::string>() : "";
    SandboxResult r = box.run({{"./prog"}, input, lim});
    bool ok = r.exit_code == 0 && !r.timed_out && !r.output_limit &&
              squash_ws(r.output) == squash_ws(t.at("output").get<std::string>());
    if (ok) {
      passed++;
    } else if (note.empty()) {
      note =
          "test " + std::to_string(i + 1) + ": " +
          (r.exit_code == 0 && !r.timed_out ? std::string("wrong output") : failure_note(r, lim));
    }
  }
  return finish(passed, static_cast<int>(tests.size()), note, code);
}

std::vector<std::string> string_list(const nlohmann::json& ref, const std::string& name) {
  if (!ref.contains(name) || !ref.at(name).is_array())
    throw std::invalid_argument("code: reference field '" + name + "' must be a list of strings");
  std::vector<std::string> v;
  for (const auto& x : ref.at(name)) {
    if (!x.is_string())
      throw std::invalid_argument("code: reference field '" + name + "' must hold strings");
    v.push_back(x.get<std::string>());
  }
  return v;
}

}  // namespace

RewardResult check_code(const std::string& completion, const nlohmann::json& reference,
                        const CheckerOptions& options) {
  if (!reference.is_object()) throw std::invalid_argument("code: reference must be an object");
  std::string lang =
      options.get_string("language", reference.value("language", std::string("python")));
  std::string code = extract_code(completion, options.get_bool("extract_code", true));
  if (lang == "cpp" || lang == "c++") return check_cpp(code, reference, options);
  if (lang != "python")
    throw std::invalid_argument("code: unknown language '" + lang + "' (python, cpp)");
  std::string mode = options.get_string("mode", "auto");
  if (mode == "auto") {
    if (reference.contains("entry_point"))
      mode = "humaneval";
    else if (reference.contains("test_list"))
      mode = "mbpp";
    else if (reference.contains("tests"))
      mode = "tests";
    else
      throw std::invalid_argument("code: reference has none of entry_point, test_list, tests");
  }
  if (mode == "humaneval") return check_humaneval(code, reference, options);
  if (mode == "mbpp")
    return check_python_asserts(code, field_string(reference, "test_setup_code", false),
                                string_list(reference, "test_list"), options);
  if (mode == "tests")
    return check_python_asserts(code, field_string(reference, "setup", false),
                                string_list(reference, "tests"), options);
  throw std::invalid_argument("code: unknown mode '" + mode + "' (auto, humaneval, mbpp, tests)");
}

}  // namespace aha

// Entry point of the `aha` binary: builds the CLI11 app from the registry and runs it.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/command.h"
#include "kernels/gemm.h"
#include "kernels/user_input.h"
#include "policy/config_presets.h"

namespace aha::cli {

namespace {
std::vector<RegisterFn>& registry() {
  static std::vector<RegisterFn> fns;
  return fns;
}
int g_exit_code = 0;
}  // namespace

int register_command(RegisterFn fn) {
  registry().push_back(fn);
  return 0;
}

void register_all(CLI::App& app) {
  for (RegisterFn fn : registry()) fn(app);
}

CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

namespace {
// --batch-invariant of the one subcommand a process runs (read by apply_gemm_precision).
bool g_batch_invariant_flag = false;
}  // namespace

void add_gemm_precision_option(CLI::App* c, std::shared_ptr<std::string> value) {
  c->add_option("--gemm-precision", *value,
                "GEMM precision: fp32, or bf16 (operands rounded to bf16, fp32 accumulation; "
                "needs AMX-BF16 or AVX512-BF16)")
      ->capture_default_str();
  c->add_flag("--batch-invariant", g_batch_invariant_flag,
              "Batch-invariant fp32 kernels (CPU): a sequence's log-probs do not depend on the "
              "rest of its batch, and the rollout's equal the learner's to the bit; slower");
}

CLI::Validator in_range(double lo, double hi) {
  std::ostringstream desc;
  desc.precision(15);  // 1048576, not 1.04858e+06
  desc << "in [" << lo << ", " << hi << "]";
  const std::string range = desc.str();
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
        if (!std::isfinite(v) || v < lo || v > hi) return text + " is not " + range;
        return "";
      },
      range);
}

CLI::Validator endpoint_url() {
  return CLI::Validator(
      [](std::string& url) -> std::string {
        const std::string want =
            "'" + url + "' is not an endpoint (inproc://NAME, ipc://PATH or tcp://HOST:PORT)";
        for (const char* scheme : {"inproc://", "ipc://"})
          if (url.rfind(scheme, 0) == 0) return url.size() > std::strlen(scheme) ? "" : want;
        if (url.rfind("tcp://", 0) != 0) return want;
        const size_t colon = url.rfind(':');
        if (colon <= 6) return want;  // no HOST:PORT after "tcp://"
        const std::string port = url.substr(colon + 1);
        if (port == "*") return "";
        if (port.empty() || port.size() > 5 ||
            port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
            std::stoi(port) > 65535)
          return want;
        return "";
      },
      "URL");
}

ModelConfig resolve_model_config(const std::string& what) {
  if (std::filesystem::exists(what)) return config_load(what);
  if (what == "tiny") return config_tiny();
  if (what == "100m") return config_100m();
  if (what == "100m-qwen") return config_100m_qwen();
  if (what == "1b") return config_1b();
  throw std::runtime_error("--config '" + what +
                           "': no such file and not a built-in name (tiny, 100m, 100m-qwen, 1b)");
}

void add_rollout_device_option(CLI::App* c, std::shared_ptr<std::string> value) {
  c->add_option("--device", *value,
                "Where the engine samples: cpu, cuda (bf16 paged cache, CUDA sampler; "
                "AHA_CUDA_FP32=1: all fp32, a test mode) or auto "
                "(cuda when a device answers and runs every op)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

void apply_gemm_precision(const std::string& value, bool print) {
  // The mode first: bf16 with it is then refused for the mode, on any CPU.
  gemm_set_batch_invariant(g_batch_invariant_flag);
  gemm_set_precision(gemm_precision_parse(value));
  if (print) std::printf("gemm backend: %s\n", gemm_backend().c_str());
}

void set_exit_code(int code) {
  g_exit_code = code;
}
int exit_code() {
  return g_exit_code;
}

}  // namespace aha::cli

namespace {

// The last line of defence for an error no caller rephrased: library texts ("filesystem error:
// cannot create directories: Not a directory [d]", "[json.exception...]", "stoi",
// "std::bad_alloc") say what failed in the words of the library, not of the user.
std::string user_error_text(const std::exception& e) {
  if (auto* fe = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
    // "filesystem error: cannot copy file: File exists [a] [b]" -> "a: cannot copy file to b: File
    // exists".
    std::string op = fe->what();
    const std::string prefix = "filesystem error: ";
    if (op.rfind(prefix, 0) == 0) op = op.substr(prefix.size());
    op = op.substr(0, op.find(": "));
    std::string where = fe->path1().string();
    if (!fe->path2().empty()) op += " to " + fe->path2().string();
    return (where.empty() ? "" : where + ": ") + op + ": " + fe->code().message();
  }
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return "out of memory (a size in the config or the flags is larger than this machine holds)";
  const std::string what = e.what();
  // std::stoi's "stoi", a vector's "vector::_M_default_append": names of functions, not reasons.
  if (dynamic_cast<const std::logic_error*>(&e) && what.find(' ') == std::string::npos)
    return "a number or index out of range or malformed (no more detail)";
  return aha::json_error_text(what);
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe or file, so progress shows up as it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"aha: GRPO reinforcement learning for DeepSeek-V3-style MoE policies"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "aha 0.1.0");
  aha::cli::register_all(app);
  try {
    // Before any thread starts: opening the BLAS library may set OPENBLAS_CORETYPE.
    aha::gemm_init();
    // The benches that take --gemm-precision print the line once it is set.
    const std::string sub = argc > 2 ? argv[2] : "";
    if (argc > 2 && std::string(argv[1]) == "bench" && sub != "sgemm" && sub != "model" &&
        sub != "learner" && sub != "rollout")
      std::printf("gemm backend: %s\n", aha::gemm_backend().c_str());
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aha: error: %s\n", user_error_text(e).c_str());
    return 1;
  }
  return aha::cli::exit_code();
}

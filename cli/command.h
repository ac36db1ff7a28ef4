// Subcommand registry of the `aha` binary. Each cli/cmd_*.cpp file adds its subcommands to the
// CLI11 app from a registration function named in one AHA_COMMAND line; main() calls them all in
// registration order. A registration function only declares options and a callback; work happens in
// the callback, which returns through CLI11 (errors are thrown as std::exception and reported by
// main).
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "policy/config.h"

namespace aha::cli {

using RegisterFn = void (*)(CLI::App& app);

// Adds fn to the registry; returns a dummy so it can initialise a static.
int register_command(RegisterFn fn);

// Calls every registered function on app.
void register_all(CLI::App& app);

// The subcommand `name` of parent, created on first use (so `aha bench model` and `aha bench
// reward` can be registered from different files).
CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& description);

// --gemm-precision fp32|bf16 on a command that runs the model (kernels/gemm.h); the callback
// calls apply_gemm_precision first, which sets it process-wide and, with `print`, prints the
// "gemm backend:" line (main prints it for the other bench commands).
void add_gemm_precision_option(CLI::App* c, std::shared_ptr<std::string> value);
void apply_gemm_precision(const std::string& value, bool print);

// --device on a command that samples with the engine (generate, eval, rollout-worker, bench
// rollout): cpu, cuda or auto (kernels/ops.h: device_choose). The default is cpu: the CUDA engine
// compiles in every build but has not yet been run on a GPU (experiments/gpu/check.sh runs its
// tests), so it is opt-in until it has.
void add_rollout_device_option(CLI::App* c, std::shared_ptr<std::string> value);

// A numeric flag's range, checked as the flag is parsed, so `-n 0` or `--temperature nan` is
// refused naming the flag before any work (CLI::Range lets NaN through: comparisons with it fail).
CLI::Validator in_range(double lo, double hi);

// A ZeroMQ endpoint flag: inproc://NAME, ipc://PATH or tcp://HOST:PORT (PORT 1-65535, or * where
// the trainer binds), checked as parsed, so a typo fails before a run directory is written.
CLI::Validator endpoint_url();

// A model config by built-in name (tiny, 100m, 100m-qwen, 1b) or from a config.json path.
ModelConfig resolve_model_config(const std::string& what);

// Exit code a subcommand callback wants main() to return (0 unless set).
void set_exit_code(int code);
int exit_code();

}  // namespace aha::cli

#define AHA_CAT2(a, b) a##b
#define AHA_CAT(a, b) AHA_CAT2(a, b)
#define AHA_COMMAND(fn) \
  static const int AHA_CAT(aha_command_registered_, __LINE__) = ::aha::cli::register_command(fn)

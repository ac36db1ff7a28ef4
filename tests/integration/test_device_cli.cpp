// --device on the commands that sample with the engine, as a user runs them: `cpu` and `auto`
// work on any machine, `cuda` without a device stops with a message that names the flag, an
// unknown device is refused, and rollout.device is checked like every config key. On a machine
// with a GPU, `cuda` must run instead (tests/gpu/test_cuda_engine.cpp checks what it computes).
#include <doctest/doctest.h>

#include <string>

#include "kernels/device.h"
#include "tests/test_util.h"

using aha::test::run_command;
using aha::test::TempDir;

namespace {

const std::string kAha = AHA_BINARY;
const std::string kModel = std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";

// `aha generate` (2 samples) and `aha eval` (4 prompts) of the base-arith model with the given
// extra flags each: both succeed and print their results.
void generate_and_eval(const std::string& generate_flags, const std::string& eval_flags) {
  int rc = 0;
  std::string out = run_command(kAha + " generate --model " + kModel +
                                    " --prompt '12+34=' -n 2 --max-new-tokens 4" + generate_flags,
                                &rc);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("--- sample 1") != std::string::npos);
  out = run_command(kAha + " eval --model " + kModel +
                        " --task tiny_add --limit 4 -k 1 --max-new-tokens 4" + eval_flags,
                    &rc);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("pass@1") != std::string::npos);
}

// `aha generate --device cuda` with the extra flags: it runs on a GPU machine; elsewhere it stops
// with a message naming the flag.
void generate_on_cuda(const std::string& flags) {
  int rc = 0;
  const std::string out =
      run_command(kAha + " generate --model " + kModel +
                      " --prompt '1+1=' -n 1 --max-new-tokens 2 --device cuda" + flags,
                  &rc);
  if (aha::cuda_available()) {
    CHECK_MESSAGE(rc == 0, out);  // a GPU machine: the CUDA engine runs
  } else {
    CHECK(rc != 0);
    CHECK_MESSAGE(out.find("--device cuda") != std::string::npos, out);
  }
}

}  // namespace

TEST_CASE("aha generate and aha eval take --device cpu and auto") {
  generate_and_eval(" --device cpu", " --device auto");
}

TEST_CASE("aha bench rollout names its engine and takes a built-in config") {
  int rc = 0;
  const std::string out = run_command(
      kAha + " bench rollout --config tiny --batch 2 --max-new-tokens 4 --device cpu", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("engine: cpu") != std::string::npos);
  CHECK(out.find("config tiny (random weights)") != std::string::npos);
  CHECK(out.find("decode tok/s") != std::string::npos);
  CHECK(out.find("cache bytes per token (fp32)") != std::string::npos);
}

TEST_CASE("--device cuda without a device stops and says so; unknown devices are refused") {
  int rc = 0;
  generate_on_cuda("");
  std::string out = run_command(kAha + " bench rollout --config tiny --device gpu", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("--device") != std::string::npos, out);
  TempDir dir("aha_device_cli");
  out = run_command(kAha + " train --run-dir " + dir.str() + " --set rollout.device=tpu", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("rollout.device must be cpu, cuda or auto") != std::string::npos, out);
}

TEST_CASE("--batch-invariant: generate and eval run it; bf16 and a CUDA learner are refused") {
  generate_and_eval(" --batch-invariant", " --batch-invariant --device auto");
  // On CUDA the engine runs the mode on the fp32 mode's kernels.
  generate_on_cuda(" --batch-invariant");
  // The learner's forward+backward has no CUDA kernels in the mode.
  int rc = 0;
  std::string out =
      run_command(kAha + " bench model --config tiny --batch-invariant --device cuda", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("--device cuda") != std::string::npos, out);
  out = run_command(kAha + " bench rollout --config tiny --batch-invariant --gemm-precision bf16",
                    &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("batch-invariant") != std::string::npos, out);
}

TEST_CASE("placing engines on GPUs: rollout.cuda_devices and --cuda-device are for CUDA engines") {
  TempDir dir("aha_device_cli_gpus");
  int rc = 0;
  // Worker threads share the learner's GPU: only worker processes are placed.
  std::string out =
      run_command(kAha + " train --run-dir " + dir.str() +
                      " --set rollout.device='\"cuda\"' --set rollout.cuda_devices=[1]",
                  &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("rollout.cuda_devices places the engines of worker processes: add "
                         "--workers N") != std::string::npos,
                out);
  out = run_command(
      kAha + " train --run-dir " + dir.str() + " --set rollout.cuda_devices=[0] --workers 1", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("it needs rollout.device") != std::string::npos, out);
  out = run_command(kAha + " rollout-worker --connect ipc:///nonexistent --model " + kModel +
                        " --device cpu --cuda-device 0",
                    &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("--cuda-device 0 needs --device cuda") != std::string::npos, out);
}

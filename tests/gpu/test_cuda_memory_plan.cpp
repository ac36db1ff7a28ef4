// A model that does not fit the GPU is refused before anything is allocated, saying how much it
// needs (each part of the plan) and how much the device has free; one that fits passes.
#include <string>

#include "kernels/device.h"
#include "policy/model.h"
#include "tests/gpu/gpu_main.h"

using namespace aha;

TEST_CASE("memory_plan_check: a plan larger than the device is refused with what it needs") {
  MemoryPlan huge;
  huge.weights = size_t{1} << 50;  // 1 PiB of fp32 weights: no GPU has it
  huge.grads = size_t{1} << 50;
  try {
    memory_plan_check(huge, Device::kCuda, "config huge");
    FAIL("a 2 PiB plan was accepted");
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("config huge needs 2097152") != std::string::npos);  // GiB
    CHECK(msg.find("GiB on the GPU (weights 1048576") != std::string::npos);
    CHECK(msg.find("the device has ") != std::string::npos);
  }
  MemoryPlan small;
  small.weights = 1 << 20;
  CHECK_NOTHROW(memory_plan_check(small, Device::kCuda, "config small"));
  CHECK_NOTHROW(
      memory_plan_check(huge, Device::kCpu, "config huge"));  // host plans are not checked
}

// Shared by the engine tests (tests/unit, tests/gpu): submit requests to an initialised engine,
// run it until idle, and return the results in request-id order.
#pragma once
#include <algorithm>
#include <vector>

#include "rollout/engine.h"

namespace aha::test {

inline std::vector<EngineResult> engine_run_all(Engine& e, const std::vector<EngineRequest>& reqs) {
  for (const EngineRequest& r : reqs) engine_submit(e, r);
  std::vector<EngineResult> done;
  engine_run(e, done);
  std::sort(done.begin(), done.end(), [](const EngineResult& a, const EngineResult& b) {
    return a.request_id < b.request_id;
  });
  return done;
}

}  // namespace aha::test

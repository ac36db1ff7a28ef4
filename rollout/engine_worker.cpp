#include "rollout/engine_worker.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "kernels/check.h"

namespace aha {

namespace {

struct EngineWorkerCtx {
  Model model;
  Engine engine;
  int capacity = 0;
  int held = 0;  // requests submitted and not returned
  std::vector<EngineResult> done;
  std::vector<GenResult> failed;
};

int hook_capacity(void* ctx) {
  auto* w = static_cast<EngineWorkerCtx*>(ctx);
  return w->capacity;
}

void hook_submit(void* ctx, const GenRequest& req) {
  auto* w = static_cast<EngineWorkerCtx*>(ctx);
  EngineRequest r;
  r.request_id = req.request_id;
  r.prompt.assign(req.prompt_ids.begin(), req.prompt_ids.end());
  r.group_size = req.group_size;
  r.params = req.params;
  r.seed = req.seed;
  r.return_routing = req.return_routing;
  try {
    engine_submit(w->engine, std::move(r));
    w->held++;
  } catch (const std::exception& e) {
    spdlog::error("rollout worker: request {} refused: {}", req.request_id, e.what());
    GenResult g;
    g.request_id = req.request_id;
    g.weights_version = w->model.version;
    for (int i = 0; i < std::max(1, req.group_size); i++) {
      Sample s;
      s.finish_reason = std::string("error: ") + e.what();
      g.samples.push_back(std::move(s));
    }
    w->failed.push_back(std::move(g));
  }
}

int hook_poll(void* ctx, std::vector<GenResult>& out) {
  auto* w = static_cast<EngineWorkerCtx*>(ctx);
  int n = 0;
  for (GenResult& g : w->failed) {
    out.push_back(std::move(g));
    n++;
  }
  w->failed.clear();
  if (engine_idle(w->engine)) return n;
  w->done.clear();
  engine_step(w->engine, w->done);
  for (EngineResult& r : w->done) {
    out.push_back(engine_result_to_wire(std::move(r)));
    w->held--;
    n++;
  }
  return n;
}

void hook_load_weights(void* ctx, const uint8_t* bytes, size_t n, uint64_t version) {
  auto* w = static_cast<EngineWorkerCtx*>(ctx);
  AHA_CHECK(n == static_cast<size_t>(w->model.num_params) * sizeof(float),
            "weights of " + std::to_string(n) + " bytes for a model of " +
                std::to_string(w->model.num_params) + " parameters");
  // Host bytes into the engine's model wherever it runs (a CUDA engine copies them up).
  engine_set_weights(w->engine, reinterpret_cast<const float*>(bytes), w->model.num_params,
                     version);
}

void hook_load_weights_from(void* ctx, const float* params, Device device, long num_params,
                            uint64_t version) {
  auto* w = static_cast<EngineWorkerCtx*>(ctx);
  engine_set_weights(w->engine, params, num_params, version, device);
}

}  // namespace

std::vector<uint8_t> weights_to_bytes(const Model& m) {
  std::vector<uint8_t> out;
  weights_to_bytes(m, out);
  return out;
}

void weights_to_bytes(const Model& m, std::vector<uint8_t>& out) {
  out.resize(static_cast<size_t>(m.num_params) * sizeof(float));
  std::memcpy(out.data(), m.params.data(), out.size());
}

void weights_from_bytes(Model& m, const uint8_t* bytes, size_t n) {
  AHA_CHECK(n == static_cast<size_t>(m.num_params) * sizeof(float),
            "weights of " + std::to_string(n) + " bytes for a model of " +
                std::to_string(m.num_params) + " parameters");
  std::memcpy(m.params.data(), bytes, n);
}

GenResult engine_result_to_wire(EngineResult&& r) {
  GenResult g;
  g.request_id = r.request_id;
  g.weights_version = r.weight_version;
  g.samples = std::move(r.samples);
  return g;
}

int run_engine_worker(const EngineWorkerOptions& opt, const Model& model) {
  AHA_CHECK(opt.cuda_device < 0 || opt.device == Device::kCuda,
            "a CUDA device was named for an engine on the CPU");
  if (opt.cuda_device >= 0) cuda_select_device(opt.cuda_device);
  EngineWorkerCtx ctx;
  model_build(ctx.model, model.cfg, opt.device);
  device_copy(ctx.model.ctx, ctx.model.params.data(), opt.device, model.params.data(),
              model.ctx.device, static_cast<size_t>(model.num_params) * sizeof(float));
  ctx.model.version = model.version;
  ctx.capacity = opt.capacity;
  engine_init(ctx.engine, ctx.model, opt.engine);
  const EngineHooks hooks{.ctx = &ctx,
                          .capacity = hook_capacity,
                          .submit = hook_submit,
                          .poll = hook_poll,
                          .load_weights = hook_load_weights,
                          .load_weights_from = hook_load_weights_from,
                          .num_params = ctx.model.num_params};
  WorkerOptions w = opt.worker;
  w.initial_weights_version = model.version;
  return run_rollout_worker(w, hooks);
}

}  // namespace aha

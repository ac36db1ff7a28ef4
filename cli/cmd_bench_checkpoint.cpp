// `aha bench checkpoint`: checkpoint load throughput. Writes a sharded BF16 checkpoint and an F32
// one of the same tensors to a temporary directory, then times hf_open + hf_load_f32 of every
// tensor into preallocated float buffers (warm page cache, and cold after posix_fadvise(DONTNEED)),
// beside a plain memcpy of the same float bytes in the same run. The directory is removed
// afterwards.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "policy/checkpoint.h"
#include "policy/hf_checkpoint.h"

namespace {

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

// Drops dir's files from the page cache (clean pages only; they were fsynced by the writer).
void evict(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct BenchTensor {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset;  // in floats within the flat buffer
  size_t numel;
};

// One full load: open every shard, convert every tensor into dst. Returns seconds.
double load_once(const std::string& dir, const std::vector<BenchTensor>& ts, float* dst) {
  auto t0 = clk::now();
  aha::HfCheckpoint ck = aha::hf_open(dir);
  for (const BenchTensor& t : ts) aha::hf_load_f32(ck, t.name, t.shape, dst + t.offset);
  return seconds_since(t0);
}

struct Stat {
  double best = 1e30, sum = 0;
  int n = 0;
  void add(double s) {
    best = std::min(best, s);
    sum += s;
    n++;
  }
  double mean() const { return sum / std::max(1, n); }
};

void run_bench(size_t mb, size_t shard_mb, int repeats, const std::string& base) {
  const int64_t rows = 2048, cols = 4096;  // 16 MB per tensor in BF16
  const size_t per = size_t(rows * cols);
  const size_t num_tensors = std::max<size_t>(1, (mb << 20) / (per * 2));
  const size_t N = num_tensors * per;
  std::vector<BenchTensor> ts;
  for (size_t i = 0; i < num_tensors; i++)
    ts.push_back({"model.layers." + std::to_string(i) + ".mlp.down_proj.weight",
                  {rows, cols},
                  i * per,
                  per});

  std::vector<float> src(N), dst(N);  // both touched up front: page faults are not timed
  uint32_t s = 1;
  for (size_t i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    src[i] = float(int32_t(s)) * 1e-9f;
  }
  std::memset(dst.data(), 0, N * 4);
  std::vector<aha::StWriteTensor> wt;
  for (const BenchTensor& t : ts)
    wt.push_back({t.name, "F32", t.shape, src.data() + t.offset, t.numel * 4});

  // FP8 copy: random E4M3 codes (NaN codes avoided) with a [16, 32] block-scale grid per tensor.
  std::vector<uint8_t> q(N);
  for (size_t i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    q[i] = uint8_t(s >> 24);
    if ((q[i] & 0x7F) == 0x7F) q[i] = 0x38;
  }
  const int64_t SR = rows / 128, SC = cols / 128;
  std::vector<float> scales(size_t(SR * SC), 0.01f);
  std::vector<std::string> scale_names;
  for (const BenchTensor& t : ts) scale_names.push_back(t.name + "_scale_inv");
  std::vector<aha::StWriteTensor> wq;
  for (size_t i = 0; i < ts.size(); i++) {
    wq.push_back({ts[i].name, "F8_E4M3", ts[i].shape, q.data() + ts[i].offset, ts[i].numel});
    wq.push_back({scale_names[i], "F32", {SR, SC}, scales.data(), scales.size() * 4});
  }

  const std::string dir_bf16 = base + "/bf16", dir_f32 = base + "/f32", dir_fp8 = base + "/fp8";
  auto t0 = clk::now();
  aha::hf_save(dir_bf16, wt, shard_mb << 20, "BF16");
  const double save_bf16 = seconds_since(t0);
  t0 = clk::now();
  aha::hf_save(dir_f32, wt, shard_mb << 20, "F32");
  const double save_f32 = seconds_since(t0);
  aha::hf_save(dir_fp8, wq, shard_mb << 20, "F32");
  std::vector<uint8_t>().swap(q);  // the source codes are not needed any more

  Stat memcpy_s, bf16_warm, bf16_cold, f32_warm, f32_cold, fp8_warm, fp8_cold;
  for (int r = 0; r < repeats; r++) {
    t0 = clk::now();
    std::memcpy(dst.data(), src.data(), N * 4);
    memcpy_s.add(seconds_since(t0));
    load_once(dir_bf16, ts, dst.data());  // warm the page cache
    bf16_warm.add(load_once(dir_bf16, ts, dst.data()));
    load_once(dir_fp8, ts, dst.data());
    fp8_warm.add(load_once(dir_fp8, ts, dst.data()));
    load_once(dir_f32, ts, dst.data());
    f32_warm.add(load_once(dir_f32, ts, dst.data()));
    evict(dir_bf16);
    bf16_cold.add(load_once(dir_bf16, ts, dst.data()));
    evict(dir_fp8);
    fp8_cold.add(load_once(dir_fp8, ts, dst.data()));
    evict(dir_f32);
    f32_cold.add(load_once(dir_f32, ts, dst.data()));
  }
  // Sanity: the last load (F32) must equal the source bit for bit.
  if (std::memcmp(dst.data(), src.data(), N * 4) != 0)
    throw std::runtime_error("bench checkpoint: F32 reload differs from the source");

  const size_t bf16_bytes = N * 2, f32_bytes = N * 4;
  size_t num_shards = 0;
  for (const auto& e : fs::directory_iterator(dir_bf16))
    num_shards += e.path().extension() == ".safetensors";
  auto gbs = [](size_t bytes, double sec) { return double(bytes) / sec / 1e9; };
  std::printf("checkpoint: %zu tensors [%lld, %lld], %zu floats, BF16 %.0f MB in %zu shards\n",
              num_tensors, (long long)rows, (long long)cols, N, bf16_bytes / 1e6, num_shards);
  std::printf("save  BF16 (convert+write+fsync): %6.2f GB/s of file   F32: %6.2f GB/s\n",
              gbs(bf16_bytes, save_bf16), gbs(f32_bytes, save_f32));
  std::printf("%-26s %10s %10s %12s %12s\n",
              ("load (best of " + std::to_string(repeats) + ")").c_str(), "file GB/s", "f32 GB/s",
              "mean s", "vs memcpy");
  const double mc = gbs(f32_bytes, memcpy_s.best);
  auto row = [&](const char* what, const Stat& st, size_t file_bytes) {
    const double out = gbs(f32_bytes, st.best);
    std::printf("%-26s %10.2f %10.2f %12.3f %11.2fx\n", what, gbs(file_bytes, st.best), out,
                st.mean(), out / mc);
  };
  std::printf("%-26s %10s %10.2f %12.3f %11.2fx\n", "memcpy f32 -> f32", "-", mc, memcpy_s.mean(),
              1.0);
  row("BF16 warm page cache", bf16_warm, bf16_bytes);
  row("F32  warm page cache", f32_warm, f32_bytes);
  row("FP8+scales warm", fp8_warm, N);
  row("BF16 cold (fadvise)", bf16_cold, bf16_bytes);
  row("F32  cold (fadvise)", f32_cold, f32_bytes);
  row("FP8+scales cold", fp8_cold, N);
}

// A real model directory: model_load (config, tensor table, checks, allocation, conversion) beside
// the bare hf_open + hf_load_f32 of the same tensors into a buffer that is already touched.
void run_model_bench(const std::string& dir, int repeats) {
  aha::Model probe;
  aha::model_load(probe, dir);  // also warms the page cache
  std::vector<BenchTensor> ts;
  for (const aha::TensorSpec& t : probe.specs)
    ts.push_back({t.name, t.shape, size_t(t.offset), size_t(t.numel)});
  size_t file_bytes = 0;
  {
    aha::HfCheckpoint ck = aha::hf_open(dir);
    for (const auto& [name, e] : ck.tensors) file_bytes += e.tensor->nbytes;
  }
  const size_t f32_bytes = size_t(probe.num_params) * 4;
  std::vector<float> dst(size_t(probe.num_params), 0.0f);
  Stat bare, full;
  for (int r = 0; r < repeats; r++) {
    bare.add(load_once(dir, ts, dst.data()));
    auto t0 = clk::now();
    aha::Model m;
    aha::model_load(m, dir);
    full.add(seconds_since(t0));
  }
  auto gbs = [](size_t bytes, double sec) { return double(bytes) / sec / 1e9; };
  std::printf("model %s (%s): %ld parameters, %zu tensors, %.1f MB of files\n", dir.c_str(),
              probe.cfg.model_type.c_str(), probe.num_params, ts.size(), file_bytes / 1e6);
  std::printf("%-34s %10s %10s %10s\n",
              ("warm page cache, best of " + std::to_string(repeats)).c_str(), "seconds",
              "file GB/s", "f32 GB/s");
  std::printf("%-34s %10.3f %10.2f %10.2f\n", "hf_open + hf_load_f32 (bare)", bare.best,
              gbs(file_bytes, bare.best), gbs(f32_bytes, bare.best));
  std::printf("%-34s %10.3f %10.2f %10.2f   (%.2fx the bare load's time)\n",
              "model_load (allocates the model)", full.best, gbs(file_bytes, full.best),
              gbs(f32_bytes, full.best), full.best / bare.best);
}

void add_bench_checkpoint(CLI::App& app) {
  CLI::App* bench = aha::cli::subcommand(app, "bench", "Micro-benchmarks");
  CLI::App* c =
      bench->add_subcommand("checkpoint", "Checkpoint load GB/s (BF16 and F32 vs memcpy)");
  struct Opts {
    size_t mb = 512, shard_mb = 128;
    int repeats = 3;
    std::string tmp = "/tmp";
    std::string model;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("--mb", o->mb, "Size of the BF16 checkpoint in MB (the F32 one is twice that)")
      ->check(aha::cli::in_range(1, 1e6));
  c->add_option("--shard-mb", o->shard_mb, "Shard size cap in MB")
      ->check(aha::cli::in_range(1, 1e6));
  c->add_option("--repeats", o->repeats, "Timed repetitions (best is reported)")
      ->check(aha::cli::in_range(1, 1e6));
  c->add_option("--tmp", o->tmp, "Parent directory for the temporary checkpoints");
  c->add_option("--model", o->model, "Time model_load of this model directory instead");
  c->callback([o] {
    if (!o->model.empty()) {
      run_model_bench(o->model, std::max(1, o->repeats));
      return;
    }
    const std::string base = o->tmp + "/aha_bench_checkpoint_" + std::to_string(getpid());
    fs::remove_all(base);
    try {
      run_bench(o->mb, o->shard_mb, std::max(1, o->repeats), base);
    } catch (...) {
      fs::remove_all(base);
      throw;
    }
    fs::remove_all(base);
  });
}

}  // namespace

AHA_COMMAND(add_bench_checkpoint);

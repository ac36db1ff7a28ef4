#include "learner/data_parallel.h"

#include <cstring>
#include <stdexcept>

namespace aha {

namespace {

enum Command : uint32_t { kUpdate = 1, kStop = 2 };

struct Writer {
  std::vector<uint8_t> b;
  template <class T>
  void put(const T& x) {
    const auto* p = reinterpret_cast<const uint8_t*>(&x);
    b.insert(b.end(), p, p + sizeof x);
  }
  template <class T>
  void put_vec(const std::vector<T>& v) {
    put(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    b.insert(b.end(), p, p + v.size() * sizeof(T));
  }
};

struct Reader {
  const std::vector<uint8_t>& b;
  size_t pos = 0;
  void need(size_t n) {
    if (pos + n > b.size())
      throw std::runtime_error("data-parallel step message: truncated at byte " +
                               std::to_string(pos) + " of " + std::to_string(b.size()));
  }
  template <class T>
  T get() {
    need(sizeof(T));
    T x;
    std::memcpy(&x, b.data() + pos, sizeof x);
    pos += sizeof x;
    return x;
  }
  template <class T>
  std::vector<T> get_vec() {
    uint64_t n = get<uint64_t>();
    if (n > b.size()) need(n);  // a garbled count, before multiplying it
    need(n * sizeof(T));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), b.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
    return v;
  }
};

// A host std::vector<float> or Buffer<float> (model parameters), same size on every rank.
template <class Floats>
void broadcast_floats(Collective& c, Floats& v) {
  uint64_t n = v.size();
  collective_broadcast(c, &n, sizeof n, 0);
  if (n != v.size()) throw std::runtime_error("data-parallel ranks disagree on the model size");
  collective_broadcast(c, v.data(), n * sizeof(float), 0);
}

}  // namespace

std::vector<uint8_t> train_samples_to_bytes(const std::vector<Sample>& s) {
  Writer w;
  w.put(static_cast<uint64_t>(s.size()));
  for (const Sample& x : s) {
    w.put_vec(x.prompt);
    w.put_vec(x.completion);
    w.put_vec(x.rollout_logp);
    w.put_vec(x.routing);
    w.put(x.advantage);
    w.put(static_cast<uint8_t>(x.masked));
  }
  return std::move(w.b);
}

std::vector<Sample> train_samples_from_bytes(const std::vector<uint8_t>& b) {
  Reader r{b};
  uint64_t n = r.get<uint64_t>();
  if (n > b.size()) r.need(n);
  std::vector<Sample> out(n);
  for (Sample& x : out) {
    x.prompt = r.get_vec<int>();
    x.completion = r.get_vec<int>();
    x.rollout_logp = r.get_vec<float>();
    x.routing = r.get_vec<int>();
    x.advantage = r.get<float>();
    x.masked = r.get<uint8_t>() != 0;
  }
  if (r.pos != b.size()) throw std::runtime_error("data-parallel step message: trailing bytes");
  return out;
}

void dp_sync_state(Learner& l, Collective& c) {
  if (c.size <= 1) return;
  // Refused before the first step rather than at its first all-reduce.
  if (l.device == Device::kCuda && c.backend != CollectiveBackend::kNccl)
    throw std::runtime_error(
        "data-parallel CUDA learner ranks need the NCCL collective (AHA_COLLECTIVE=nccl): one "
        "GPU per rank, gradients summed on the device");
  broadcast_floats(c, l.policy.params);
  broadcast_floats(c, l.adam_m);
  broadcast_floats(c, l.adam_v);
  uint64_t counters[3] = {static_cast<uint64_t>(l.step), l.policy.version,
                          static_cast<uint64_t>(l.ref.num_params > 0)};
  collective_broadcast(c, counters, sizeof counters, 0);
  l.step = static_cast<int>(counters[0]);
  l.policy.version = counters[1];
  if (counters[2]) {
    if (l.ref.num_params == 0) learner_refresh_ref(l);  // allocates; overwritten next
    broadcast_floats(c, l.ref.params);
  }
  l.cuda.stale = true;
}

UpdateMetrics dp_update(Learner& l, const std::vector<Sample>& samples, Collective& c,
                        bool refresh_ref) {
  const double comm0 = c.seconds;
  if (c.size > 1) {
    uint32_t head[2] = {kUpdate, refresh_ref ? 1u : 0u};
    collective_broadcast_idle(c, head, sizeof head, 0);
    std::vector<uint8_t> bytes = train_samples_to_bytes(samples);
    collective_broadcast_bytes(c, bytes, 0);
  }
  // A step left with no samples (every group filtered) trains nothing on any rank.
  UpdateMetrics um;
  if (!samples.empty()) um = learner_update(l, samples, &c);
  um.t_comm = c.seconds - comm0;  // the samples' broadcast included
  if (refresh_ref) learner_refresh_ref(l);
  return um;
}

void dp_stop(Collective& c) {
  if (c.size <= 1) return;
  uint32_t head[2] = {kStop, 0};
  collective_broadcast_idle(c, head, sizeof head, 0);
}

int dp_follow(Learner& l, Collective& c) {
  dp_sync_state(l, c);
  for (;;) {
    uint32_t head[2] = {0, 0};
    collective_broadcast_idle(c, head, sizeof head, 0);
    if (head[0] == kStop) return 0;
    if (head[0] != kUpdate)
      throw std::runtime_error("data-parallel rank " + std::to_string(c.rank) +
                               ": unknown command " + std::to_string(head[0]));
    std::vector<uint8_t> bytes;
    collective_broadcast_bytes(c, bytes, 0);
    std::vector<Sample> samples = train_samples_from_bytes(bytes);
    if (!samples.empty()) learner_update(l, samples, &c);
    if (head[1]) learner_refresh_ref(l);
  }
}

}  // namespace aha

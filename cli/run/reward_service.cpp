#include "cli/run/reward_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "rollout/auth.h"
#include "rollout/protocol.h"
#include "tasks/task.h"

namespace aha {

using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Per-completion details travel in components_json as an array of
// {"components": {...}, "extracted": str, "reason": str, "correct": bool}.
nlohmann::json scored_to_json(const Scored& s) {
  nlohmann::json c = nlohmann::json::object();
  for (const auto& [k, v] : s.result.components) c[k] = v;
  return {{"components", c},
          {"extracted", s.result.extracted},
          {"reason", s.result.reason},
          {"correct", s.correct}};
}

bool scored_from_json(const nlohmann::json& j, double reward, Scored& out) {
  if (!j.is_object() || !j.contains("components") || !j["components"].is_object()) return false;
  out.result.score = reward;
  out.result.components.clear();
  for (const auto& [k, v] : j["components"].items())
    if (v.is_number()) out.result.components.push_back({k, v.get<double>()});
  out.result.extracted = j.value("extracted", "");
  out.result.reason = j.value("reason", "");
  out.correct = j.value("correct", false);
  return true;
}

}  // namespace

void reward_range(const TaskSpec& spec, double& lo, double& hi) {
  lo = hi = 0;
  for (const RewardComponent& c : spec.reward) (c.weight < 0 ? lo : hi) += c.weight;
}

struct RewardService {
  RewardServiceOptions opt;
  zmq::socket_t sock;
  struct Worker {
    bool busy = false;
    bool banned = false;
    uint64_t rejected = 0;
    Clock::time_point last_seen;
  };
  std::map<std::string, Worker> workers;  // by identity (banned ones stay, to be ignored)
  std::map<std::string, std::pair<double, double>> ranges;  // task -> declared reward range
  uint64_t next_id = 1;
  Clock::time_point no_worker_since = Clock::now();
  RewardServiceStats stats;
};

void RewardServiceDeleter::operator()(RewardService* s) const {
  delete s;
}

RewardServicePtr reward_service_create(const RewardServiceOptions& opt) {
  if (!opt.context) throw std::runtime_error("reward service: no zmq context");
  RewardServicePtr s(new RewardService());
  s->opt = opt;
  s->sock = zmq::socket_t(*opt.context, zmq::socket_type::router);
  s->sock.set(zmq::sockopt::linger, 0);
  s->sock.set(zmq::sockopt::router_mandatory, 1);
  if (!opt.curve_secret_key.empty()) curve_make_server(s->sock, {"", opt.curve_secret_key});
  try {
    s->sock.bind(opt.endpoint);
    ipc_restrict_permissions(opt.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("reward service: cannot bind " + opt.endpoint + ": " + e.what());
  }
  return s;
}

namespace {

int live_workers(const RewardService& s) {
  int n = 0;
  for (const auto& [id, w] : s.workers) n += !w.banned;
  return n;
}

void check_stop(const RewardService& s) {
  if (s.opt.stop && *s.opt.stop) throw std::runtime_error("interrupted while scoring");
}

// Reads what is waiting (up to timeout_ms for the first message); results go to `on_result`
// (nullptr result: the worker left).
template <typename F>
void service_drain(RewardService& s, int timeout_ms, F on_result) {
  zmq::pollitem_t item{s.sock.handle(), 0, ZMQ_POLLIN, 0};
  try {
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  for (int k = 0; k < 10000; k++) {
    std::string peer, bytes, err;
    int got = recv_frame(s.sock, true, peer, bytes, err);
    if (got == 0) break;
    auto known = s.workers.find(peer);
    if (known != s.workers.end() && known->second.banned) continue;  // disconnected: ignored
    if (got < 0) {
      spdlog::warn("reward service: dropped a malformed frame from {}: {}", printable_peer(peer),
                   err);
      continue;
    }
    Message msg;
    if (!parse_message(bytes.data(), bytes.size(), msg, err)) {
      spdlog::warn("reward service: dropped a message from {}: {}", printable_peer(peer), err);
      continue;
    }
    if (msg.type == MsgType::Bye) {
      if (known != s.workers.end()) s.workers.erase(known);
      on_result(peer, nullptr);
      continue;
    }
    RewardService::Worker& w = s.workers[peer];
    w.last_seen = Clock::now();
    if (msg.type == MsgType::Ready || msg.type == MsgType::Heartbeat) continue;
    if (msg.type == MsgType::ScoreResult) {
      ScoreResult r;
      if (!decode(msg, r, err)) {
        spdlog::warn("reward service: bad score_result from {}: {}", printable_peer(peer), err);
        continue;
      }
      on_result(peer, &r);
      continue;
    }
    spdlog::warn("reward service: unexpected {} from {}", msg_type_name(msg.type),
                 printable_peer(peer));
  }
  if (live_workers(s) > 0) s.no_worker_since = Clock::now();
}

// Why a result is refused ("" = accepted): the count, the rewards against the task's range, the
// details' shape.
std::string check_result(RewardService& s, const ScoreJob& job, const ScoreResult& r,
                         std::vector<Scored>& scored) {
  const size_t G = job.completions.size();
  if (r.rewards.size() != G)
    return std::to_string(r.rewards.size()) + " rewards for " + std::to_string(G) + " completions";
  auto range = s.ranges.find(job.task);
  if (range == s.ranges.end()) {
    double lo = 0, hi = 0;
    reward_range(find_task_spec(job.task, s.opt.tasks_file), lo, hi);
    range = s.ranges.emplace(job.task, std::make_pair(lo, hi)).first;
  }
  const double lo = range->second.first, hi = range->second.second, tol = 1e-9 + 1e-9 * (hi - lo);
  for (double x : r.rewards)
    if (!std::isfinite(x) || x < lo - tol || x > hi + tol)
      return "reward " + std::to_string(x) + " outside task " + job.task + "'s range [" +
             std::to_string(lo) + ", " + std::to_string(hi) + "]";
  nlohmann::json details = nlohmann::json::parse(r.components_json, nullptr, false);
  if (!details.is_array() || details.size() != G)
    return "components_json is not one entry a completion";
  scored.assign(G, {});
  for (size_t g = 0; g < G; g++) {
    if (!scored_from_json(details[g], r.rewards[g], scored[g])) return "malformed components_json";
    for (const auto& [name, v] : scored[g].result.components)
      if (!std::isfinite(v)) return "component " + name + " is not finite";
  }
  return "";
}

}  // namespace

bool reward_service_wait_workers(RewardService& s, int n, int timeout_ms) {
  auto t0 = Clock::now();
  while (live_workers(s) < n) {
    if (ms_since(t0) > timeout_ms || (s.opt.stop && *s.opt.stop)) return false;
    service_drain(s, 50, [](const std::string&, const ScoreResult*) {});
  }
  return true;
}

void reward_service_score(RewardService& s, const std::vector<ScoreJob>& jobs,
                          std::vector<std::vector<Scored>>& out) {
  out.assign(jobs.size(), {});
  std::deque<size_t> queue;
  for (size_t i = 0; i < jobs.size(); i++) queue.push_back(i);
  struct Outstanding {
    size_t job;
    std::string worker;
    Clock::time_point sent;
  };
  std::map<uint64_t, Outstanding> outstanding;  // request id -> job
  size_t done = 0;
  std::vector<bool> answered(jobs.size(), false);
  std::vector<std::set<std::string>> refused_by(jobs.size());  // workers that answered a job badly
  auto reissue = [&](std::map<uint64_t, Outstanding>::iterator it) {
    queue.push_back(it->second.job);
    s.stats.reissued++;
    return outstanding.erase(it);
  };
  auto last_note = Clock::now();
  while (done < jobs.size()) {
    check_stop(s);
    // Hand queued jobs to idle workers; a job goes back to a worker that answered it badly only
    // when no other worker is connected (else a hostile worker could hold it forever).
    for (auto& [id, w] : s.workers) {
      if (queue.empty()) break;
      if (w.busy || w.banned) continue;
      size_t j = queue.front();
      if (refused_by[j].count(id)) {
        bool other = false;
        for (const auto& [id2, w2] : s.workers) other |= !w2.banned && !refused_by[j].count(id2);
        if (other) continue;
      }
      ScoreRequest q;
      q.request_id = s.next_id++;
      q.task = jobs[j].task;
      q.completions = jobs[j].completions;
      q.reference_json = jobs[j].reference.dump();
      if (!send_frame(s.sock, id, encode(q))) continue;  // worker gone: try another
      queue.pop_front();
      w.busy = true;
      outstanding[q.request_id] = {j, id, Clock::now()};
    }
    service_drain(s, 20, [&](const std::string& peer, const ScoreResult* r) {
      if (r == nullptr) {  // the worker left: re-issue its jobs
        for (auto it = outstanding.begin(); it != outstanding.end();)
          it = it->second.worker == peer ? reissue(it) : std::next(it);
        return;
      }
      RewardService::Worker& w = s.workers[peer];
      auto it = outstanding.find(r->request_id);
      std::string why;
      if (it == outstanding.end() || it->second.worker != peer) {
        // A late answer to a job re-issued meanwhile is harmless; anything else is forged.
        if (r->request_id < s.next_id && (it == outstanding.end())) return;
        why = "request " + std::to_string(r->request_id) + " was not sent to this worker";
      } else {
        w.busy = false;
        size_t j = it->second.job;
        std::vector<Scored> scored;
        why = answered[j] ? "" : check_result(s, jobs[j], *r, scored);
        if (why.empty()) {
          outstanding.erase(it);
          if (answered[j]) return;
          out[j] = std::move(scored);
          answered[j] = true;
          done++;
          s.stats.scored++;
          return;
        }
        refused_by[j].insert(peer);
        reissue(it);
      }
      s.stats.rejected++;
      s.stats.rejected_by_worker[peer]++;
      w.rejected++;
      spdlog::warn("reward service: refused a result from {}: {}", printable_peer(peer), why);
      if (static_cast<int64_t>(w.rejected) >= s.opt.max_bad_results && !w.banned) {
        w.banned = true;
        s.stats.banned++;
        spdlog::error("reward service: disconnecting worker {} after {} refused results",
                      printable_peer(peer), w.rejected);
        ShutdownMsg m;
        m.reason = "disconnected: " + why;
        send_frame(s.sock, peer, encode(m));
        for (auto o = outstanding.begin(); o != outstanding.end();)
          o = o->second.worker == peer ? reissue(o) : std::next(o);
      }
    });
    // Workers without a heartbeat for worker_timeout_ms are gone (killed: no bye): forget them.
    for (auto w = s.workers.begin(); w != s.workers.end();) {
      // (A busy one may be scoring a slow job without heartbeats: job_timeout_ms covers it.)
      if (!w->second.banned && !w->second.busy &&
          ms_since(w->second.last_seen) > s.opt.worker_timeout_ms) {
        spdlog::warn("reward service: worker {} silent for {} ms; dropping it",
                     printable_peer(w->first), s.opt.worker_timeout_ms);
        for (auto o = outstanding.begin(); o != outstanding.end();)
          o = o->second.worker == w->first ? reissue(o) : std::next(o);
        w = s.workers.erase(w);
      } else {
        ++w;
      }
    }
    // Silent workers: re-issue their jobs and forget them.
    for (auto it = outstanding.begin(); it != outstanding.end();) {
      if (ms_since(it->second.sent) > s.opt.job_timeout_ms) {
        spdlog::warn("reward service: worker {} timed out on job {}; re-issuing",
                     printable_peer(it->second.worker), it->second.job);
        s.workers.erase(it->second.worker);
        it = reissue(it);
      } else {
        ++it;
      }
    }
    if (live_workers(s) == 0 && done < jobs.size()) {
      const double waited = ms_since(s.no_worker_since);
      if (s.opt.worker_deadline_ms > 0 && waited > s.opt.worker_deadline_ms)
        throw std::runtime_error("no reward worker for " + std::to_string(int(waited / 1000)) +
                                 " s (run.worker_deadline_s): giving up");
      if (ms_since(last_note) > 5000 && waited >= 2000) {
        last_note = Clock::now();
        if (s.opt.on_waiting) s.opt.on_waiting(s.opt.on_waiting_ctx, waited / 1000);
      }
      service_drain(s, 100, [](const std::string&, const ScoreResult*) {});
    }
  }
}

RewardServiceStats reward_service_stats(RewardService& s) {
  return s.stats;
}

void reward_service_shutdown(RewardService& s) {
  ShutdownMsg m;
  m.reason = "training finished";
  for (auto& [id, w] : s.workers)
    if (!w.banned) send_frame(s.sock, id, encode(m));
}

int run_reward_worker(const RewardWorkerOptions& opt) {
  zmq::context_t own;
  zmq::context_t& ctx = opt.context ? *opt.context : own;
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  std::string id = opt.worker_id.empty() ? "reward-" + std::to_string(getpid()) : opt.worker_id;
  sock.set(zmq::sockopt::routing_id, id);
  if (!opt.curve_server_key.empty())
    curve_make_client(sock, {opt.curve_public_key, opt.curve_secret_key}, opt.curve_server_key);
  sock.connect(opt.connect);
  ReadyMsg ready;
  ready.worker_id = id;
  ready.capacity = 1;
  send_frame(sock, "", encode(ready));
  std::map<std::string, TaskSpec> specs;  // by task name, loaded on first use
  auto last_heard = Clock::now(), last_beat = Clock::now();
  while (!(opt.stop && *opt.stop)) {
    if (ms_since(last_beat) > opt.heartbeat_ms) {
      HeartbeatMsg hb;
      hb.worker_id = id;
      send_frame(sock, "", encode(hb));
      last_beat = Clock::now();
    }
    if (ms_since(last_heard) > opt.controller_timeout_ms) {
      spdlog::warn("reward worker {}: service silent for {} ms, exiting", id,
                   opt.controller_timeout_ms);
      return 2;
    }
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    std::string peer, bytes, err;
    int got = recv_frame(sock, false, peer, bytes, err);
    if (got == 0) continue;
    last_heard = Clock::now();
    Message msg;
    if (got < 0 || !parse_message(bytes.data(), bytes.size(), msg, err)) {
      spdlog::warn("reward worker {}: dropped a message: {}", id, err);
      continue;
    }
    if (msg.type == MsgType::Shutdown) return 0;
    if (msg.type == MsgType::Heartbeat) continue;
    ScoreRequest q;
    if (msg.type != MsgType::ScoreRequest || !decode(msg, q, err)) {
      spdlog::warn("reward worker {}: dropped {}: {}", id, msg_type_name(msg.type), err);
      continue;
    }
    ScoreResult res;
    res.request_id = q.request_id;
    nlohmann::json details = nlohmann::json::array();
    try {
      auto it = specs.find(q.task);
      if (it == specs.end())
        it = specs.emplace(q.task, find_task_spec(q.task, opt.tasks_file)).first;
      const TaskSpec& spec = it->second;
      nlohmann::json ref = nlohmann::json::parse(q.reference_json);
      std::vector<Scored> scored(q.completions.size());
      std::atomic<size_t> next{0};
      auto work = [&] {
        for (size_t g = next++; g < scored.size(); g = next++) {
          try {  // an exception must not escape a pool thread (std::terminate)
            scored[g] = scored_from_result(task_score(spec, q.completions[g], ref));
          } catch (const std::exception& e) {
            scored[g] = Scored{};
            scored[g].result.reason = std::string("error: ") + e.what();
          }
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < opt.threads; t++) pool.emplace_back(work);
      work();
      for (std::thread& t : pool) t.join();
      for (const Scored& s : scored) {
        res.rewards.push_back(s.result.score);
        details.push_back(scored_to_json(s));
      }
    } catch (const std::exception& e) {
      // A job that cannot be scored (unknown task, bad reference) scores 0 with the reason.
      spdlog::error("reward worker {}: job {}: {}", id, q.request_id, e.what());
      res.rewards.assign(q.completions.size(), 0.0);
      details = nlohmann::json::array();
      for (size_t g = 0; g < q.completions.size(); g++) {
        Scored s;
        s.result.reason = std::string("error: ") + e.what();
        details.push_back(scored_to_json(s));
      }
    }
    res.components_json = details.dump();
    send_frame(sock, "", encode(res));
  }
  ByeMsg bye;
  bye.worker_id = id;
  bye.reason = "stopped";
  send_frame(sock, "", encode(bye));
  return 0;
}

}  // namespace aha

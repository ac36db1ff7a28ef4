#include "cli/run/reward_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <thread>

#include "kernels/json_depth.h"
#include "rollout/auth.h"
#include "rollout/job_queue.h"
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
  JobQueue q;  // scoring jobs by request id, one at a time per worker (rollout/job_queue.h)
  std::map<std::string, std::pair<double, double>> ranges;  // task -> declared reward range
  uint64_t next_id = 1;  // request ids: unique over the service's life, so late answers are known
  Clock::time_point no_worker_since = Clock::now();
};

void RewardServiceDeleter::operator()(RewardService* s) const {
  delete s;
}

RewardServicePtr reward_service_create(const RewardServiceOptions& opt) {
  if (!opt.context) throw std::runtime_error("reward service: no zmq context");
  RewardServicePtr s(new RewardService());
  s->opt = opt;
  s->sock = router_bind(*opt.context, opt.endpoint, opt.curve_secret_key, 0, "reward service");
  return s;
}

namespace {

void check_stop(const RewardService& s) {
  if (s.opt.stop && *s.opt.stop) throw std::runtime_error("interrupted while scoring");
}

bool send_job(void* ctx, const std::string& identity, const std::string& bytes) {
  return send_frame(static_cast<RewardService*>(ctx)->sock, identity, bytes);
}

// The jobs of one reward_service_score call: request id base + i is jobs[i].
struct Batch {
  const std::vector<ScoreJob>& jobs;
  uint64_t base;
  std::vector<std::vector<Scored>>& out;
  size_t done = 0;
};

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
  if (json_too_deep_at(r.components_json) != std::string::npos)
    return "components_json nested deeper than " + std::to_string(kJsonMaxDepth) + " levels";
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

void handle_result(RewardService& s, const std::string& peer, const ScoreResult& r, Batch* b) {
  std::string why;
  switch (jobq_result(s.q, peer, r.request_id)) {
    case JobResult::kDuplicate:  // a late answer to a job answered meanwhile: harmless
      return;
    case JobResult::kUnknown:
    case JobResult::kUnsolicited:
      why = "request " + std::to_string(r.request_id) + " was not sent to this worker";
      break;
    case JobResult::kCandidate: {
      // Every job of an earlier call was answered or cancelled, so a candidate is in this batch.
      const size_t j = static_cast<size_t>(r.request_id - b->base);
      std::vector<Scored> scored;
      why = check_result(s, b->jobs[j], r, scored);
      if (!why.empty()) break;
      jobq_accept(s.q, peer, r.request_id, jobq_now_ms());
      b->out[j] = std::move(scored);
      b->done++;
      return;
    }
  }
  spdlog::warn("reward service: refused a result from {}: {}", printable_peer(peer), why);
  if (!jobq_refuse(s.q, peer, r.request_id, why, s.opt.max_bad_results)) return;
  jobq_ban(s.q, peer);
  spdlog::error("reward service: disconnecting worker {} after {} refused results",
                printable_peer(peer), s.q.workers[peer].rejected);
  ShutdownMsg m;
  m.reason = "disconnected: " + why;
  send_frame(s.sock, peer, encode(m));
}

// Reads what is waiting (up to timeout_ms for the first message); results go to the batch (none
// outside reward_service_score: they can only be duplicates or forged then).
void service_drain(RewardService& s, int timeout_ms, Batch* b) {
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
    auto known = s.q.workers.find(peer);
    if (known != s.q.workers.end() && known->second.banned) continue;  // disconnected: ignored
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
    if (msg.type == MsgType::Bye) {  // the worker left: its job goes to another
      jobq_lost(s.q, peer);
      continue;
    }
    jobq_seen(s.q, peer, 1, jobq_now_ms());  // any message says it is there; one job at a time
    if (msg.type == MsgType::Ready || msg.type == MsgType::Heartbeat) continue;
    if (msg.type == MsgType::ScoreResult) {
      ScoreResult r;
      if (!decode(msg, r, err)) {
        spdlog::warn("reward service: bad score_result from {}: {}", printable_peer(peer), err);
        continue;
      }
      if (b) {
        handle_result(s, peer, r, b);
      } else if (jobq_result(s.q, peer, r.request_id) != JobResult::kDuplicate) {
        spdlog::warn("reward service: refused a result from {}: no such request",
                     printable_peer(peer));
        jobq_refuse(s.q, peer, r.request_id, "no such request", INT_MAX);
      }
      continue;
    }
    spdlog::warn("reward service: unexpected {} from {}", msg_type_name(msg.type),
                 printable_peer(peer));
  }
  if (jobq_num_live(s.q) > 0) s.no_worker_since = Clock::now();
}

}  // namespace

bool reward_service_wait_workers(RewardService& s, int n, int timeout_ms) {
  auto t0 = Clock::now();
  while (jobq_num_live(s.q) < n) {
    if (ms_since(t0) > timeout_ms || (s.opt.stop && *s.opt.stop)) return false;
    service_drain(s, 50, nullptr);
  }
  return true;
}

void reward_service_score(RewardService& s, const std::vector<ScoreJob>& jobs,
                          std::vector<std::vector<Scored>>& out) {
  out.assign(jobs.size(), {});
  // Jobs of a call that threw are withdrawn: their late answers become duplicates.
  std::vector<uint64_t> left;
  for (const auto& [id, job] : s.q.pending) left.push_back(id);
  for (uint64_t id : left) jobq_cancel(s.q, id);
  Batch b{jobs, s.next_id, out};
  for (const ScoreJob& job : jobs) {
    ScoreRequest q;
    q.request_id = s.next_id++;
    q.task = job.task;
    q.completions = job.completions;
    q.reference_json = job.reference.dump();
    jobq_submit(s.q, q.request_id, 0, encode(q));
  }
  auto last_note = Clock::now();
  std::vector<JobTimeout> late;
  while (b.done < jobs.size()) {
    check_stop(s);
    // A job goes back to a worker that answered it badly only when no other worker is connected.
    jobq_dispatch(s.q, jobq_now_ms(), send_job, &s);
    service_drain(s, 20, &b);
    // Gone without a bye (killed): silent past worker_timeout_ms while idle (a worker scoring a
    // slow job sends no heartbeats), or holding a job past job_timeout_ms. Its job is re-issued.
    late.clear();
    jobq_timeouts(s.q, jobq_now_ms(), s.opt.worker_timeout_ms, s.opt.job_timeout_ms, true, late);
    for (const JobTimeout& l : late) {
      if (l.silent)
        spdlog::warn("reward service: worker {} silent for {} ms; dropping it",
                     printable_peer(l.identity), l.ms);
      else
        spdlog::warn("reward service: worker {} timed out on its job; re-issuing",
                     printable_peer(l.identity));
      jobq_lost(s.q, l.identity);
    }
    if (jobq_num_live(s.q) == 0 && b.done < jobs.size()) {
      const double waited = ms_since(s.no_worker_since);
      if (s.opt.worker_deadline_ms > 0 && waited > s.opt.worker_deadline_ms)
        throw std::runtime_error("no reward worker for " + std::to_string(int(waited / 1000)) +
                                 " s (run.worker_deadline_s): giving up");
      if (ms_since(last_note) > 5000 && waited >= 2000) {
        last_note = Clock::now();
        if (s.opt.on_waiting) s.opt.on_waiting(s.opt.on_waiting_ctx, waited / 1000);
      }
      service_drain(s, 100, &b);
    }
  }
}

RewardServiceStats reward_service_stats(RewardService& s) {
  RewardServiceStats st;
  st.scored = s.q.stats.completed;
  st.rejected = s.q.stats.rejected;
  st.reissued = s.q.stats.reissued;
  st.banned = s.q.stats.banned;
  for (const auto& [id, w] : s.q.workers)
    if (w.rejected > 0) st.rejected_by_worker[id] = w.rejected;
  return st;
}

void reward_service_shutdown(RewardService& s) {
  ShutdownMsg m;
  m.reason = "training finished";
  for (auto& [id, w] : s.q.workers)
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
      json_check_depth(q.reference_json, "score_request.reference_json");
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
    // A completion's bytes need not be UTF-8 (a byte-level token cut mid-character); what the
    // checker quotes of it must not stop the worker.
    res.components_json = details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    send_frame(sock, "", encode(res));
  }
  ByeMsg bye;
  bye.worker_id = id;
  bye.reason = "stopped";
  send_frame(sock, "", encode(bye));
  return 0;
}

}  // namespace aha

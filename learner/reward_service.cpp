#include "learner/reward_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <map>
#include <thread>

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

struct RewardService {
  zmq::socket_t sock;
  int job_timeout_ms = 120000;
  struct Worker {
    bool busy = false;
    Clock::time_point last_seen;
  };
  std::map<std::string, Worker> workers;  // by identity
  uint64_t next_id = 1;
};

void RewardServiceDeleter::operator()(RewardService* s) const {
  delete s;
}

RewardServicePtr reward_service_create(const std::string& endpoint, zmq::context_t& context,
                                       int job_timeout_ms) {
  RewardServicePtr s(new RewardService());
  s->sock = zmq::socket_t(context, zmq::socket_type::router);
  s->sock.set(zmq::sockopt::linger, 0);
  s->sock.set(zmq::sockopt::router_mandatory, 1);
  try {
    s->sock.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("reward service: cannot bind " + endpoint + ": " + e.what());
  }
  s->job_timeout_ms = job_timeout_ms;
  return s;
}

namespace {

// Reads what is waiting (up to timeout_ms for the first message); results go to `on_result`.
template <typename F>
void service_drain(RewardService& s, int timeout_ms, F on_result) {
  zmq::pollitem_t item{s.sock.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
  for (;;) {
    std::string peer, bytes, err;
    int got = recv_frame(s.sock, true, peer, bytes, err);
    if (got == 0) break;
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
    RewardService::Worker& w = s.workers[peer];
    w.last_seen = Clock::now();
    if (msg.type == MsgType::Ready || msg.type == MsgType::Heartbeat) continue;
    if (msg.type == MsgType::Bye) {
      s.workers.erase(peer);
      on_result(peer, nullptr);
      continue;
    }
    if (msg.type == MsgType::ScoreResult) {
      ScoreResult r;
      if (!decode(msg, r, err)) {
        spdlog::warn("reward service: bad score_result from {}: {}", printable_peer(peer), err);
        continue;
      }
      w.busy = false;
      on_result(peer, &r);
      continue;
    }
    spdlog::warn("reward service: unexpected {} from {}", msg_type_name(msg.type),
                 printable_peer(peer));
  }
}

}  // namespace

bool reward_service_wait_workers(RewardService& s, int n, int timeout_ms) {
  auto t0 = Clock::now();
  while (static_cast<int>(s.workers.size()) < n) {
    if (ms_since(t0) > timeout_ms) return false;
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
  while (done < jobs.size()) {
    // Hand queued jobs to idle workers.
    for (auto& [id, w] : s.workers) {
      if (queue.empty()) break;
      if (w.busy) continue;
      size_t j = queue.front();
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
          if (it->second.worker == peer) {
            queue.push_back(it->second.job);
            it = outstanding.erase(it);
          } else {
            ++it;
          }
        return;
      }
      auto it = outstanding.find(r->request_id);
      if (it == outstanding.end()) return;  // late duplicate of a re-issued job
      size_t j = it->second.job;
      outstanding.erase(it);
      if (answered[j]) return;
      nlohmann::json details = nlohmann::json::parse(r->components_json, nullptr, false);
      std::vector<Scored> scored(jobs[j].completions.size());
      bool ok = details.is_array() && details.size() == scored.size() &&
                r->rewards.size() == scored.size();
      for (size_t g = 0; ok && g < scored.size(); g++)
        ok = scored_from_json(details[g], r->rewards[g], scored[g]);
      if (!ok) {
        spdlog::warn("reward service: malformed result for job {} from {}; re-issuing", j,
                     printable_peer(peer));
        queue.push_back(j);
        return;
      }
      out[j] = std::move(scored);
      answered[j] = true;
      done++;
    });
    // Silent workers: re-issue their jobs and forget them.
    for (auto it = outstanding.begin(); it != outstanding.end();) {
      if (ms_since(it->second.sent) > s.job_timeout_ms) {
        spdlog::warn("reward service: worker {} timed out on job {}; re-issuing",
                     printable_peer(it->second.worker), it->second.job);
        queue.push_back(it->second.job);
        s.workers.erase(it->second.worker);
        it = outstanding.erase(it);
      } else {
        ++it;
      }
    }
    if (s.workers.empty() && done < jobs.size())
      service_drain(s, 100, [](const std::string&, const ScoreResult*) {});
  }
}

void reward_service_shutdown(RewardService& s) {
  ShutdownMsg m;
  m.reason = "training finished";
  for (auto& [id, w] : s.workers) send_frame(s.sock, id, encode(m));
}

int run_reward_worker(const RewardWorkerOptions& opt) {
  zmq::context_t own;
  zmq::context_t& ctx = opt.context ? *opt.context : own;
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  std::string id = opt.worker_id.empty() ? "reward-" + std::to_string(getpid()) : opt.worker_id;
  sock.set(zmq::sockopt::routing_id, id);
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
        for (size_t g = next++; g < scored.size(); g = next++)
          scored[g] = scored_from_result(task_score(spec, q.completions[g], ref));
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

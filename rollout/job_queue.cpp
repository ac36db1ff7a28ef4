#include "rollout/job_queue.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <stdexcept>

namespace aha {

void jobq_submit(JobQueue& q, uint64_t id, uint64_t min_version, std::string bytes) {
  if (q.pending.count(id) || q.done.count(id))
    throw std::runtime_error("job id " + std::to_string(id) + " was already submitted");
  Job& j = q.pending[id];
  j.min_version = min_version;
  j.bytes = std::move(bytes);
  q.queue.push_back(id);
  q.stats.submitted++;
}

bool jobq_cancel(JobQueue& q, uint64_t id) {
  if (!q.pending.erase(id)) return false;  // the queue skips ids no longer pending
  q.done.insert(id);
  q.stats.cancelled++;
  return true;
}

JobWorker* jobq_seen(JobQueue& q, const std::string& identity, int32_t capacity, int64_t now_ms,
                     bool* joined) {
  JobWorker& w = q.workers[identity];
  if (joined) *joined = false;
  if (w.banned) return nullptr;
  if (joined) *joined = !w.alive;
  w.alive = true;
  w.capacity = std::max(capacity, 0);
  w.last_seen_ms = now_ms;
  return &w;
}

namespace {

// Puts ids back at the front of the queue, the smallest first.
void requeue_front(JobQueue& q, const std::vector<uint64_t>& ids) {
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    q.queue.push_front(*it);
    q.stats.reissued++;
  }
}

}  // namespace

size_t jobq_lost(JobQueue& q, const std::string& identity) {
  auto it = q.workers.find(identity);
  if (it == q.workers.end() || !it->second.alive) return 0;
  JobWorker& w = it->second;
  w.alive = false;
  q.stats.workers_lost++;
  std::vector<uint64_t> back;  // held is ordered by id
  for (const auto& [id, sent_ms] : w.held)
    if (q.pending.count(id)) back.push_back(id);
  w.held.clear();
  requeue_front(q, back);
  return back.size();
}

bool jobq_ban(JobQueue& q, const std::string& identity) {
  auto it = q.workers.find(identity);
  if (it == q.workers.end() || it->second.banned) return false;
  jobq_lost(q, identity);
  it->second.banned = true;
  q.stats.banned++;
  return true;
}

size_t jobq_dispatch(JobQueue& q, int64_t now_ms, JobSendFn send, void* ctx) {
  std::deque<uint64_t> skipped;  // no live worker can take them yet: they keep their place
  std::set<std::string> failed;  // sends to these failed this round
  size_t sent = 0;
  while (!q.queue.empty()) {
    const uint64_t id = q.queue.front();
    auto pit = q.pending.find(id);
    if (pit == q.pending.end()) {  // done meanwhile (a late result, a cancel)
      q.queue.pop_front();
      continue;
    }
    Job& job = pit->second;
    auto able = [&](const std::string& ident, const JobWorker& w) {
      return w.alive && !w.banned && !failed.count(ident) && w.version >= job.min_version;
    };
    // Back to a worker that answered it badly only when no other could ever take it (else a
    // hostile worker could hold it forever).
    bool other_exists = false;
    for (const auto& [ident, w] : q.workers)
      other_exists |= able(ident, w) && !job.refused_by.count(ident);
    JobWorker* best = nullptr;
    const std::string* best_ident = nullptr;
    int32_t best_free = 0;
    bool any_free = false;
    for (auto& [ident, w] : q.workers) {
      const int32_t free = w.alive && !w.banned && !failed.count(ident)
                               ? w.capacity - static_cast<int32_t>(w.held.size())
                               : 0;
      if (free <= 0) continue;
      any_free = true;
      if (!able(ident, w) || (other_exists && job.refused_by.count(ident))) continue;
      if (free > best_free) {
        best = &w;
        best_ident = &ident;
        best_free = free;
      }
    }
    if (!any_free) break;
    if (!best) {
      skipped.push_back(id);
      q.queue.pop_front();
      continue;
    }
    if (!send(ctx, *best_ident, job.bytes)) {
      failed.insert(*best_ident);
      continue;
    }
    q.queue.pop_front();
    best->held.emplace(id, now_ms);
    if (std::find(job.sent_to.begin(), job.sent_to.end(), *best_ident) == job.sent_to.end())
      job.sent_to.push_back(*best_ident);
    sent++;
  }
  q.queue.insert(q.queue.begin(), skipped.begin(), skipped.end());
  return sent;
}

JobResult jobq_result(JobQueue& q, const std::string& identity, uint64_t id) {
  if (q.done.count(id)) {
    auto w = q.workers.find(identity);
    if (w != q.workers.end()) w->second.held.erase(id);
    q.stats.duplicates++;
    return JobResult::kDuplicate;
  }
  auto pit = q.pending.find(id);
  if (pit == q.pending.end()) {
    q.stats.unknown++;
    return JobResult::kUnknown;
  }
  const std::vector<std::string>& to = pit->second.sent_to;
  if (std::find(to.begin(), to.end(), identity) == to.end()) {
    q.stats.unsolicited++;
    return JobResult::kUnsolicited;
  }
  return JobResult::kCandidate;
}

void jobq_accept(JobQueue& q, const std::string& identity, uint64_t id, int64_t now_ms) {
  if (!q.pending.erase(id)) return;
  q.done.insert(id);
  q.stats.completed++;
  auto it = q.workers.find(identity);
  if (it == q.workers.end()) return;
  it->second.held.erase(id);
  it->second.last_result_ms = now_ms;
  it->second.completed++;
}

bool jobq_count_bad(JobQueue& q, const std::string& identity, const std::string& why, int max_bad) {
  auto it = q.workers.find(identity);
  if (it == q.workers.end() || it->second.banned) return false;
  JobWorker& w = it->second;
  w.rejected++;
  w.last_rejection = why;
  q.stats.rejected++;
  return static_cast<int64_t>(w.rejected) >= max_bad;
}

bool jobq_refuse(JobQueue& q, const std::string& identity, uint64_t id, const std::string& why,
                 int max_bad) {
  auto it = q.workers.find(identity);
  if (it == q.workers.end()) {  // an unregistered sender: counted, against no one
    q.stats.rejected++;
    return false;
  }
  auto pit = q.pending.find(id);
  if (pit != q.pending.end()) {
    pit->second.refused_by.insert(identity);
    if (it->second.held.erase(id)) requeue_front(q, {id});
  }
  return jobq_count_bad(q, identity, why, max_bad);
}

void jobq_timeouts(const JobQueue& q, int64_t now_ms, int worker_timeout_ms, int job_timeout_ms,
                   bool busy_may_be_silent, std::vector<JobTimeout>& out) {
  for (const auto& [ident, w] : q.workers) {
    if (!w.alive || w.banned) continue;
    const int64_t silent = now_ms - w.last_seen_ms;
    if (worker_timeout_ms > 0 && silent > worker_timeout_ms &&
        !(busy_may_be_silent && !w.held.empty())) {
      out.push_back({ident, true, silent, w.held.size()});
      continue;
    }
    if (job_timeout_ms <= 0 || w.held.empty()) continue;
    // A worker that keeps finishing jobs is slow, not stuck.
    int64_t oldest = INT64_MAX;
    for (const auto& [id, sent_ms] : w.held) oldest = std::min(oldest, sent_ms);
    const int64_t since = std::max(oldest, w.last_result_ms);
    if (now_ms - since > job_timeout_ms)
      out.push_back({ident, false, now_ms - since, w.held.size()});
  }
}

int64_t jobq_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t jobq_num_queued(const JobQueue& q) {
  size_t n = 0;
  for (uint64_t id : q.queue) n += q.pending.count(id);
  return n;
}

size_t jobq_num_held(const JobQueue& q) {
  size_t n = 0;
  for (const auto& [ident, w] : q.workers) n += w.held.size();
  return n;
}

int jobq_num_live(const JobQueue& q) {
  int n = 0;
  for (const auto& [ident, w] : q.workers) n += w.alive && !w.banned;
  return n;
}

}  // namespace aha

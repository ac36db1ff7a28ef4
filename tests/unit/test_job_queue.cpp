// The ROUTER job queue's bookkeeping (rollout/job_queue.h), driven by hand: a fake clock and a
// send function that records what went to whom, checked against the header's invariants.
#include <doctest/doctest.h>

#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rollout/job_queue.h"

using namespace aha;

namespace {

struct Wire {
  std::vector<std::pair<std::string, std::string>> sent;  // (worker, bytes) in order
  std::set<std::string> unreachable;
};

bool record(void* ctx, const std::string& identity, const std::string& bytes) {
  Wire& w = *static_cast<Wire*>(ctx);
  if (w.unreachable.count(identity)) return false;
  w.sent.emplace_back(identity, bytes);
  return true;
}

// Jobs 1..n with bytes "job<id>".
void submit(JobQueue& q, uint64_t first, uint64_t n, uint64_t min_version = 0) {
  for (uint64_t id = first; id < first + n; id++)
    jobq_submit(q, id, min_version, "job" + std::to_string(id));
}

// Registers the workers (identity, capacity) at t = 0, submits jobs first.. first + n - 1 and
// dispatches them.
void start(JobQueue& q, Wire& wire, std::initializer_list<std::pair<const char*, int>> workers,
           uint64_t first, uint64_t n) {
  for (const auto& [ident, capacity] : workers) jobq_seen(q, ident, capacity, 0);
  submit(q, first, n);
  jobq_dispatch(q, 0, record, &wire);
}

std::vector<std::string> sent_to(const Wire& w, const std::string& worker) {
  std::vector<std::string> out;
  for (const auto& [who, bytes] : w.sent)
    if (who == worker) out.push_back(bytes);
  return out;
}

}  // namespace

TEST_CASE("jobs leave in submission order, to the worker with the most free slots") {
  JobQueue q;
  Wire wire;
  jobq_seen(q, "a", 2, 0);
  jobq_seen(q, "b", 2, 0);
  submit(q, 1, 5);
  CHECK(jobq_dispatch(q, 0, record, &wire) == 4);  // 2 + 2 slots
  REQUIRE(wire.sent.size() == 4);
  // Fairness: the most free slots first, ties by identity, so the load alternates.
  CHECK(wire.sent[0] == std::make_pair(std::string("a"), std::string("job1")));
  CHECK(wire.sent[1] == std::make_pair(std::string("b"), std::string("job2")));
  CHECK(wire.sent[2] == std::make_pair(std::string("a"), std::string("job3")));
  CHECK(wire.sent[3] == std::make_pair(std::string("b"), std::string("job4")));
  CHECK(jobq_num_queued(q) == 1);
  CHECK(jobq_num_held(q) == 4);
  // A slot frees: the waiting job goes out, and nothing goes twice.
  REQUIRE(jobq_result(q, "b", 2) == JobResult::kCandidate);
  jobq_accept(q, "b", 2, 10);
  CHECK(jobq_dispatch(q, 10, record, &wire) == 1);
  CHECK(wire.sent.back() == std::make_pair(std::string("b"), std::string("job5")));
  CHECK(jobq_dispatch(q, 10, record, &wire) == 0);
  CHECK(q.stats.completed == 1);
  CHECK(q.workers["b"].completed == 1);
}

TEST_CASE("a job held past job_timeout_ms is re-issued with the same id") {
  JobQueue q;
  Wire wire;
  start(q, wire, {{"slow", 1}}, 7, 1);
  std::vector<JobTimeout> late;
  jobq_timeouts(q, 1000, 0, 1000, true, late);
  CHECK(late.empty());  // not past the limit yet
  jobq_seen(q, "fast", 1, 1500);
  jobq_timeouts(q, 1500, 0, 1000, true, late);
  REQUIRE(late.size() == 1);
  CHECK(late[0].identity == "slow");
  CHECK_FALSE(late[0].silent);
  CHECK(late[0].num_held == 1);
  CHECK(jobq_lost(q, "slow") == 1);
  CHECK(q.stats.reissued == 1);
  jobq_dispatch(q, 1500, record, &wire);
  CHECK(sent_to(wire, "fast") == std::vector<std::string>{"job7"});
  // A slow worker that keeps answering is not timed out: the clock runs from its last result.
  JobQueue r;
  start(r, wire, {{"w", 2}}, 1, 2);
  jobq_accept(r, "w", 1, 900);
  late.clear();
  jobq_timeouts(r, 1500, 0, 1000, true, late);
  CHECK(late.empty());
}

TEST_CASE("a late result after a re-issue is accepted once; the re-issue's answer is a duplicate") {
  JobQueue q;
  Wire wire;
  start(q, wire, {{"a", 1}}, 1, 1);
  jobq_lost(q, "a");  // silent: job 1 goes to b
  jobq_seen(q, "b", 1, 10);
  jobq_dispatch(q, 10, record, &wire);
  CHECK(sent_to(wire, "b") == std::vector<std::string>{"job1"});
  // a was only slow: its answer arrives first and wins.
  jobq_seen(q, "a", 1, 20);
  REQUIRE(jobq_result(q, "a", 1) == JobResult::kCandidate);
  jobq_accept(q, "a", 1, 20);
  CHECK(q.stats.completed == 1);
  // b's answer to the same job: dropped, counted, and b's slot is free again.
  CHECK(jobq_result(q, "b", 1) == JobResult::kDuplicate);
  CHECK(q.stats.duplicates == 1);
  CHECK(q.workers["b"].held.empty());
  CHECK(jobq_result(q, "a", 1) == JobResult::kDuplicate);  // and a resend: never twice
  CHECK(q.stats.completed == 1);
  CHECK(q.stats.duplicates == 2);
  CHECK(q.workers["a"].rejected + q.workers["b"].rejected == 0);
}

TEST_CASE("a dead worker's jobs go back to the front, oldest first; it returns empty-handed") {
  JobQueue q;
  Wire wire;
  start(q, wire, {{"a", 3}}, 1, 3);
  submit(q, 4, 2);  // queued behind
  std::vector<JobTimeout> late;
  jobq_timeouts(q, 5000, 3000, 0, false, late);
  REQUIRE(late.size() == 1);
  CHECK(late[0].silent);
  CHECK(jobq_lost(q, "a") == 3);
  CHECK(jobq_lost(q, "a") == 0);  // lost once
  CHECK(q.stats.workers_lost == 1);
  CHECK(jobq_num_live(q) == 0);
  jobq_seen(q, "b", 5, 5000);
  wire.sent.clear();
  jobq_dispatch(q, 5000, record, &wire);
  CHECK(sent_to(wire, "b") == std::vector<std::string>{"job1", "job2", "job3", "job4", "job5"});
  // a speaks again: alive, holding nothing.
  bool joined = false;
  REQUIRE(jobq_seen(q, "a", 3, 6000, &joined) != nullptr);
  CHECK(joined);
  CHECK(q.workers["a"].held.empty());
  // A busy worker that cannot heart-beat is not silent when busy_may_be_silent.
  late.clear();
  jobq_timeouts(q, 20000, 3000, 0, true, late);
  REQUIRE(late.size() == 1);
  CHECK(late[0].identity == "a");
}

TEST_CASE(
    "refusals: counted, the job re-queued away from the refuser, the worker banned at the limit") {
  JobQueue q;
  Wire wire;
  start(q, wire, {{"bad", 1}, {"good", 1}}, 1, 1);
  REQUIRE(sent_to(wire, "bad") == std::vector<std::string>{"job1"});
  CHECK_FALSE(jobq_refuse(q, "bad", 1, "garbage", 2));
  CHECK(q.stats.reissued == 1);
  CHECK(q.workers["bad"].last_rejection == "garbage");
  // good is busy? no: it is free, and the job goes to it, not back to bad.
  jobq_dispatch(q, 0, record, &wire);
  CHECK(sent_to(wire, "good") == std::vector<std::string>{"job1"});
  // Unknown and unsolicited results: classified and counted; refusing them counts against bad.
  CHECK(jobq_result(q, "bad", 99) == JobResult::kUnknown);
  submit(q, 2, 1);
  jobq_seen(q, "other", 0, 0);  // registered, no capacity: never sent job 2
  CHECK(jobq_result(q, "other", 1) == JobResult::kUnsolicited);
  CHECK(jobq_refuse(q, "bad", 99, "no such request", 2));  // second rejection: at the limit
  CHECK(jobq_ban(q, "bad"));
  CHECK_FALSE(jobq_ban(q, "bad"));
  CHECK(q.stats.banned == 1);
  CHECK(jobq_seen(q, "bad", 1, 10) == nullptr);  // never back
  CHECK(q.stats.unknown == 1);
  CHECK(q.stats.unsolicited == 1);
  CHECK(q.stats.rejected == 2);
  // An unregistered sender is counted, against no one.
  CHECK_FALSE(jobq_refuse(q, "stranger", 1, "forged", 1));
  CHECK(q.stats.rejected == 3);
  CHECK(q.workers.count("stranger") == 0);
}

TEST_CASE("a refused job goes back to its refuser when no other worker could take it") {
  JobQueue q;
  Wire wire;
  start(q, wire, {{"only", 1}}, 1, 1);
  jobq_refuse(q, "only", 1, "bad", 10);
  jobq_dispatch(q, 0, record, &wire);
  CHECK(sent_to(wire, "only") == std::vector<std::string>{"job1", "job1"});
}

TEST_CASE("min_version: a job waits for a worker that holds it without blocking those behind") {
  JobQueue q;
  Wire wire;
  jobq_seen(q, "old", 4, 0);
  jobq_submit(q, 1, 2, "needs-v2");
  jobq_submit(q, 2, 0, "any");
  jobq_dispatch(q, 0, record, &wire);
  CHECK(sent_to(wire, "old") == std::vector<std::string>{"any"});
  q.workers["old"].version = 2;
  jobq_dispatch(q, 0, record, &wire);
  CHECK(sent_to(wire, "old") == std::vector<std::string>{"any", "needs-v2"});
}

TEST_CASE("ids are unique for life; a cancelled job is not sent and its result is a duplicate") {
  JobQueue q;
  Wire wire;
  submit(q, 1, 2);
  CHECK_THROWS(jobq_submit(q, 1, 0, "again"));
  CHECK(jobq_cancel(q, 1));
  CHECK_FALSE(jobq_cancel(q, 1));
  CHECK_THROWS(jobq_submit(q, 1, 0, "again"));  // done ids stay taken
  jobq_seen(q, "w", 2, 0);
  jobq_dispatch(q, 0, record, &wire);
  CHECK(sent_to(wire, "w") == std::vector<std::string>{"job2"});
  CHECK(jobq_result(q, "w", 1) == JobResult::kDuplicate);
  CHECK(q.stats.cancelled == 1);
}

TEST_CASE("a failed send keeps the job queued and tries another worker") {
  JobQueue q;
  Wire wire;
  wire.unreachable.insert("a");
  jobq_seen(q, "a", 2, 0);
  jobq_seen(q, "b", 1, 0);
  submit(q, 1, 2);
  CHECK(jobq_dispatch(q, 0, record, &wire) == 1);
  CHECK(sent_to(wire, "b") == std::vector<std::string>{"job1"});
  CHECK(jobq_num_queued(q) == 1);
  CHECK(q.workers["a"].held.empty());
  wire.unreachable.clear();
  CHECK(jobq_dispatch(q, 0, record, &wire) == 1);
  CHECK(sent_to(wire, "a") == std::vector<std::string>{"job2"});
}

// The job queue behind a ROUTER socket: the bookkeeping the rollout controller (prompt groups to
// rollout workers) and the reward service (scoring jobs to reward workers) share. It holds no
// socket, clock, thread or lock: the caller passes the time, sends the bytes, holds any mutex.
//
// clang-format off
// Invariants:
// - A job keeps one id for its whole life, unique over the queue's life (jobq_submit checks);
//   every issue of it, re-issues included, carries that id and the same bytes.
// - A job is pending until a result for it is accepted or it is cancelled; then it is done, and
//   every later result for it is a duplicate: dropped and counted, never accepted. So the first
//   acceptable result wins, whichever worker the job was issued to: a late answer from a worker
//   the job was taken from is accepted once if it comes first, and the re-issue's answer is then
//   the duplicate (and the other way round).
// - A result is a candidate only for a pending job (else unknown) from a worker it was issued to
//   (else unsolicited); the caller checks the content, then accepts or refuses it. A refusal
//   counts against the worker and re-queues the job if that worker held it; the job goes back to
//   a worker that answered it badly only when no other live worker could take it.
// - Dispatch: jobs leave in queue order; re-queued jobs go to the front, oldest id first. A job
//   goes to the live, unbanned worker with the most free slots (capacity - held; ties: identity
//   order) whose version >= the job's min_version; a job no live worker can take waits without
//   blocking those behind it.
// - A lost worker (bye, silence, job timeout, ban) has its pending jobs re-queued (counted in
//   reissued). A lost worker that speaks again is alive again; a banned one never is.
// clang-format on
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace aha {

struct JobWorker {
  bool alive = false;
  bool banned = false;
  int32_t capacity = 0;              // jobs it may hold at once
  uint64_t version = 0;              // jobs with a higher min_version do not go to it
  int64_t last_seen_ms = 0;          // when it last spoke (set by the caller on any message)
  int64_t last_result_ms = 0;        // when a result of it was last accepted
  std::map<uint64_t, int64_t> held;  // job id -> ms when sent (done ones until they come back)
  uint64_t completed = 0;            // results accepted from it
  uint64_t rejected = 0;             // refusals and bad messages counted against it
  std::string last_rejection;
};

struct Job {
  uint64_t min_version = 0;
  std::string bytes;                 // the encoded request, sent as is
  std::vector<std::string> sent_to;  // workers it was issued to, in order
  std::set<std::string> refused_by;  // workers whose answer to it was refused
};

struct JobQueueStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;   // results accepted (each job once)
  uint64_t duplicates = 0;  // results for done jobs, dropped
  uint64_t cancelled = 0;
  uint64_t unknown = 0;      // results for ids never submitted (refused)
  uint64_t unsolicited = 0;  // results from a worker the job was never issued to (refused)
  uint64_t reissued = 0;     // jobs re-queued from lost workers or after a refusal
  uint64_t rejected = 0;     // refusals and bad messages
  uint64_t banned = 0;
  uint64_t workers_lost = 0;  // alive -> lost transitions
};

struct JobQueue {
  std::unordered_map<uint64_t, Job> pending;  // submitted, not done
  std::unordered_set<uint64_t> done;          // accepted or cancelled
  std::deque<uint64_t> queue;                 // ids waiting for a worker (done ids skipped lazily)
  std::map<std::string, JobWorker> workers;   // by routing identity; lost and banned ones stay
  JobQueueStats stats;
};

// Queues a job at the back. Throws std::runtime_error when the id was submitted before.
void jobq_submit(JobQueue& q, uint64_t id, uint64_t min_version, std::string bytes);

// Withdraws a pending job: no longer sent; a result still arriving is a duplicate. False when the
// id is not pending.
bool jobq_cancel(JobQueue& q, uint64_t id);

// A worker spoke (ready, heartbeat): registers it or brings it back with this capacity. Returns
// nullptr for a banned worker, else the worker; *joined says whether it was not alive before.
JobWorker* jobq_seen(JobQueue& q, const std::string& identity, int32_t capacity, int64_t now_ms,
                     bool* joined = nullptr);

// The worker is gone (bye, silence, timeout): its pending jobs go back to the front of the queue.
// Returns how many were re-queued; 0 and nothing done when it was not alive.
size_t jobq_lost(JobQueue& q, const std::string& identity);

// Bans a worker for good (and loses it). False when unknown or already banned.
bool jobq_ban(JobQueue& q, const std::string& identity);

// Sends queued jobs to workers with free slots (see the invariants). `send` returns false when
// the bytes could not be handed to that worker; the job then stays queued and that worker gets
// nothing more this round. Returns how many jobs were sent.
using JobSendFn = bool (*)(void* ctx, const std::string& identity, const std::string& bytes);
size_t jobq_dispatch(JobQueue& q, int64_t now_ms, JobSendFn send, void* ctx);

enum class JobResult { kCandidate, kDuplicate, kUnknown, kUnsolicited };
// Classifies a result for job `id` from `identity` and counts duplicates, unknown and unsolicited
// ones; a duplicate also frees the sender's slot. Only a candidate may then be accepted; unknown
// and unsolicited ones should be refused.
JobResult jobq_result(JobQueue& q, const std::string& identity, uint64_t id);

// Accepts a candidate: the job is done, the sender's slot freed.
void jobq_accept(JobQueue& q, const std::string& identity, uint64_t id, int64_t now_ms);

// Refuses a result: counted (against the worker when it is registered), the job re-queued at the
// front when the worker held it. Returns true when the worker has now max_bad or more rejections
// (the caller bans it).
bool jobq_refuse(JobQueue& q, const std::string& identity, uint64_t id, const std::string& why,
                 int max_bad);

// Counts a bad message against a registered, unbanned worker; true at max_bad or more.
bool jobq_count_bad(JobQueue& q, const std::string& identity, const std::string& why, int max_bad);

struct JobTimeout {
  std::string identity;
  bool silent = false;  // true: no message for worker_timeout_ms; false: held jobs unanswered
  int64_t ms = 0;       // how long
  size_t num_held = 0;
};
// Live workers past a limit (0 = no limit): silent for worker_timeout_ms (a worker holding jobs
// only when !busy_may_be_silent, for workers that cannot heart-beat while working), or holding
// jobs and answering none for job_timeout_ms since the oldest was sent or its last result. The
// caller decides: lose, ban.
void jobq_timeouts(const JobQueue& q, int64_t now_ms, int worker_timeout_ms, int job_timeout_ms,
                   bool busy_may_be_silent, std::vector<JobTimeout>& out);

// Milliseconds on the steady clock: the time the callers pass.
int64_t jobq_now_ms();

size_t jobq_num_queued(const JobQueue& q);  // pending and waiting for a worker
size_t jobq_num_held(const JobQueue& q);    // issued to live workers, not answered
int jobq_num_live(const JobQueue& q);       // alive and not banned

}  // namespace aha

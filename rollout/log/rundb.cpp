// SQLite rollout logs: schema, writers and readers (see rundb.h for the invariants).
#include "rollout/log/rundb.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "kernels/utf8.h"

namespace aha {

namespace {

const StepColumn kStepColumns[] = {
    {"reward_mean", &StepRow::reward_mean},
    {"accuracy", &StepRow::accuracy},
    {"adv_mean", &StepRow::adv_mean},
    {"adv_std", &StepRow::adv_std},
    {"len_mean", &StepRow::len_mean},
    {"len_max", &StepRow::len_max},
    {"frac_truncated", &StepRow::frac_truncated},
    {"kl", &StepRow::kl},
    {"entropy", &StepRow::entropy},
    {"clip_frac_low", &StepRow::clip_frac_low},
    {"clip_frac_high", &StepRow::clip_frac_high},
    {"frac_zero_var_groups", &StepRow::frac_zero_var_groups},
    {"dlogp_max", &StepRow::dlogp_max},
    {"dlogp_mean", &StepRow::dlogp_mean},
    {"grad_norm", &StepRow::grad_norm},
    {"lr", &StepRow::lr},
    {"tokens_per_s", &StepRow::tokens_per_s},
    {"t_gen", &StepRow::t_gen},
    {"t_reward", &StepRow::t_reward},
    {"t_train", &StepRow::t_train},
    {"t_sync", &StepRow::t_sync},
};

// The schema of version 3. Only constant text: no values are ever formatted into SQL.
// Every sample with its group's prompt: what readers (and hand-written SQL) select from.
constexpr const char* kSamplesViewSql = R"(
CREATE VIEW samples_with_prompts AS
  SELECT s.*, p.prompt AS prompt, p.prompt_ids AS prompt_ids
  FROM samples AS s LEFT JOIN prompts AS p USING (run_id, step, group_id);
)";

// One prompt per group (schema 3): sample rows reference it by (run_id, step, group_id).
constexpr const char* kPromptsTableSql = R"(
CREATE TABLE prompts (
  run_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  group_id INTEGER NOT NULL,
  prompt TEXT NOT NULL,
  prompt_ids BLOB,
  PRIMARY KEY (run_id, step, group_id),
  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step)
);
)";

// Versions 1 and 2 stored each sample's prompt text and ids in its own row (version 1 also lacked
// response_prefix). One transaction moves them to one prompts row per group, after kPromptsTableSql.
constexpr const char* kMigrateV2Sql = R"(
INSERT INTO prompts (run_id, step, group_id, prompt, prompt_ids)
  SELECT run_id, step, group_id, prompt, prompt_ids FROM samples
  WHERE sample_id IN (SELECT min(sample_id) FROM samples GROUP BY run_id, step, group_id);
ALTER TABLE samples DROP COLUMN prompt;
ALTER TABLE samples DROP COLUMN prompt_ids;
)";

std::string schema_sql() {
  std::string step_cols;
  for (const StepColumn& c : kStepColumns) step_cols += std::string("  ") + c.name + " REAL,\n";
  return R"(
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY,
  start_time TEXT NOT NULL,
  aha_version TEXT NOT NULL,
  git_commit TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  config TEXT NOT NULL DEFAULT ''
);
CREATE TABLE steps (
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  step INTEGER NOT NULL,
  time TEXT NOT NULL,
)" + step_cols +
         R"(  metrics TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, step)
);
)" + std::string(kPromptsTableSql) +
         R"(
CREATE TABLE samples (
  sample_id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  weight_version INTEGER NOT NULL,
  task TEXT NOT NULL,
  prompt_id TEXT NOT NULL,
  group_id INTEGER NOT NULL,
  sample_idx INTEGER NOT NULL,
  completion TEXT NOT NULL,
  num_tokens INTEGER NOT NULL,
  finish_reason TEXT NOT NULL,
  reward REAL NOT NULL,
  components TEXT NOT NULL DEFAULT '{}',
  correct INTEGER NOT NULL,
  advantage REAL NOT NULL,
  mean_logp REAL,
  mean_abs_dlogp REAL,
  gen_time_s REAL,
  extracted TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  response_prefix TEXT NOT NULL DEFAULT '',
  completion_ids BLOB,
  rollout_logps BLOB,
  UNIQUE (run_id, step, group_id, sample_idx),
  FOREIGN KEY (run_id, step, group_id) REFERENCES prompts(run_id, step, group_id)
);
CREATE INDEX samples_by_step ON samples(step, reward);
CREATE INDEX samples_by_task_step ON samples(task, step, reward);
CREATE INDEX samples_by_reward ON samples(reward);
CREATE TABLE evals (
  eval_id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  step INTEGER NOT NULL,
  task TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  k INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX evals_by_step ON evals(run_id, step);
)" + std::string(kSamplesViewSql);
}

// An error reported by SQLite: names the database, the operation, SQLite's message and the
// statement.
[[noreturn]] void fail(const RunDb& db, const std::string& what, const char* sql = nullptr) {
  std::string msg = db.path + ": " + what;
  if (db.db) msg += ": " + std::string(sqlite3_errmsg(db.db));
  if (sql) msg += " [statement: " + std::string(sql) + "]";
  throw std::runtime_error(msg);
}

// An error in the data (not from SQLite): names the database and the place.
[[noreturn]] void fail_data(const RunDb& db, const std::string& what) {
  throw std::runtime_error(db.path + ": " + what);
}

// A prepared statement; finalized on scope exit.
struct Stmt {
  RunDb* db = nullptr;
  sqlite3_stmt* st = nullptr;
  const char* sql = nullptr;

  Stmt(RunDb& d, const char* text) : db(&d), sql(text) {
    if (sqlite3_prepare_v2(d.db, text, -1, &st, nullptr) != SQLITE_OK) fail(d, "prepare", text);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(st); }

  void check(int rc, const char* what) {
    if (rc != SQLITE_OK) fail(*db, what, sql);
  }
  void bind(int i, int64_t v) { check(sqlite3_bind_int64(st, i, v), "bind"); }
  void bind(int i, double v) {
    if (std::isnan(v)) {
      check(sqlite3_bind_null(st, i), "bind");
    } else {
      check(sqlite3_bind_double(st, i, v), "bind");
    }
  }
  // TEXT is always well-formed UTF-8 (a completion's exact bytes stay in its token ids): readers
  // such as Python's sqlite3 refuse a whole query over one ill-formed value.
  void bind(int i, const std::string& v) {
    if (!utf8_well_formed(v)) {
      const std::string valid = utf8_replace_invalid(v);
      check(sqlite3_bind_text(st, i, valid.data(), (int)valid.size(), SQLITE_TRANSIENT), "bind");
      return;
    }
    check(sqlite3_bind_text(st, i, v.data(), (int)v.size(), SQLITE_TRANSIENT), "bind");
  }
  void bind(int i, float v) { bind(i, static_cast<double>(v)); }
  template <std::same_as<bool> B>  // a template, so that no pointer converts to bool
  void bind(int i, B v) {
    bind(i, static_cast<int64_t>(v ? 1 : 0));
  }
  // Binds ?1, ?2, ... to `v` in order.
  template <typename... V>
  void bind_all(const V&... v) {
    int i = 1;
    (bind(i++, v), ...);
  }
  void bind_blob(int i, const std::string& bytes) {
    if (bytes.empty()) {
      check(sqlite3_bind_null(st, i), "bind");
    } else {
      check(sqlite3_bind_blob(st, i, bytes.data(), (int)bytes.size(), SQLITE_TRANSIENT), "bind");
    }
  }
  // Runs to completion (statements that return no rows).
  void exec() {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) fail(*db, "execute", sql);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  // true while a row is available.
  bool next() {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(*db, "execute", sql);
    return false;
  }
  int64_t col_int(int i) { return sqlite3_column_int64(st, i); }
  double col_double(int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? kMetricUnset : sqlite3_column_double(st, i);
  }
  std::string col_text(int i) {
    const unsigned char* p = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    return p ? std::string(reinterpret_cast<const char*>(p), (size_t)n) : std::string();
  }
  std::string col_blob(int i) {
    const void* p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    return p ? std::string(static_cast<const char*>(p), (size_t)n) : std::string();
  }
  void col(int i, int64_t& v) { v = col_int(i); }
  void col(int i, bool& v) { v = col_int(i) != 0; }
  void col(int i, double& v) { v = col_double(i); }
  void col(int i, float& v) { v = static_cast<float>(col_double(i)); }
  void col(int i, std::string& v) { v = col_text(i); }
  // Reads the row's columns 0, 1, ... into `v` in order.
  template <typename... V>
  void cols(V&... v) {
    int i = 0;
    (col(i++, v), ...);
  }
};

void exec_sql(RunDb& db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db.db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = db.path + ": " + (err ? err : "error") + " [statement: " + sql + "]";
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (an exception mid-write).
struct Transaction {
  RunDb* db;
  bool done = false;
  explicit Transaction(RunDb& d) : db(&d) { exec_sql(d, "BEGIN IMMEDIATE"); }
  void commit() {
    exec_sql(*db, "COMMIT");
    done = true;
  }
  ~Transaction() {
    if (!done) sqlite3_exec(db->db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
};

std::string now_utc() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Little-endian encoding independent of the host byte order.
template <typename T>
std::string encode_le(const std::vector<T>& v) {
  static_assert(sizeof(T) == 4);
  std::string out(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); i++) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; b++) out[i * 4 + b] = (char)((u >> (8 * b)) & 0xff);
  }
  return out;
}

template <typename T>
std::vector<T> decode_le(const RunDb& db, const std::string& bytes, int64_t sample_id,
                         const char* column) {
  static_assert(sizeof(T) == 4);
  if (bytes.size() % 4 != 0)
    fail_data(db, "sample " + std::to_string(sample_id) + ": column " + column + " has " +
                      std::to_string(bytes.size()) + " bytes, not a multiple of 4");
  std::vector<T> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); i++) {
    uint32_t u = 0;
    for (int b = 0; b < 4; b++) u |= (uint32_t)(unsigned char)bytes[i * 4 + b] << (8 * b);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

nlohmann::json parse_object(const RunDb& db, const std::string& text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail_data(db, where + " is not a JSON object: " + text);
  return j;
}

// The columns read_sample_row reads, from samples_with_prompts.
const char* kSampleColumns =
    "sample_id, run_id, step, weight_version, task, prompt_id, group_id, sample_idx, "
    "prompt, completion, num_tokens, finish_reason, reward, components, correct, "
    "advantage, mean_logp, mean_abs_dlogp, gen_time_s, extracted, reason, response_prefix";
const char* kTokenColumns = ", prompt_ids, completion_ids, rollout_logps";

Sample read_sample_row(RunDb& db, Stmt& s, bool with_tokens) {
  Sample r;
  s.cols(r.sample_id, r.run_id, r.step, r.weight_version, r.task, r.prompt_id, r.group_id,
         r.sample_idx, r.prompt_text, r.completion_text, r.num_tokens, r.finish_reason, r.reward,
         r.components_json, r.correct, r.advantage, r.mean_logp, r.mean_abs_dlogp, r.gen_time_s,
         r.extracted, r.reason, r.response_prefix);
  if (with_tokens) {
    r.prompt = decode_le<int32_t>(db, s.col_blob(22), r.sample_id, "prompt_ids");
    r.completion = decode_le<int32_t>(db, s.col_blob(23), r.sample_id, "completion_ids");
    r.rollout_logp = decode_le<float>(db, s.col_blob(24), r.sample_id, "rollout_logps");
  }
  return r;
}

// WHERE clause of a sample query from constant fragments; the values are bound by bind_query.
std::string query_where(const SampleQuery& q) {
  std::string w = " WHERE 1";
  if (q.run_id != 0) w += " AND run_id = :run_id";
  if (q.step_min) w += " AND step >= :step_min";
  if (q.step_max) w += " AND step <= :step_max";
  if (!q.task.empty()) w += " AND task = :task";
  return w;
}

void bind_query(Stmt& s, const SampleQuery& q) {
  auto idx = [&](const char* name) { return sqlite3_bind_parameter_index(s.st, name); };
  if (q.run_id != 0) s.bind(idx(":run_id"), q.run_id);
  if (q.step_min) s.bind(idx(":step_min"), *q.step_min);
  if (q.step_max) s.bind(idx(":step_max"), *q.step_max);
  if (!q.task.empty()) s.bind(idx(":task"), q.task);
}

}  // namespace

std::span<const StepColumn> rundb_step_columns() {
  return kStepColumns;
}

RunDb::RunDb(RunDb&& other) noexcept
    : db(std::exchange(other.db, nullptr)), path(std::move(other.path)), version(other.version) {}

RunDb& RunDb::operator=(RunDb&& other) noexcept {
  if (this != &other) {
    if (db) sqlite3_close(db);
    db = std::exchange(other.db, nullptr);
    path = std::move(other.path);
    version = other.version;
  }
  return *this;
}

RunDb::~RunDb() {
  if (db) sqlite3_close(db);
}

RunDb rundb_open(const std::string& run_dir, bool create) {
  namespace fs = std::filesystem;
  RunDb db;
  db.path = (fs::path(run_dir) / kRunDbFileName).string();
  if (create) {
    std::error_code ec;
    fs::create_directories(run_dir, ec);
    if (ec) throw std::runtime_error(run_dir + ": cannot create run directory: " + ec.message());
  } else if (!fs::exists(db.path)) {
    throw std::runtime_error(db.path + ": no rollout database (is " + run_dir +
                             " a run directory?)");
  }
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(db.path.c_str(), &db.db, flags, nullptr) != SQLITE_OK) fail(db, "open");
  sqlite3_extended_result_codes(db.db, 1);
  sqlite3_busy_timeout(db.db, 5000);

  int64_t version = 0;
  int64_t num_tables = 0;
  try {
    Stmt s(db, "PRAGMA user_version");
    if (s.next()) version = s.col_int(0);
  } catch (const std::runtime_error&) {
    // The first read of the file: SQLite's own words ("file is not a database") with our
    // statement would read as a bug.
    if ((sqlite3_errcode(db.db) & 0xff) == SQLITE_NOTADB)
      throw std::runtime_error(db.path +
                               ": not a database (SQLite cannot read it; an aha run's "
                               "rollouts.db was expected here, nothing was changed)");
    throw;
  }
  {
    Stmt s(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
    if (s.next()) num_tables = s.col_int(0);
  }
  if (version > kRunDbSchemaVersion)
    throw std::runtime_error(db.path + ": schema version " + std::to_string(version) +
                             " is newer than this aha understands (" +
                             std::to_string(kRunDbSchemaVersion) + "); use a newer aha");
  if (version == 0 && num_tables > 0)
    throw std::runtime_error(db.path + ": not an aha rollout database (user_version 0, " +
                             std::to_string(num_tables) + " foreign tables)");
  if (version != 0 && version != 1 && version != 2 && version != kRunDbSchemaVersion)
    throw std::runtime_error(db.path + ": unknown schema version " + std::to_string(version));
  // Before the WAL switch below, which writes: a reader leaves an empty file as it found it.
  if (version == 0 && !create)
    throw std::runtime_error(db.path + ": empty database, no aha schema");

  // WAL before the first write so the schema itself is written through the WAL.
  {
    Stmt s(db, "PRAGMA journal_mode = WAL");
    std::string mode = s.next() ? s.col_text(0) : "";
    if (mode != "wal") fail_data(db, "cannot enable WAL mode (got '" + mode + "')");
  }
  exec_sql(db, "PRAGMA synchronous = NORMAL");
  exec_sql(db, "PRAGMA foreign_keys = ON");

  if (version == 0) {
    Transaction tx(db);
    const std::string sql = schema_sql();
    exec_sql(db, sql.c_str());
    // PRAGMA takes no bound parameters; the value is a compile-time constant.
    static_assert(kRunDbSchemaVersion == 3);
    exec_sql(db, "PRAGMA user_version = 3");
    tx.commit();
    version = kRunDbSchemaVersion;
  } else if (version < kRunDbSchemaVersion) {
    // An older aha's file: its groups' prompts move to the prompts table (see kMigrateV2Sql).
    Transaction tx(db);
    if (version == 1)
      exec_sql(db, "ALTER TABLE samples ADD COLUMN response_prefix TEXT NOT NULL DEFAULT ''");
    exec_sql(db, kPromptsTableSql);
    exec_sql(db, kMigrateV2Sql);
    exec_sql(db, kSamplesViewSql);
    exec_sql(db, "PRAGMA user_version = 3");
    tx.commit();
    spdlog::info("{}: migrated the run database from schema version {} to 3 (one prompt per group)",
                 db.path, version);
    version = kRunDbSchemaVersion;
  }
  db.version = static_cast<int>(version);
  return db;
}

int64_t rundb_begin_run(RunDb& db, const RunRow& run) {
  Stmt s(db,
         "INSERT INTO runs (start_time, aha_version, git_commit, model, config) "
         "VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind_all(run.start_time.empty() ? now_utc() : run.start_time, run.aha_version, run.git_commit,
             run.model, run.config);
  s.exec();
  return sqlite3_last_insert_rowid(db.db);
}

void rundb_write_step(RunDb& db, const StepRow& step, const std::vector<Sample>& samples) {
  const std::string where = "step " + std::to_string(step.step);
  nlohmann::json metrics = parse_object(db, step.metrics_json, where + ": metrics_json");
  for (const StepColumn& c : kStepColumns) {
    double v = step.*c.field;
    if (!std::isnan(v) && !metrics.contains(c.name)) metrics[c.name] = v;
  }

  // INSERT INTO steps (run_id, step, time, <metric columns>, metrics) VALUES (?, ...).
  static const std::string step_sql = [] {
    std::string cols = "run_id, step, time", vals = "?, ?, ?";
    for (const StepColumn& c : kStepColumns) {
      cols += std::string(", ") + c.name;
      vals += ", ?";
    }
    return "INSERT INTO steps (" + cols + ", metrics) VALUES (" + vals + ", ?)";
  }();

  Transaction tx(db);
  {
    Stmt s(db, step_sql.c_str());
    int i = 1;
    s.bind(i++, step.run_id);
    s.bind(i++, step.step);
    s.bind(i++, step.time.empty() ? now_utc() : step.time);
    for (const StepColumn& c : kStepColumns) s.bind(i++, step.*c.field);
    s.bind(i++, metrics.dump());
    if (sqlite3_step(s.st) != SQLITE_DONE) {
      if (sqlite3_extended_errcode(db.db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        fail(db,
             "run " + std::to_string(step.run_id) + " " + where +
                 " is already logged (a resumed run calls rundb_truncate_after first)",
             s.sql);
      fail(db, "insert " + where, s.sql);
    }
  }
  // One prompts row per group (its first sample's prompt); every sample of it must agree.
  Stmt ps(db,
          "INSERT INTO prompts (run_id, step, group_id, prompt, prompt_ids) "
          "VALUES (?1, ?2, ?3, ?4, ?5)");
  std::map<int64_t, const Sample*> group_prompt;
  Stmt s(db,
         "INSERT INTO samples (run_id, step, weight_version, task, prompt_id, group_id, "
         "sample_idx, completion, num_tokens, finish_reason, reward, components, correct, "
         "advantage, mean_logp, mean_abs_dlogp, gen_time_s, extracted, reason, completion_ids, "
         "rollout_logps, response_prefix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
         "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)");
  for (size_t n = 0; n < samples.size(); n++) {
    const Sample& r = samples[n];
    const std::string swhere = where + " sample " + std::to_string(n) + " (group " +
                               std::to_string(r.group_id) + ", index " +
                               std::to_string(r.sample_idx) + ")";
    parse_object(db, r.components_json, swhere + ": components_json");
    if (!r.rollout_logp.empty() && r.rollout_logp.size() != r.completion.size())
      fail_data(db, swhere + ": " + std::to_string(r.rollout_logp.size()) +
                        " rollout log-probs for " + std::to_string(r.completion.size()) +
                        " completion tokens");
    auto [it, first] = group_prompt.emplace(r.group_id, &r);
    if (first) {
      ps.bind_all(step.run_id, step.step, r.group_id, r.prompt_text);
      if (db.token_blobs) ps.bind_blob(5, encode_le(r.prompt));
      if (sqlite3_step(ps.st) != SQLITE_DONE) fail(db, "insert the prompt of " + swhere, ps.sql);
      sqlite3_reset(ps.st);
      sqlite3_clear_bindings(ps.st);
    } else if (it->second->prompt_text != r.prompt_text || it->second->prompt != r.prompt) {
      fail_data(db, swhere +
                        ": its prompt differs from the group's first sample's (a group "
                        "shares one prompt)");
    }
    s.bind_all(step.run_id, step.step, r.weight_version, r.task, r.prompt_id, r.group_id,
               r.sample_idx, r.completion_text, r.num_tokens, r.finish_reason, r.reward,
               r.components_json, r.correct, r.advantage, r.mean_logp, r.mean_abs_dlogp,
               r.gen_time_s, r.extracted, r.reason);
    if (db.token_blobs) {
      s.bind_blob(20, encode_le(r.completion));
      s.bind_blob(21, encode_le(r.rollout_logp));
    }
    s.bind(22, r.response_prefix);
    if (sqlite3_step(s.st) != SQLITE_DONE) fail(db, "insert " + swhere, s.sql);
    sqlite3_reset(s.st);
    sqlite3_clear_bindings(s.st);
  }
  tx.commit();
}

void rundb_write_evals(RunDb& db, const std::vector<EvalRow>& evals) {
  Transaction tx(db);
  Stmt s(db, "INSERT INTO evals (run_id, step, task, metric, value, k) VALUES (?, ?, ?, ?, ?, ?)");
  for (const EvalRow& e : evals) {
    s.bind_all(e.run_id, e.step, e.task, e.metric, e.value, e.k);
    s.exec();
  }
  tx.commit();
}

void rundb_write_eval(RunDb& db, const EvalRow& eval) {
  rundb_write_evals(db, {eval});
}

void rundb_truncate_after(RunDb& db, int64_t run_id, int64_t last_step) {
  Transaction tx(db);
  for (const char* sql : {"DELETE FROM samples WHERE run_id = ?1 AND step > ?2",
                          "DELETE FROM prompts WHERE run_id = ?1 AND step > ?2",
                          "DELETE FROM steps WHERE run_id = ?1 AND step > ?2",
                          "DELETE FROM evals WHERE run_id = ?1 AND step > ?2"}) {
    Stmt s(db, sql);
    s.bind_all(run_id, last_step);
    s.exec();
  }
  tx.commit();
}

std::vector<RunRow> rundb_read_runs(RunDb& db) {
  Stmt s(db,
         "SELECT run_id, start_time, aha_version, git_commit, model, config FROM runs "
         "ORDER BY run_id");
  std::vector<RunRow> out;
  while (s.next()) {
    RunRow& r = out.emplace_back();
    s.cols(r.run_id, r.start_time, r.aha_version, r.git_commit, r.model, r.config);
  }
  return out;
}

std::vector<StepRow> rundb_read_steps(RunDb& db, int64_t run_id, std::optional<int64_t> step_min,
                                      std::optional<int64_t> step_max) {
  static const std::string sql = [] {
    std::string cols = "run_id, step, time";
    for (const StepColumn& c : kStepColumns) cols += std::string(", ") + c.name;
    return "SELECT " + cols +
           ", metrics FROM steps WHERE (?1 = 0 OR run_id = ?1) AND step >= ?2 AND step <= ?3 "
           "ORDER BY run_id, step";
  }();
  Stmt s(db, sql.c_str());
  s.bind(1, run_id);
  s.bind(2, step_min.value_or(std::numeric_limits<int64_t>::min()));
  s.bind(3, step_max.value_or(std::numeric_limits<int64_t>::max()));
  std::vector<StepRow> out;
  while (s.next()) {
    StepRow r;
    int i = 0;
    r.run_id = s.col_int(i++);
    r.step = s.col_int(i++);
    r.time = s.col_text(i++);
    for (const StepColumn& c : kStepColumns) r.*c.field = s.col_double(i++);
    r.metrics_json = s.col_text(i++);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Sample> rundb_read_samples(RunDb& db, const SampleQuery& q) {
  // Two phases: order and limit the ids only (sorting whole rows with their texts and blobs makes
  // SQLite's sorter spill to disk, 5x slower), then fetch each row by primary key.
  std::string sql = "SELECT sample_id FROM samples" + query_where(q);
  switch (q.order) {
    case SampleOrder::kStep:
      sql += " ORDER BY run_id, step, sample_id";
      break;
    case SampleOrder::kBest:
      sql += " ORDER BY reward DESC, sample_id";
      break;
    case SampleOrder::kWorst:
      sql += " ORDER BY reward ASC, sample_id";
      break;
  }
  if (q.limit > 0) sql += " LIMIT :limit";
  std::vector<int64_t> ids;
  {
    Stmt s(db, sql.c_str());
    bind_query(s, q);
    if (q.limit > 0) s.bind(sqlite3_bind_parameter_index(s.st, ":limit"), q.limit);
    while (s.next()) ids.push_back(s.col_int(0));
  }
  const std::string row_sql = std::string("SELECT ") + kSampleColumns +
                              (q.with_tokens ? kTokenColumns : "") +
                              " FROM samples_with_prompts WHERE sample_id = ?";
  Stmt s(db, row_sql.c_str());
  std::vector<Sample> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    s.bind(1, id);
    if (!s.next()) fail_data(db, "sample " + std::to_string(id) + " vanished while reading");
    out.push_back(read_sample_row(db, s, q.with_tokens));
    sqlite3_reset(s.st);
  }
  return out;
}

int64_t rundb_count_samples(RunDb& db, const SampleQuery& q) {
  std::string sql = "SELECT count(*) FROM samples" + query_where(q);
  Stmt s(db, sql.c_str());
  bind_query(s, q);
  return s.next() ? s.col_int(0) : 0;
}

std::optional<Sample> rundb_read_sample(RunDb& db, int64_t sample_id) {
  std::string sql = std::string("SELECT ") + kSampleColumns + kTokenColumns +
                    " FROM samples_with_prompts WHERE sample_id = ?";
  Stmt s(db, sql.c_str());
  s.bind(1, sample_id);
  if (!s.next()) return std::nullopt;
  return read_sample_row(db, s, true);
}

std::vector<EvalRow> rundb_read_evals(RunDb& db, int64_t run_id) {
  Stmt s(db,
         "SELECT run_id, step, task, metric, value, k FROM evals WHERE (?1 = 0 OR run_id = ?1) "
         "ORDER BY run_id, step, task, metric, k, eval_id");
  s.bind(1, run_id);
  std::vector<EvalRow> out;
  while (s.next()) {
    EvalRow& e = out.emplace_back();
    s.cols(e.run_id, e.step, e.task, e.metric, e.value, e.k);
  }
  return out;
}

std::vector<ComponentMean> rundb_component_means(RunDb& db, int64_t run_id) {
  Stmt s(db,
         "SELECT j.key, s.step, avg(j.value) FROM samples AS s, json_each(s.components) AS j "
         "WHERE (?1 = 0 OR s.run_id = ?1) AND j.type IN ('integer', 'real') "
         "GROUP BY j.key, s.step ORDER BY j.key, s.step");
  s.bind(1, run_id);
  std::vector<ComponentMean> out;
  while (s.next()) out.push_back({s.col_text(0), s.col_int(1), s.col_double(2)});
  return out;
}

}  // namespace aha

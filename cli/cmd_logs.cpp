// `aha logs RUN_DIR runs|steps|samples|show [ID]`: reads RUN_DIR/rollouts.db and prints aligned
// tables (long texts cut with an ellipsis) or, with --json, one JSON object per line.
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/command.h"
#include "rollout/log/report.h"
#include "rollout/log/rundb.h"

namespace {

struct LogsArgs {
  std::string run_dir;
  std::string what;
  int64_t id = -1;
  std::optional<int64_t> step;
  std::string steps;  // "a:b", either side may be empty
  std::string task;
  bool best = false;
  bool worst = false;
  int64_t limit = 20;
  int64_t run_id = 0;
  bool json = false;
  size_t width = 60;
};

// Parses "a:b", "a:" or ":b" into an inclusive range.
void parse_range(const std::string& text, aha::SampleQuery& q) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) throw std::runtime_error("--steps " + text + ": expected a:b");
  // Whole integers only: std::stoll alone took "3x" as 3.
  auto step = [&](const std::string& s, std::optional<int64_t>* out) {
    if (s.empty()) return;
    size_t used = 0;
    try {
      *out = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size()) throw std::runtime_error("--steps " + text + ": expected integers a:b");
  };
  step(text.substr(0, colon), &q.step_min);
  step(text.substr(colon + 1), &q.step_max);
  // A reversed range selects nothing: an empty table would look like a run without those steps.
  if (q.step_min && q.step_max && *q.step_min > *q.step_max)
    throw std::runtime_error("--steps " + text + ": the first step is after the last (a <= b)");
}

void run_logs(const LogsArgs& a) {
  aha::RunDb db = aha::rundb_open(a.run_dir, false);
  std::string out;
  if (a.what == "runs") {
    std::vector<aha::RunRow> runs = aha::rundb_read_runs(db);
    if (a.json) {
      for (const aha::RunRow& r : runs) out += aha::run_json(r) + "\n";
    } else {
      out = aha::table_render(aha::runs_table(db, runs));
    }
  } else if (a.what == "steps") {
    aha::SampleQuery range;
    if (a.step) range.step_min = range.step_max = *a.step;
    if (!a.steps.empty()) parse_range(a.steps, range);
    std::vector<aha::StepRow> steps =
        aha::rundb_read_steps(db, a.run_id, range.step_min, range.step_max);
    if (a.limit > 0 && (int64_t)steps.size() > a.limit) steps.resize((size_t)a.limit);
    if (a.json) {
      for (const aha::StepRow& s : steps) out += aha::step_json(s) + "\n";
    } else {
      out = aha::table_render(aha::steps_table(steps));
    }
  } else if (a.what == "samples") {
    aha::SampleQuery q;
    q.run_id = a.run_id;
    if (a.step) q.step_min = q.step_max = *a.step;
    if (!a.steps.empty()) parse_range(a.steps, q);
    q.task = a.task;
    q.order = a.best ? aha::SampleOrder::kBest
                     : (a.worst ? aha::SampleOrder::kWorst : aha::SampleOrder::kStep);
    q.limit = a.limit;
    std::vector<aha::Sample> samples = aha::rundb_read_samples(db, q);
    if (a.json) {
      for (const aha::Sample& s : samples) out += aha::sample_json(s, false) + "\n";
    } else {
      out = aha::table_render(aha::samples_table(samples, a.width));
      int64_t total = aha::rundb_count_samples(db, q);
      if ((int64_t)samples.size() < total)
        out += "(" + std::to_string(samples.size()) + " of " + std::to_string(total) +
               " samples; --limit 0 shows all)\n";
    }
  } else {  // show
    if (a.id < 0) throw std::runtime_error("aha logs RUN_DIR show ID: missing sample id");
    std::optional<aha::Sample> s = aha::rundb_read_sample(db, a.id);
    if (!s) throw std::runtime_error(db.path + ": no sample with id " + std::to_string(a.id));
    out = a.json ? aha::sample_json(*s, true) + "\n" : aha::sample_show_text(*s);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void add_logs(CLI::App& app) {
  auto a = std::make_shared<LogsArgs>();
  CLI::App* c = app.add_subcommand(
      "logs", "Show the rollout logs of a run: runs, steps, samples, or one sample in full");
  c->add_option("run_dir", a->run_dir, "Run directory holding rollouts.db")->required();
  c->add_option("what", a->what, "runs | steps | samples | show")
      ->required()
      ->check(CLI::IsMember({"runs", "steps", "samples", "show"}));
  c->add_option("id", a->id, "Sample id (for show)");
  auto* step = c->add_option("--step", a->step, "Only this step");
  auto* steps = c->add_option("--steps", a->steps, "Only steps a:b (inclusive; a: or :b open)");
  step->excludes(steps);
  c->add_option("--task", a->task, "Only samples of this task");
  auto* best = c->add_flag("--best", a->best, "Highest reward first");
  auto* worst = c->add_flag("--worst", a->worst, "Lowest reward first");
  best->excludes(worst);
  CLI::Option* limit =
      c->add_option("--limit", a->limit, "At most K rows (samples: default 20; 0 = all)")
          ->check(aha::cli::in_range(0, 1e12));
  c->add_option("--run", a->run_id, "Only this run id (default: all runs)");
  c->add_flag("--json", a->json, "One JSON object per line instead of a table");
  c->add_option("--width", a->width, "Width of the completion column")->check(CLI::Range(8, 10000));
  c->callback([a, limit] {
    LogsArgs args = *a;
    // The default of 20 is for samples; steps are all listed unless --limit is given.
    if (args.what == "steps" && limit->count() == 0) args.limit = 0;
    run_logs(args);
  });
}

}  // namespace

AHA_COMMAND(add_logs);

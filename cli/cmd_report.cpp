// `aha report RUN_DIR [--out FILE] [--steps a,b,c]`: one self-contained HTML file with the run's
// training curves, expert load and the best and worst samples of chosen steps.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "rollout/log/report.h"
#include "rollout/log/rundb.h"

namespace {

struct ReportArgs {
  std::string run_dir;
  std::string out;
  std::vector<int64_t> steps;
  int64_t run_id = 0;
  int64_t num_samples = 3;
};

void add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* c = app.add_subcommand(
      "report", "Write a self-contained HTML report of a run (charts and samples, no network)");
  c->add_option("run_dir", a->run_dir, "Run directory holding rollouts.db")->required();
  c->add_option("--out", a->out, "Output file (default RUN_DIR/report.html)");
  c->add_option("--steps", a->steps, "Steps whose best/worst samples are shown, e.g. 1,50,100")
      ->delimiter(',');
  c->add_option("--run", a->run_id, "Run id (default: the latest run)");
  c->add_option("--samples", a->num_samples, "Best and worst samples per step (default 3)")
      ->check(CLI::Range(1, 1000));
  c->callback([a] {
    aha::RunDb db = aha::rundb_open(a->run_dir, false);
    aha::ReportOptions opt;
    opt.run_id = a->run_id;
    opt.sample_steps = a->steps;
    opt.num_samples = a->num_samples;
    opt.title = a->run_dir;
    std::string out =
        a->out.empty() ? (std::filesystem::path(a->run_dir) / "report.html").string() : a->out;
    aha::report_write(db, opt, out);
    std::printf("wrote %s\n", out.c_str());
  });
}

}  // namespace

AHA_COMMAND(add_report);

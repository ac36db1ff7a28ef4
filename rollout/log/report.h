// Human-readable views of a rollouts.db: terminal tables and JSON lines for `aha logs`, and the
// self-contained HTML report of `aha report`.
//
// Invariants:
// - Table cells are one line: newlines and tabs become spaces, and text longer than its column is
//   cut at a UTF-8 character boundary and ends with an ellipsis. Widths count code points.
// - A metric that was not measured (NaN) prints as "-" in tables and null in JSON.
// - The HTML report needs no network: inline CSS, inline SVG generated here, no JavaScript. Every
//   text from the database is HTML-escaped.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rollout/log/rundb.h"

namespace aha {

// ---- terminal output (`aha logs`) ----

struct TextTable {
  std::vector<std::string> header;
  std::vector<bool> right_align;  // per column; numbers are right-aligned
  std::vector<std::vector<std::string>> rows;
};

// Pads every column to its widest cell; two spaces between columns; a dashed line under the header.
std::string table_render(const TextTable& table);

// Flattens s to one line and cuts it to at most max_chars code points ("…" included).
std::string text_cell(std::string_view s, size_t max_chars);

// "%.4g", or "-" for NaN.
std::string fmt_metric(double v);

TextTable runs_table(RunDb& db, const std::vector<RunRow>& runs);
TextTable steps_table(const std::vector<StepRow>& steps);
TextTable samples_table(const std::vector<Sample>& samples, size_t text_width);

// Every field of one sample, texts in full (for `aha logs RUN_DIR show ID`).
std::string sample_show_text(const Sample& sample);

// One JSON object per row (no newline); tokens only when with_tokens.
std::string run_json(const RunRow& run);
std::string step_json(const StepRow& step);
std::string sample_json(const Sample& sample, bool with_tokens);

// ---- HTML report (`aha report`) ----

std::string html_escape(std::string_view s);

struct ReportOptions {
  int64_t run_id = 0;                 // 0 = the latest run
  std::vector<int64_t> sample_steps;  // steps whose best/worst samples are shown; empty = first,
                                      // middle and last logged step
  int64_t num_samples = 3;            // best and worst samples per chosen step
  std::string title;                  // defaults to the run directory
};

// The whole report as one HTML document.
std::string report_html(RunDb& db, const ReportOptions& options);

// Writes report_html to out_path (temporary file, then rename).
void report_write(RunDb& db, const ReportOptions& options, const std::string& out_path);

}  // namespace aha

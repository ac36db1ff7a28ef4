// Terminal tables, JSON lines and the HTML report of a rollouts.db (see report.h).
#include "rollout/log/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "kernels/user_input.h"

namespace aha {

namespace {

// Length in bytes of the UTF-8 sequence starting with lead byte c (1 for invalid bytes, so a
// malformed text still advances).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;
}

size_t utf8_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += utf8_len((unsigned char)s[i])) n++;
  return n;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string fmt_or_dash(const char* f, double v) {
  return std::isnan(v) ? "-" : fmt(f, v);
}

nlohmann::json parse_or_string(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

}  // namespace

// ---------------------------------------------------------------- terminal output

std::string text_cell(std::string_view s, size_t max_chars) {
  std::string flat;
  flat.reserve(s.size());
  for (char c : s) flat += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (utf8_count(flat) <= max_chars) return flat;
  std::string out;
  size_t i = 0, n = 0;
  while (i < flat.size() && n + 1 < max_chars) {
    size_t len = std::min(utf8_len((unsigned char)flat[i]), flat.size() - i);
    out.append(flat, i, len);
    i += len;
    n++;
  }
  return out + "\xe2\x80\xa6";  // U+2026 HORIZONTAL ELLIPSIS
}

std::string fmt_metric(double v) {
  return fmt_or_dash("%.4g", v);
}

std::string table_render(const TextTable& t) {
  const size_t num_cols = t.header.size();
  std::vector<size_t> width(num_cols, 0);
  for (size_t c = 0; c < num_cols; c++) width[c] = utf8_count(t.header[c]);
  for (const auto& row : t.rows)
    for (size_t c = 0; c < num_cols && c < row.size(); c++)
      width[c] = std::max(width[c], utf8_count(row[c]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < num_cols; c++) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      std::string pad(width[c] - utf8_count(cell), ' ');
      bool right = c < t.right_align.size() && t.right_align[c];
      bool last = c + 1 == num_cols;
      out += right ? pad + cell : (last ? cell : cell + pad);
      if (!last) out += "  ";
    }
    return out + "\n";
  };
  std::string out = line(t.header);
  std::vector<std::string> dashes;
  for (size_t c = 0; c < num_cols; c++) dashes.push_back(std::string(width[c], '-'));
  out += line(dashes);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

TextTable runs_table(RunDb& db, const std::vector<RunRow>& runs) {
  TextTable t;
  t.header = {"run", "started", "version", "commit", "steps", "samples", "model"};
  t.right_align = {true, false, false, false, true, true, false};
  for (const RunRow& r : runs) {
    SampleQuery q;
    q.run_id = r.run_id;
    std::vector<StepRow> steps = rundb_read_steps(db, r.run_id);
    t.rows.push_back({std::to_string(r.run_id), r.start_time, r.aha_version,
                      text_cell(r.git_commit, 12), std::to_string(steps.size()),
                      std::to_string(rundb_count_samples(db, q)), text_cell(r.model, 60)});
  }
  return t;
}

TextTable steps_table(const std::vector<StepRow>& steps) {
  TextTable t;
  t.header = {"run",  "step",    "reward", "acc",   "len", "len_max", "trunc", "kl",    "ent",
              "clip", "zerovar", "dlogp",  "gnorm", "lr",  "tok/s",   "t_gen", "t_rew", "t_train"};
  t.right_align.assign(t.header.size(), true);
  for (const StepRow& s : steps) {
    double clip = s.clip_frac_low + s.clip_frac_high;
    if (std::isnan(s.clip_frac_low)) clip = s.clip_frac_high;
    if (std::isnan(s.clip_frac_high)) clip = s.clip_frac_low;
    t.rows.push_back({std::to_string(s.run_id), std::to_string(s.step),
                      fmt_or_dash("%.3f", s.reward_mean), fmt_or_dash("%.3f", s.accuracy),
                      fmt_or_dash("%.1f", s.len_mean), fmt_or_dash("%.0f", s.len_max),
                      fmt_or_dash("%.3f", s.frac_truncated), fmt_metric(s.kl),
                      fmt_or_dash("%.3f", s.entropy), fmt_metric(clip),
                      fmt_or_dash("%.3f", s.frac_zero_var_groups), fmt_metric(s.dlogp_max),
                      fmt_metric(s.grad_norm), fmt_metric(s.lr),
                      fmt_or_dash("%.0f", s.tokens_per_s), fmt_or_dash("%.2f", s.t_gen),
                      fmt_or_dash("%.2f", s.t_reward), fmt_or_dash("%.2f", s.t_train)});
  }
  return t;
}

TextTable samples_table(const std::vector<Sample>& samples, size_t text_width) {
  TextTable t;
  t.header = {"id", "step", "task",   "group",  "idx",       "reward",
              "ok", "adv",  "tokens", "finish", "completion"};
  t.right_align = {true, true, false, true, true, true, false, true, true, false, false};
  for (const Sample& s : samples) {
    t.rows.push_back({std::to_string(s.sample_id), std::to_string(s.step), text_cell(s.task, 16),
                      std::to_string(s.group_id), std::to_string(s.sample_idx),
                      fmt_or_dash("%.3f", s.reward), s.correct ? "yes" : "no",
                      fmt_or_dash("%+.3f", s.advantage), std::to_string(s.num_tokens),
                      text_cell(s.finish_reason, 8), text_cell(s.completion_text, text_width)});
  }
  return t;
}

std::string sample_show_text(const Sample& s) {
  std::string out;
  auto field = [&](const char* name, const std::string& value) {
    out += name;
    out += std::string(16 - std::min<size_t>(15, std::string(name).size()), ' ');
    out += value + "\n";
  };
  field("sample", std::to_string(s.sample_id));
  field("run", std::to_string(s.run_id));
  field("step", std::to_string(s.step) + " (weights v" + std::to_string(s.weight_version) + ")");
  field("task", s.task);
  field("prompt_id", s.prompt_id);
  field("group", std::to_string(s.group_id) + ", sample " + std::to_string(s.sample_idx));
  field("reward", fmt("%.6g", s.reward));
  field("components", s.components_json);
  field("correct", s.correct ? "yes" : "no");
  field("extracted", s.extracted.empty() ? "-" : s.extracted);
  field("reason", s.reason.empty() ? "-" : s.reason);
  field("advantage", fmt("%.6g", s.advantage));
  field("tokens", std::to_string(s.num_tokens) + " (finish: " + s.finish_reason + ")");
  field("mean_logp", fmt_or_dash("%.6g", s.mean_logp));
  field("mean_abs_dlogp", fmt_or_dash("%.6g", s.mean_abs_dlogp));
  field("gen_time_s", fmt_or_dash("%.3f", s.gen_time_s));
  field("token ids", s.completion.empty()
                         ? "not stored"
                         : std::to_string(s.prompt.size()) + " prompt + " +
                               std::to_string(s.completion.size()) + " completion" +
                               (s.rollout_logp.empty() ? "" : ", with rollout log-probs"));
  out += "\n--- prompt ---\n" + s.prompt_text;
  if (s.prompt_text.empty() || s.prompt_text.back() != '\n') out += "\n";
  // The checkers scored the template's prefix and the completion together; show both.
  if (!s.response_prefix.empty())
    out += "--- response prefix (written by the chat template) ---\n" + s.response_prefix;
  if (!s.response_prefix.empty() && s.response_prefix.back() != '\n') out += "\n";
  out += "--- completion ---\n" + s.completion_text;
  if (s.completion_text.empty() || s.completion_text.back() != '\n') out += "\n";
  return out;
}

// One JSON line; invalid UTF-8 (in a completion, say) is replaced (U+FFFD) instead of aborting
// the listing.
std::string json_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string run_json(const RunRow& r) {
  return json_line({{"run_id", r.run_id},
                    {"start_time", r.start_time},
                    {"aha_version", r.aha_version},
                    {"git_commit", r.git_commit},
                    {"model", r.model},
                    {"config", r.config}});
}

std::string step_json(const StepRow& s) {
  nlohmann::ordered_json j = {{"run_id", s.run_id}, {"step", s.step}, {"time", s.time}};
  for (const StepColumn& c : rundb_step_columns()) j[c.name] = s.*c.field;  // NaN dumps as null
  j["metrics"] = parse_or_string(s.metrics_json);
  return json_line(j);
}

std::string sample_json(const Sample& s, bool with_tokens) {
  nlohmann::ordered_json j = {{"sample_id", s.sample_id},
                              {"run_id", s.run_id},
                              {"step", s.step},
                              {"weight_version", s.weight_version},
                              {"task", s.task},
                              {"prompt_id", s.prompt_id},
                              {"group_id", s.group_id},
                              {"sample_idx", s.sample_idx},
                              {"reward", s.reward},
                              {"components", parse_or_string(s.components_json)},
                              {"correct", s.correct},
                              {"advantage", s.advantage},
                              {"num_tokens", s.num_tokens},
                              {"finish_reason", s.finish_reason},
                              {"mean_logp", s.mean_logp},
                              {"mean_abs_dlogp", s.mean_abs_dlogp},
                              {"gen_time_s", s.gen_time_s},
                              {"extracted", s.extracted},
                              {"reason", s.reason},
                              {"prompt", s.prompt_text},
                              {"response_prefix", s.response_prefix},
                              {"completion", s.completion_text}};
  if (with_tokens) {
    j["prompt_ids"] = s.prompt;
    j["completion_ids"] = s.completion;
    j["rollout_logps"] = s.rollout_logp;
  }
  return json_line(j);
}

// ---------------------------------------------------------------- HTML report

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Series {
  std::string name;
  std::vector<double> x;  // [N] step
  std::vector<double> y;  // [N] value, NaN = gap
};

// Round tick step (1, 2 or 5 times a power of ten) for about `target` intervals over [lo, hi].
double nice_step(double lo, double hi, int target) {
  double rough = (hi - lo) / target;
  double mag = std::pow(10.0, std::floor(std::log10(rough)));
  double norm = rough / mag;
  double step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return step * mag;
}

std::string tick_label(double v, double step) {
  if (std::fabs(v) < step * 1e-6) return "0";
  double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) return fmt("%.1e", v);
  int decimals = std::max(0, (int)-std::floor(std::log10(step) + 1e-9));
  char f[16];
  std::snprintf(f, sizeof f, "%%.%df", std::min(decimals, 6));
  return fmt(f, v);
}

// A line chart of one or more series over steps, as an inline <svg>.
// scatter: points only (x is then not a step), drawn translucent so that overlaps show density.
std::string svg_line_chart(const std::string& title, const std::vector<Series>& series,
                           const std::string& id, bool scatter = false,
                           const std::string& x_label = "step") {
  const double W = 440, H = 260, ml = 58, mr = 14, mt = 44, mb = 34;
  const double pw = W - ml - mr, ph = H - mt - mb;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.y.size(); i++) {
      if (!std::isfinite(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  std::string out = "<figure class=\"chart\" id=\"" + html_escape(id) + "\">";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + fmt("%.0f", W) + " " +
         fmt("%.0f", H) + "\" width=\"" + fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) +
         "\" role=\"img\" aria-label=\"" + html_escape(title) + "\">";
  out += "<text x=\"" + fmt("%.0f", ml) + "\" y=\"18\" class=\"ttl\">" + html_escape(title) +
         "</text>";
  if (!std::isfinite(xlo)) {
    out += "<text x=\"" + fmt("%.0f", W / 2) +
           "\" y=\"130\" text-anchor=\"middle\" class=\"na\">not measured</text></svg></figure>";
    return out;
  }
  if (xhi == xlo) xhi = xlo + 1;
  // A flat (or numerically flat) series gets a band around its value.
  if (yhi - ylo <= 1e-9 * std::max(1.0, std::fabs(ylo))) {
    double pad = ylo == 0 ? 1 : std::fabs(ylo) * 0.1;
    ylo -= pad;
    yhi += pad;
  }
  double ystep = nice_step(ylo, yhi, 5);
  ylo = std::floor(ylo / ystep) * ystep;
  yhi = std::ceil(yhi / ystep) * ystep;
  double xstep = std::max(1.0, nice_step(xlo, xhi, 6));
  auto px = [&](double x) { return ml + (x - xlo) / (xhi - xlo) * pw; };
  auto py = [&](double y) { return mt + (yhi - y) / (yhi - ylo) * ph; };

  // Grid, ticks and labels.
  // Integer tick counters: adding a tiny step to a huge value could otherwise never advance.
  const int num_yticks = std::min(20, (int)std::lround((yhi - ylo) / ystep));
  for (int t = 0; t <= num_yticks; t++) {
    double y = ylo + t * ystep;
    std::string yy = fmt("%.1f", py(y));
    out += "<line x1=\"" + fmt("%.1f", ml) + "\" x2=\"" + fmt("%.1f", ml + pw) + "\" y1=\"" + yy +
           "\" y2=\"" + yy + "\" class=\"grid\"/>";
    out += "<text x=\"" + fmt("%.1f", ml - 6) + "\" y=\"" + yy +
           "\" dy=\"4\" text-anchor=\"end\" class=\"tick\">" + tick_label(y, ystep) + "</text>";
  }
  const double x0 = std::ceil(xlo / xstep) * xstep;
  const int num_xticks = std::min(20, (int)std::floor((xhi - x0) / xstep + 1e-9));
  for (int t = 0; t <= num_xticks; t++) {
    double x = x0 + t * xstep;
    std::string xx = fmt("%.1f", px(x));
    out += "<line x1=\"" + xx + "\" x2=\"" + xx + "\" y1=\"" + fmt("%.1f", mt + ph) + "\" y2=\"" +
           fmt("%.1f", mt + ph + 4) + "\" class=\"axis\"/>";
    out += "<text x=\"" + xx + "\" y=\"" + fmt("%.1f", mt + ph + 17) +
           "\" text-anchor=\"middle\" class=\"tick\">" + tick_label(x, xstep) + "</text>";
  }
  out += "<rect x=\"" + fmt("%.1f", ml) + "\" y=\"" + fmt("%.1f", mt) + "\" width=\"" +
         fmt("%.1f", pw) + "\" height=\"" + fmt("%.1f", ph) + "\" class=\"frame\"/>";
  out += "<text x=\"" + fmt("%.1f", ml + pw / 2) + "\" y=\"" + fmt("%.1f", H - 3) +
         "\" text-anchor=\"middle\" class=\"tick\">" + html_escape(x_label) + "</text>";

  // Lines (broken at gaps) and points when there are few.
  for (size_t si = 0; si < series.size(); si++) {
    const Series& s = series[si];
    const char* color = kPalette[si % (sizeof kPalette / sizeof kPalette[0])];
    std::string pts;
    auto flush = [&] {
      if (!pts.empty())
        out += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
               "\" stroke-width=\"1.8\" points=\"" + pts + "\"/>";
      pts.clear();
    };
    size_t num_finite = 0;
    for (size_t i = 0; i < s.y.size(); i++) {
      if (!std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      num_finite++;
      if (!scatter) pts += fmt("%.1f", px(s.x[i])) + "," + fmt("%.1f", py(s.y[i])) + " ";
    }
    flush();
    if (scatter) {
      for (size_t i = 0; i < s.y.size(); i++)
        if (std::isfinite(s.y[i]))
          out += "<circle cx=\"" + fmt("%.1f", px(s.x[i])) + "\" cy=\"" + fmt("%.1f", py(s.y[i])) +
                 "\" r=\"2.5\" fill=\"" + color + "\" fill-opacity=\"0.35\"/>";
    } else if (num_finite <= 60) {
      for (size_t i = 0; i < s.y.size(); i++)
        if (std::isfinite(s.y[i]))
          out += "<circle cx=\"" + fmt("%.1f", px(s.x[i])) + "\" cy=\"" + fmt("%.1f", py(s.y[i])) +
                 "\" r=\"2.5\" fill=\"" + color + "\"><title>" + html_escape(s.name) + " step " +
                 fmt("%.0f", s.x[i]) + ": " + fmt("%.6g", s.y[i]) + "</title></circle>";
    }
  }
  // Legend in a row under the title when there is more than one series.
  if (series.size() > 1) {
    double lx = ml;
    for (size_t si = 0; si < series.size(); si++) {
      const char* color = kPalette[si % (sizeof kPalette / sizeof kPalette[0])];
      std::string name = text_cell(series[si].name, 18);
      out += "<rect x=\"" + fmt("%.1f", lx) + "\" y=\"" + fmt("%.1f", mt - 13) +
             "\" width=\"12\" height=\"3\" fill=\"" + color + "\"/>";
      out += "<text x=\"" + fmt("%.1f", lx + 15) + "\" y=\"" + fmt("%.1f", mt - 9) +
             "\" class=\"leg\">" + html_escape(name) + "</text>";
      lx += 6.5 * (double)utf8_count(name) + 30;
    }
  }
  out += "</svg></figure>";
  return out;
}

// A heatmap of expert load: rows are MoE layers, columns experts; colour = load / max load.
// vmax is shared by the heatmaps of all steps so that their colours compare.
std::string svg_expert_heatmap(const std::string& title,
                               const std::vector<std::vector<double>>& load, double vmax) {
  size_t L = load.size(), E = 0;
  for (const auto& row : load) E = std::max(E, row.size());
  const double ml = 58, mt = 30, mb = 44;
  const double cw = std::clamp(380.0 / (double)std::max<size_t>(E, 1), 4.0, 26.0);
  const double ch = std::clamp(200.0 / (double)std::max<size_t>(L, 1), 6.0, 22.0);
  const double W = std::max(280.0, ml + cw * (double)E + 14), H = mt + ch * (double)L + mb;
  std::string out =
      "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
      fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" width=\"" + fmt("%.0f", W) + "\" height=\"" +
      fmt("%.0f", H) + "\" role=\"img\" aria-label=\"" + html_escape(title) + "\">";
  out += "<text x=\"" + fmt("%.0f", ml) + "\" y=\"18\" class=\"ttl\">" + html_escape(title) +
         "</text>";
  for (size_t l = 0; l < L; l++) {
    double y = mt + ch * (double)l;
    out += "<text x=\"" + fmt("%.1f", ml - 6) + "\" y=\"" + fmt("%.1f", y + ch / 2 + 4) +
           "\" text-anchor=\"end\" class=\"tick\">L" + std::to_string(l) + "</text>";
    for (size_t e = 0; e < load[l].size(); e++) {
      double v = load[l][e];
      double t = (vmax > 0 && std::isfinite(v)) ? v / vmax : 0;
      // White to dark blue.
      int r = (int)std::lround(255 - t * (255 - 8)), g = (int)std::lround(255 - t * (255 - 48)),
          b = (int)std::lround(255 - t * (255 - 107));
      char color[16];
      std::snprintf(color, sizeof color, "#%02x%02x%02x", r, g, b);
      out += "<rect x=\"" + fmt("%.1f", ml + cw * (double)e) + "\" y=\"" + fmt("%.1f", y) +
             "\" width=\"" + fmt("%.1f", cw - 1) + "\" height=\"" + fmt("%.1f", ch - 1) +
             "\" fill=\"" + color + "\"><title>layer " + std::to_string(l) + " expert " +
             std::to_string(e) + ": " + fmt("%.4g", v) + "</title></rect>";
    }
  }
  double yb = mt + ch * (double)L + 14;
  out += "<text x=\"" + fmt("%.0f", ml) + "\" y=\"" + fmt("%.1f", yb) +
         "\" class=\"tick\">experts 0.." + std::to_string(E == 0 ? 0 : E - 1) + "</text>";
  out += "<text x=\"" + fmt("%.0f", ml) + "\" y=\"" + fmt("%.1f", yb + 14) +
         "\" class=\"tick\">darkest = " + fmt("%.3g", vmax) +
         ", uniform = " + fmt("%.3g", E == 0 ? 0.0 : 1.0 / (double)E) + "</text>";
  out += "</svg></figure>";
  return out;
}

// expert_load as [[...] per layer] from a metrics JSON; empty when absent or malformed.
std::vector<std::vector<double>> expert_load_of(const std::string& metrics_json) {
  std::vector<std::vector<double>> out;
  nlohmann::json m = nlohmann::json::parse(metrics_json, nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.contains("expert_load")) return out;
  const nlohmann::json& el = m["expert_load"];
  if (!el.is_array()) return out;
  for (const auto& layer : el) {
    if (!layer.is_array()) return {};
    std::vector<double> row;
    for (const auto& v : layer) row.push_back(v.is_number() ? v.get<double>() : NAN);
    out.push_back(std::move(row));
  }
  return out;
}

const char* kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
  max-width:1440px;padding:0 16px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;
  padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.grid{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure.chart{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:4px}
svg text{font:11px system-ui,sans-serif;fill:#444}svg text.ttl{font-size:13px;font-weight:600;fill:#222}
svg text.na{font-size:13px;fill:#999}svg line.grid{stroke:#eee}svg line.axis{stroke:#888}
svg rect.frame{fill:none;stroke:#bbb}svg text.leg{font-size:11px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e3e3e3;padding:3px 8px;
  text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta td:first-child{color:#666}
.samples{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.sample{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 10px;min-width:0;
  margin:6px 0}
.sample.good{border-left:4px solid #2ca02c}.sample.bad{border-left:4px solid #d62728}
.sample .hdr{font-size:12px;color:#555;margin-bottom:4px}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f4f4;padding:6px 8px;margin:4px 0;
  border-radius:4px;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;max-height:360px;overflow:auto}
details>summary{cursor:pointer;color:#555}.muted{color:#888}
)";

std::string sample_card(const Sample& s, bool good) {
  std::string out = std::string("<div class=\"sample ") + (good ? "good" : "bad") + "\">";
  out += "<div class=\"hdr\">#" + std::to_string(s.sample_id) + " &middot; " + html_escape(s.task) +
         " &middot; prompt " + html_escape(s.prompt_id) + " &middot; group " +
         std::to_string(s.group_id) + "/" + std::to_string(s.sample_idx) + " &middot; reward <b>" +
         html_escape(fmt("%.4g", s.reward)) + "</b> &middot; " +
         (s.correct ? "correct" : "incorrect") + " &middot; adv " +
         html_escape(fmt("%+.3f", s.advantage)) + " &middot; " + std::to_string(s.num_tokens) +
         " tokens (" + html_escape(s.finish_reason) + ")</div>";
  out += "<div class=\"hdr\">components " + html_escape(s.components_json);
  if (!s.extracted.empty())
    out += " &middot; extracted <code>" + html_escape(s.extracted) + "</code>";
  if (!s.reason.empty()) out += " &middot; " + html_escape(s.reason);
  out += "</div>";
  out +=
      "<details><summary>prompt</summary><pre>" + html_escape(s.prompt_text) + "</pre></details>";
  out += "<pre>";
  if (!s.response_prefix.empty())
    out += "<span class=\"muted\">" + html_escape(s.response_prefix) + "</span>";
  out += html_escape(s.completion_text) + "</pre></div>";
  return out;
}

}  // namespace

std::string report_html(RunDb& db, const ReportOptions& opt) {
  std::vector<RunRow> runs = rundb_read_runs(db);
  const RunRow* run = nullptr;
  for (const RunRow& r : runs)
    if (opt.run_id == 0 || r.run_id == opt.run_id) run = &r;  // latest matching
  if (!run && opt.run_id != 0)
    throw std::runtime_error(db.path + ": no run " + std::to_string(opt.run_id));

  std::string title = opt.title.empty() ? db.path : opt.title;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>aha report: " +
      html_escape(title) + "</title><style>" + kCss + "</style></head><body>\n";
  out += "<h1>aha run report</h1><div class=\"muted\">" + html_escape(title) + "</div>\n";
  if (!run) return out + "<p>No runs logged in this database.</p></body></html>\n";

  const int64_t run_id = run->run_id;
  std::vector<StepRow> steps = rundb_read_steps(db, run_id);
  SampleQuery all;
  all.run_id = run_id;
  const int64_t num_samples = rundb_count_samples(db, all);

  // Run summary.
  out += "<h2>Run</h2><div class=\"grid\"><div><table class=\"meta\">";
  auto meta = [&](const std::string& k, const std::string& v) {
    out += "<tr><td>" + html_escape(k) + "</td><td>" + html_escape(v) + "</td></tr>";
  };
  meta("run id", std::to_string(run_id) + " (of " + std::to_string(runs.size()) + " in this db)");
  meta("started", run->start_time);
  meta("aha version", run->aha_version);
  meta("git commit", run->git_commit.empty() ? "unknown" : run->git_commit);
  meta("model", run->model);
  meta("steps logged", steps.empty() ? "0"
                                     : std::to_string(steps.size()) + " (" +
                                           std::to_string(steps.front().step) + ".." +
                                           std::to_string(steps.back().step) + ")");
  meta("samples logged", std::to_string(num_samples));
  out += "</table>";
  if (!run->config.empty())
    out += "<details><summary>resolved config</summary><pre>" + html_escape(run->config) +
           "</pre></details>";
  out += "</div>";

  // First vs last step, beside the run summary.
  if (!steps.empty()) {
    out += "<div><table><tr><th>metric</th><th>first: step " + std::to_string(steps.front().step) +
           "</th><th>last: step " + std::to_string(steps.back().step) + "</th></tr>";
    for (const StepColumn& c : rundb_step_columns()) {
      double a = steps.front().*c.field, b = steps.back().*c.field;
      if (std::isnan(a) && std::isnan(b)) continue;
      out += "<tr><td>" + std::string(c.name) + "</td><td class=\"num\">" + fmt_metric(a) +
             "</td><td class=\"num\">" + fmt_metric(b) + "</td></tr>";
    }
    out += "</table></div>";
  }
  out += "</div>\n";

  // Charts per step.
  auto col = [&](const char* name, double StepRow::*field) {
    Series s{name, {}, {}};
    for (const StepRow& r : steps) {
      s.x.push_back((double)r.step);
      s.y.push_back(r.*field);
    }
    return s;
  };
  // Reward mean plus one line per component (from metrics JSON "reward_components", else from
  // the samples' components).
  std::vector<Series> reward = {col("mean", &StepRow::reward_mean)};
  {
    std::map<std::string, Series> comps;
    for (size_t i = 0; i < steps.size(); i++) {
      nlohmann::json m = nlohmann::json::parse(steps[i].metrics_json, nullptr, false);
      if (m.is_discarded() || !m.is_object() || !m.contains("reward_components") ||
          !m["reward_components"].is_object())
        continue;
      for (const auto& [k, v] : m["reward_components"].items()) {
        if (!v.is_number()) continue;
        Series& s = comps[k];
        s.name = k;
        s.x.push_back((double)steps[i].step);
        s.y.push_back(v.get<double>());
      }
    }
    if (comps.empty()) {
      for (const ComponentMean& c : rundb_component_means(db, run_id)) {
        Series& s = comps[c.component];
        s.name = c.component;
        s.x.push_back((double)c.step);
        s.y.push_back(c.mean);
      }
    }
    for (auto& [k, s] : comps) reward.push_back(std::move(s));
  }
  out += "<h2>Training curves</h2><div class=\"grid\">";
  out += svg_line_chart("Reward (mean and per component)", reward, "chart-reward");
  out += svg_line_chart("Accuracy", {col("accuracy", &StepRow::accuracy)}, "chart-accuracy");
  out += svg_line_chart("Response length (tokens)",
                        {col("mean", &StepRow::len_mean), col("max", &StepRow::len_max)},
                        "chart-length");
  out += svg_line_chart("Fraction truncated", {col("truncated", &StepRow::frac_truncated)},
                        "chart-truncated");
  out += svg_line_chart("KL to reference", {col("kl", &StepRow::kl)}, "chart-kl");
  out += svg_line_chart("Entropy", {col("entropy", &StepRow::entropy)}, "chart-entropy");
  out += svg_line_chart(
      "Clip fraction", {col("low", &StepRow::clip_frac_low), col("high", &StepRow::clip_frac_high)},
      "chart-clip");
  out += svg_line_chart(
      "Advantage", {col("mean", &StepRow::adv_mean), col("std", &StepRow::adv_std)}, "chart-adv");
  out += svg_line_chart("Groups with zero reward variance",
                        {col("fraction", &StepRow::frac_zero_var_groups)}, "chart-zerovar");
  out += svg_line_chart("|learner - rollout| log-prob",
                        {col("max", &StepRow::dlogp_max), col("mean", &StepRow::dlogp_mean)},
                        "chart-dlogp");
  out += svg_line_chart("Gradient norm", {col("grad_norm", &StepRow::grad_norm)}, "chart-gnorm");
  out += svg_line_chart("Learning rate", {col("lr", &StepRow::lr)}, "chart-lr");
  out +=
      svg_line_chart("Tokens per second", {col("tokens/s", &StepRow::tokens_per_s)}, "chart-tps");
  out += svg_line_chart("Time per step (s)",
                        {col("gen", &StepRow::t_gen), col("reward", &StepRow::t_reward),
                         col("train", &StepRow::t_train), col("sync", &StepRow::t_sync)},
                        "chart-time");
  out += "</div>\n";

  // Evals: one chart per (task, metric, k).
  std::vector<EvalRow> evals = rundb_read_evals(db, run_id);
  if (!evals.empty()) {
    std::map<std::string, Series> by_key;
    for (const EvalRow& e : evals) {
      std::string key =
          e.task + " " + e.metric + (e.k > 1 ? " (k=" + std::to_string(e.k) + ")" : "");
      Series& s = by_key[key];
      s.name = key;
      s.x.push_back((double)e.step);
      s.y.push_back(e.value);
    }
    out += "<h2>Evaluations</h2><div class=\"grid\">";
    size_t n = 0;
    for (auto& [k, s] : by_key) out += svg_line_chart(k, {s}, "chart-eval-" + std::to_string(n++));
    out += "</div>\n";
  }

  // Steps chosen for heatmaps and samples.
  std::vector<int64_t> chosen = opt.sample_steps;
  if (chosen.empty() && !steps.empty()) {
    std::set<int64_t> pick = {steps.front().step, steps[steps.size() / 2].step, steps.back().step};
    chosen.assign(pick.begin(), pick.end());
  }

  // Expert load.
  {
    std::vector<Series> imbalance;  // per layer: max load / uniform load
    std::vector<std::pair<int64_t, std::vector<std::vector<double>>>> chosen_loads;
    double vmax = 0;
    for (const StepRow& r : steps) {
      std::vector<std::vector<double>> load = expert_load_of(r.metrics_json);
      for (size_t l = 0; l < load.size(); l++) {
        if (imbalance.size() <= l) imbalance.push_back({"L" + std::to_string(l), {}, {}});
        double mx = 0, sum = 0;
        for (double v : load[l]) {
          mx = std::max(mx, v);
          sum += v;
        }
        imbalance[l].x.push_back((double)r.step);
        imbalance[l].y.push_back(sum > 0 ? mx / (sum / (double)load[l].size()) : NAN);
      }
      if (std::find(chosen.begin(), chosen.end(), r.step) != chosen.end() && !load.empty()) {
        for (const auto& row : load)
          for (double v : row)
            if (std::isfinite(v)) vmax = std::max(vmax, v);
        chosen_loads.emplace_back(r.step, std::move(load));
      }
    }
    std::string heatmaps;
    for (const auto& [step, load] : chosen_loads)
      heatmaps += svg_expert_heatmap("Expert load, step " + std::to_string(step), load, vmax);
    out += "<h2>Expert load per layer</h2>";
    if (imbalance.empty()) {
      out += "<p class=\"muted\">No \"expert_load\" in the step metrics.</p>";
    } else {
      out += "<div class=\"grid\">" +
             svg_line_chart("Max expert load / uniform, per layer", imbalance, "chart-imbalance") +
             heatmaps + "</div>";
    }
  }

  // Length against reward of every sample of the chosen steps.
  {
    std::vector<Series> points;
    for (int64_t step : chosen) {
      SampleQuery q;
      q.run_id = run_id;
      q.step_min = q.step_max = step;
      q.limit = 4096;  // enough to see the shape, bounded file size
      Series s{"step " + std::to_string(step), {}, {}};
      for (const Sample& r : rundb_read_samples(db, q)) {
        s.x.push_back((double)r.num_tokens);
        s.y.push_back(r.reward);
      }
      if (!s.x.empty()) points.push_back(std::move(s));
    }
    if (!points.empty())
      out += "<h2>Response length vs reward</h2><div class=\"grid\">" +
             svg_line_chart("Reward against completion tokens", points, "chart-len-reward", true,
                            "completion tokens") +
             "</div>\n";
  }

  // R1-style runs: how often the completion writes something inside its think block, per step,
  // and the first step's completions beside the last step's (shown when any has a </think>).
  if (!steps.empty()) {
    std::map<int64_t, std::pair<int64_t, int64_t>> thinking;  // step -> (non-empty, all)
    bool any_think = false;
    SampleQuery q;
    q.run_id = run_id;
    for (const Sample& r : rundb_read_samples(db, q)) {
      const std::string text = r.response_prefix + r.completion_text;
      const size_t close = text.find("</think>");
      any_think |= close != std::string::npos;
      size_t open = text.find("<think>");
      open = open == std::string::npos || open > close ? 0 : open + 7;
      bool reasons = false;
      for (size_t i = open; close != std::string::npos && i < close; i++)
        reasons |= !std::isspace(static_cast<unsigned char>(text[i]));
      auto& [n_reason, n_all] = thinking[r.step];
      n_reason += reasons;
      n_all++;
    }
    if (any_think) {
      Series share{"share", {}, {}};
      for (const auto& [step, c] : thinking) {
        share.x.push_back((double)step);
        share.y.push_back((double)c.first / (double)c.second);
      }
      out += "<h2>Reasoning</h2><div class=\"grid\">" +
             svg_line_chart("Completions with text inside <think></think>", {share},
                            "chart-thinking") +
             svg_line_chart("Response length (tokens)", {col("mean", &StepRow::len_mean)},
                            "chart-thinking-len") +
             "</div>";
      out += "<div class=\"samples\">";
      for (int64_t step : {steps.front().step, steps.back().step}) {
        SampleQuery sq;
        sq.run_id = run_id;
        sq.step_min = sq.step_max = step;
        sq.limit = 2 * opt.num_samples;
        out += "<div><b>step " + std::to_string(step) + "</b>";
        for (const Sample& r : rundb_read_samples(db, sq)) out += sample_card(r, r.correct);
        out += "</div>";
      }
      out += "</div>\n";
    }
  }

  // Best and worst samples of the chosen steps.
  out += "<h2>Samples</h2>";
  for (int64_t step : chosen) {
    SampleQuery q;
    q.run_id = run_id;
    q.step_min = q.step_max = step;
    int64_t count = rundb_count_samples(db, q);
    out += "<h3>Step " + std::to_string(step) + " <span class=\"muted\">(" + std::to_string(count) +
           " samples)</span></h3>";
    if (count == 0) {
      out += "<p class=\"muted\">No samples logged for this step.</p>";
      continue;
    }
    q.limit = opt.num_samples;
    q.order = SampleOrder::kBest;
    std::vector<Sample> best = rundb_read_samples(db, q);
    q.order = SampleOrder::kWorst;
    std::vector<Sample> worst = rundb_read_samples(db, q);
    out += "<div class=\"samples\"><div><b>best</b>";
    for (const Sample& s : best) out += sample_card(s, true);
    out += "</div><div><b>worst</b>";
    for (const Sample& s : worst) out += sample_card(s, false);
    out += "</div></div>\n";
  }
  out += "</body></html>\n";
  return out;
}

void report_write(RunDb& db, const ReportOptions& options, const std::string& out_path) {
  std::string html = report_html(db, options);
  OutputFile f(out_path, "--out");  // a directory is refused; a failure leaves no temporary
  f.stream() << html;
  f.commit();
}

}  // namespace aha

// Checker registry, checker options and reward composition.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "kernels/near_name.h"
#include "reward/reward.h"

namespace aha {

namespace {
struct Registered {
  CheckerFn fn = nullptr;
  std::vector<std::string> options;  // the option names the checker reads
};

// Registration happens during static initialisation (single-threaded); lookups afterwards only
// read.
std::map<std::string, Registered>& registry() {
  static std::map<std::string, Registered> fns;
  return fns;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The entry of a checker; throws "[<where>: ]unknown checker 'X'; did you mean ...".
const Registered& entry(const std::string& name, const std::string& where) {
  auto it = registry().find(name);
  if (it != registry().end()) return it->second;
  const std::vector<std::string> known = checker_names();
  const std::string near = nearest_name(name, known);
  throw std::invalid_argument((where.empty() ? "" : where + ": ") + "unknown checker '" + name +
                              "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
                              " (known: " + joined(known) + ")");
}

void check_names(const std::string& checker, const Registered& r, const CheckerOptions& options,
                 const std::string& where) {
  if (options.values.is_null()) return;
  const std::string at = where.empty() ? "" : where + ": ";
  if (!options.values.is_object())
    throw std::invalid_argument(at + "options of checker '" + checker + "' must be a table");
  for (const auto& [key, value] : options.values.items()) {
    if (std::find(r.options.begin(), r.options.end(), key) != r.options.end()) continue;
    if (r.options.empty())
      throw std::invalid_argument(at + "checker '" + checker + "' takes no options, got '" + key +
                                  "' (a checker lists the options it reads in its AHA_CHECKER "
                                  "line)");
    const std::string near = nearest_name(key, r.options);
    throw std::invalid_argument(at + "checker '" + checker + "' has no option '" + key + "'" +
                                (near.empty() ? "" : "; did you mean '" + near + "'?") +
                                " (its options: " + joined(r.options) + ")");
  }
}
}  // namespace

int register_checker(const char* name, CheckerFn fn,
                     std::initializer_list<const char*> option_names) {
  Registered& r = registry()[name];
  r.fn = fn;
  r.options.assign(option_names.begin(), option_names.end());
  return 0;
}

CheckerFn find_checker(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.fn;
}

std::vector<std::string> checker_names() {
  std::vector<std::string> names;
  for (const auto& [name, r] : registry()) names.push_back(name);
  return names;
}

const std::vector<std::string>& checker_option_names(const std::string& name) {
  return entry(name, "").options;
}

void check_option_names(const std::string& checker, const CheckerOptions& options,
                        const std::string& where) {
  check_names(checker, entry(checker, where), options, where);
}

RewardResult run_checker(const std::string& name, const std::string& completion,
                         const nlohmann::json& reference, const CheckerOptions& options) {
  const Registered& r = entry(name, "");
  // A few string compares per call: options built in code are held to the same names as a file's.
  check_names(name, r, options, "");
  return r.fn(completion, reference, options);
}

std::string CheckerOptions::get_string(const std::string& key, const std::string& dflt) const {
  if (!values.contains(key)) return dflt;
  const auto& v = values.at(key);
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

double CheckerOptions::get_double(const std::string& key, double dflt) const {
  if (!values.contains(key)) return dflt;
  const auto& v = values.at(key);
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (const std::exception&) {
    }
  }
  throw std::invalid_argument("option '" + key + "' must be a number, got " + v.dump());
}

int64_t CheckerOptions::get_int(const std::string& key, int64_t dflt) const {
  double d = get_double(key, static_cast<double>(dflt));
  if (!(d > -9.2e18 && d < 9.2e18) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw std::invalid_argument("option '" + key + "' must be an integer");
  return static_cast<int64_t>(d);
}

bool CheckerOptions::get_bool(const std::string& key, bool dflt) const {
  if (!values.contains(key)) return dflt;
  const auto& v = values.at(key);
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s == "true" || s == "1" || s == "yes") return true;
    if (s == "false" || s == "0" || s == "no") return false;
  }
  throw std::invalid_argument("option '" + key + "' must be true or false, got " + v.dump());
}

void CheckerOptions::set_from_text(const std::string& key, const std::string& text) {
  if (text == "true" || text == "false") {
    values[key] = (text == "true");
    return;
  }
  try {
    size_t used = 0;
    double d = std::stod(text, &used);
    if (used == text.size() && !text.empty()) {
      if (d > -9.2e18 && d < 9.2e18 && d == static_cast<double>(static_cast<int64_t>(d)) &&
          text.find('.') == std::string::npos)
        values[key] = static_cast<int64_t>(d);
      else
        values[key] = d;
      return;
    }
  } catch (const std::exception&) {
  }
  values[key] = text;
}

RewardResult compose_reward(const std::vector<RewardComponent>& spec, const std::string& completion,
                            const nlohmann::json& reference) {
  RewardResult out;
  for (size_t i = 0; i < spec.size(); i++) {
    const RewardComponent& c = spec[i];
    RewardResult r = run_checker(c.checker, completion, reference, c.options);
    out.score += c.weight * r.score;
    out.components.emplace_back(c.name, r.score);
    for (const auto& [part, value] : r.components)
      if (part != c.name) out.components.emplace_back(c.name + "." + part, value);
    if (i == 0) out.extracted = r.extracted;
    if (!r.reason.empty())
      out.reason += (out.reason.empty() ? "" : "; ") + c.name + ": " + r.reason;
  }
  return out;
}

// Built-ins are registered here (not in their own files) so that a static link keeps them even when
// nothing else names them.
// Each lists the options its file reads (reward/README.md's table; test_reward_checkers scans the
// files so the lists cannot miss one).
AHA_CHECKER("math", check_math, "extract", "rel_tol", "symbolic", "symbolic_timeout_s",
            "answer_field");
AHA_CHECKER("format", check_format, "think_pattern", "answer_pattern", "partial_credit",
            "single_think");
AHA_CHECKER("countdown", check_countdown, "exactly_once");
AHA_CHECKER("code", check_code, "mode", "language", "timeout_s", "row_timeout_s", "cpu_s",
            "memory_mb", "nproc", "nofile", "file_mb", "tmp_mb", "output_kb", "extract_code",
            "python", "compile_timeout_s", "compile_memory_mb");

}  // namespace aha

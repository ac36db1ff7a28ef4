// Checker registry, checker options and reward composition.
#include <map>
#include <mutex>
#include <stdexcept>

#include "reward/reward.h"

namespace aha {

namespace {
// Registration happens during static initialisation (single-threaded); lookups afterwards only
// read.
std::map<std::string, CheckerFn>& registry() {
  static std::map<std::string, CheckerFn> fns;
  return fns;
}
}  // namespace

int register_checker(const char* name, CheckerFn fn) {
  registry()[name] = fn;
  return 0;
}

CheckerFn find_checker(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> checker_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

RewardResult run_checker(const std::string& name, const std::string& completion,
                         const nlohmann::json& reference, const CheckerOptions& options) {
  CheckerFn fn = find_checker(name);
  if (!fn) {
    std::string known;
    for (const auto& n : checker_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown checker '" + name + "' (known: " + known + ")");
  }
  return fn(completion, reference, options);
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
AHA_CHECKER("math", check_math);
AHA_CHECKER("format", check_format);
AHA_CHECKER("countdown", check_countdown);
AHA_CHECKER("code", check_code);

}  // namespace aha

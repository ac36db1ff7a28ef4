// Task specs from TOML, data loading with field mapping, splits, prompts and scoring.
#include "tasks/task.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>

#include "kernels/json_depth.h"
#include "kernels/near_name.h"
#include "kernels/rng.h"
#include "kernels/user_input.h"

namespace aha {

extern const char* const kBuiltinTasksToml;

namespace {

nlohmann::json toml_to_json(const toml::node& n) {
  if (auto t = n.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto&& [k, v] : *t) j[std::string(k.str())] = toml_to_json(v);
    return j;
  }
  if (auto a = n.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (auto&& v : *a) j.push_back(toml_to_json(v));
    return j;
  }
  if (auto v = n.as_string()) return v->get();
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  return nullptr;  // dates and times: not used by tasks
}

// ${VAR} from the environment; ${AHA_DATA_DIR} from data_dir when given, else the environment,
// else "data". *used_data_dir records what AHA_DATA_DIR expanded to.
std::string expand_path(const std::string& p, const std::string& base_dir,
                        const std::string& data_dir, std::string* used_data_dir) {
  std::string out;
  for (size_t i = 0; i < p.size(); i++) {
    if (p[i] == '$' && i + 1 < p.size() && p[i + 1] == '{') {
      size_t e = p.find('}', i);
      if (e == std::string::npos) throw std::invalid_argument("unclosed ${ in path '" + p + "'");
      std::string var = p.substr(i + 2, e - i - 2);
      const char* v = std::getenv(var.c_str());
      if (var == "AHA_DATA_DIR") {
        std::string val = !data_dir.empty() ? data_dir : (v ? v : "data");
        *used_data_dir = val;
        out += val;
      } else {
        if (!v)
          throw std::invalid_argument("environment variable " + var + " is not set (in '" + p +
                                      "')");
        out += v;
      }
      i = e;
    } else {
      out += p[i];
    }
  }
  if (!out.empty() && out[0] != '/' && !base_dir.empty()) out = base_dir + "/" + out;
  return out;
}

std::string where(const std::string& source, const std::string& task) {
  return source + ": task '" + task + "'";
}

std::string get_str(const nlohmann::json& t, const char* key, const std::string& ctx,
                    const std::string& dflt = "") {
  if (!t.contains(key)) return dflt;
  if (!t.at(key).is_string()) throw std::invalid_argument(ctx + ": '" + key + "' must be a string");
  return t.at(key).get<std::string>();
}

// An integer of a task table in [lo, hi]: get<int64_t>() names no key on a wrong type and casts
// an out-of-range float (1e30) with undefined behaviour.
int64_t get_int(const nlohmann::json& t, const char* key, const std::string& ctx, int64_t lo,
                int64_t hi) {
  const nlohmann::json& v = t.at(key);
  if (!v.is_number_integer())
    throw std::invalid_argument(ctx + ": '" + key + "' must be an integer, not " + v.dump());
  if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(hi)
                             : (v.get<int64_t>() < lo || v.get<int64_t>() > hi))
    throw std::invalid_argument(ctx + ": '" + key + "' = " + v.dump() + " is outside [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v.get<int64_t>();
}

// A number of a task table in [lo, hi] (integers too), checked like get_int.
double get_number(const nlohmann::json& t, const char* key, const std::string& ctx, double lo,
                  double hi) {
  const nlohmann::json& v = t.at(key);
  if (!v.is_number())
    throw std::invalid_argument(ctx + ": '" + key + "' must be a number, not " + v.dump());
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi))
    throw std::invalid_argument(ctx + ": '" + key + "' = " + v.dump() + " is outside [" +
                                nlohmann::json(lo).dump() + ", " + nlohmann::json(hi).dump() + "]");
  return d;
}

// A misspelt key would silently fall back to a default: refuse it, listing the known ones.
void only_keys(const nlohmann::json& t, std::initializer_list<const char*> known,
               const std::string& ctx) {
  if (!t.is_object()) throw std::invalid_argument(ctx + ": must be a table");
  for (auto& [k, v] : t.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (ok) continue;
    std::string list;
    for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
    const std::string near = nearest_name(k, std::vector<std::string>(known.begin(), known.end()));
    throw std::invalid_argument(ctx + ": unknown key '" + k + "'" +
                                (near.empty() ? "" : "; did you mean '" + near + "'?") +
                                " (known: " + list + ")");
  }
}

void id_range(const nlohmann::json& split, const char* key, const std::string& ctx, int64_t* lo,
              int64_t* hi) {
  if (!split.contains(key)) return;
  const auto& r = split.at(key);
  if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer())
    throw std::invalid_argument(ctx + ": split." + key + " must be [first, last]");
  *lo = r[0].get<int64_t>();
  *hi = r[1].get<int64_t>();
}

TaskSpec spec_from_json(const std::string& name, const nlohmann::json& t,
                        const nlohmann::json& templates, const std::string& source,
                        const std::string& base_dir, const std::string& data_dir) {
  std::string ctx = where(source, name);
  if (!t.is_object()) throw std::invalid_argument(ctx + ": must be a table");
  only_keys(t,
            {"description", "data", "generator", "train_count", "eval_count", "seed", "split",
             "template", "chat_prompt", "reward"},
            ctx);
  if (t.contains("data"))
    only_keys(t.at("data"), {"train", "eval", "fields", "id_field"}, ctx + " data");
  if (t.contains("split"))
    only_keys(t.at("split"), {"eval_fraction", "eval_ids", "train_ids"}, ctx + " split");
  TaskSpec s;
  s.name = name;
  s.description = get_str(t, "description", ctx);
  if (t.contains("data")) {
    const auto& d = t.at("data");
    s.train_path = get_str(d, "train", ctx + " data");
    s.eval_path = get_str(d, "eval", ctx + " data");
    if (!s.train_path.empty())
      s.train_path = expand_path(s.train_path, base_dir, data_dir, &s.data_dir);
    if (!s.eval_path.empty())
      s.eval_path = expand_path(s.eval_path, base_dir, data_dir, &s.data_dir);
    s.id_field = get_str(d, "id_field", ctx + " data");
    if (d.contains("fields")) {
      if (!d.at("fields").is_object())
        throw std::invalid_argument(ctx + ": data.fields must be a table");
      for (auto& [k, v] : d.at("fields").items()) {
        std::vector<std::string> names;
        if (v.is_string()) names.push_back(v.get<std::string>());
        if (v.is_array())
          for (const auto& e : v)
            if (e.is_string()) names.push_back(e.get<std::string>());
        if (names.empty() || (v.is_array() && names.size() != v.size()))
          throw std::invalid_argument(ctx + ": data.fields." + k +
                                      " must be a field name or a list of them");
        s.fields.emplace_back(k, names);
      }
    }
  }
  if (t.contains("generator")) {
    const auto& g = t.at("generator");
    if (!g.is_object() || !g.contains("name"))
      throw std::invalid_argument(ctx + ": generator needs a name");
    s.generator = get_str(g, "name", ctx + " generator");
    if (s.generator != "countdown" && s.generator != "arith" && s.generator != "mod10_chain")
      throw std::invalid_argument(ctx + ": unknown generator '" + s.generator +
                                  "' (countdown, arith, mod10_chain)");
    s.generator_options = g;
  }
  if (s.generator.empty() && s.train_path.empty() && s.eval_path.empty())
    throw std::invalid_argument(ctx + ": needs data.train / data.eval or a generator");
  // Generated rows are held in memory: ten million is far above any run and bounds a typo.
  constexpr int64_t kMaxRows = 10'000'000;
  if (t.contains("train_count")) s.train_count = get_int(t, "train_count", ctx, 0, kMaxRows);
  if (t.contains("eval_count")) s.eval_count = get_int(t, "eval_count", ctx, 0, kMaxRows);
  if (t.contains("seed")) s.seed = static_cast<uint64_t>(get_int(t, "seed", ctx, 0, INT64_MAX));
  if (t.contains("split")) {
    const auto& sp = t.at("split");
    if (sp.contains("eval_fraction"))
      s.eval_fraction = get_number(sp, "eval_fraction", ctx + " split", 0, 1);
    id_range(sp, "eval_ids", ctx, &s.eval_id_min, &s.eval_id_max);
    id_range(sp, "train_ids", ctx, &s.train_id_min, &s.train_id_max);
  }
  auto named = [&](std::string tmpl) {
    if (templates.contains(tmpl) && templates.at(tmpl).is_string())
      tmpl = templates.at(tmpl).get<std::string>();
    return tmpl;
  };
  s.prompt_template = named(get_str(t, "template", ctx, "{question}"));
  s.chat_prompt_template = named(get_str(t, "chat_prompt", ctx));
  if (!t.contains("reward") || !t.at("reward").is_array() || t.at("reward").empty())
    throw std::invalid_argument(ctx + ": needs at least one [[tasks." + name +
                                ".reward]] component");
  size_t index = 0;
  for (const auto& c : t.at("reward")) {
    index++;
    if (!c.is_object()) throw std::invalid_argument(ctx + ": a reward component must be a table");
    only_keys(c, {"name", "checker", "weight", "options"}, ctx + " reward");
    RewardComponent rc;
    rc.name = get_str(c, "name", ctx + " reward");
    rc.checker = get_str(c, "checker", ctx + " reward");
    if (rc.name.empty() || rc.checker.empty())
      throw std::invalid_argument(ctx + ": reward component " + std::to_string(index) + " (" +
                                  (rc.name.empty() ? "unnamed" : "'" + rc.name + "'") + ") needs " +
                                  (rc.name.empty() ? "a name" : "a checker"));
    const std::string component = ctx + " reward component '" + rc.name + "'";
    check_option_names(rc.checker, rc.options, component);  // the checker exists
    if (c.contains("weight")) rc.weight = get_number(c, "weight", ctx + " reward", -1e9, 1e9);
    if (c.contains("options")) {
      if (!c.at("options").is_object())
        throw std::invalid_argument(ctx + ": reward options must be a table");
      rc.options.values = c.at("options");
      check_option_names(rc.checker, rc.options, component);
    }
    s.reward.push_back(rc);
  }
  return s;
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

int64_t numeric_id(const std::string& id, const std::string& ctx) {
  try {
    size_t used = 0;
    int64_t v = std::stoll(id, &used);
    if (used == id.size()) return v;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(ctx + ": split by id ranges needs numeric ids, got '" + id + "'");
}

}  // namespace

const nlohmann::json* task_field(const std::vector<std::string>& candidates,
                                 const nlohmann::json& row) {
  const nlohmann::json* null_one = nullptr;  // a null value counts only when no candidate has one
  for (const std::string& f : candidates) {
    if (!row.contains(f)) continue;
    if (!row.at(f).is_null()) return &row.at(f);
    if (!null_one) null_one = &row.at(f);
  }
  return null_one;
}

nlohmann::json task_reference(const TaskSpec& spec, const nlohmann::json& row) {
  nlohmann::json ref = row;
  for (const auto& [name, candidates] : spec.fields)
    if (!row.contains(name) || row.at(name).is_null())
      if (const nlohmann::json* v = task_field(candidates, row)) ref[name] = *v;
  return ref;
}

namespace {

// Rows of a file as (id, reference) pairs with the field mapping applied.
std::vector<std::pair<std::string, nlohmann::json>> load_rows(const TaskSpec& s,
                                                              const std::string& path) {
  std::vector<size_t> lines;
  std::vector<nlohmann::json> rows = read_jsonl(path, &lines);
  std::vector<std::pair<std::string, nlohmann::json>> out;
  for (size_t i = 0; i < rows.size(); i++) {
    const auto& row = rows[i];
    std::string ctx = path + ":" + std::to_string(lines[i]);  // the file's line (blanks skipped)
    nlohmann::json ref;
    if (s.fields.empty()) {
      ref = row;
    } else {
      ref = nlohmann::json::object();
      for (const auto& [name, candidates] : s.fields) {
        const nlohmann::json* found = task_field(candidates, row);
        if (!found) {
          std::string list;
          for (const std::string& f : candidates) list += (list.empty() ? "'" : " or '") + f + "'";
          throw std::runtime_error(
              ctx + ": missing field " + list +
              (candidates.size() > 1 || candidates[0] != name ? " (for '" + name + "')" : ""));
        }
        ref[name] = *found;
      }
    }
    std::string id;
    if (!s.id_field.empty()) {
      if (!row.contains(s.id_field))
        throw std::runtime_error(ctx + ": missing field '" + s.id_field + "' (the id)");
      const auto& v = row.at(s.id_field);
      id = v.is_string() ? v.get<std::string>() : v.dump();
    } else {
      id = std::filesystem::path(path).filename().string() + ":" + std::to_string(i + 1);
    }
    ref["id"] = id;
    out.emplace_back(id, ref);
  }
  return out;
}

TaskPrompt make_prompt(const TaskSpec& s, const std::string& id, const nlohmann::json& ref) {
  TaskPrompt p;
  p.id = id;
  p.reference = ref;
  try {
    p.text = render_template(s.prompt_template, ref);
    p.chat_text =
        s.chat_prompt_template.empty() ? p.text : render_template(s.chat_prompt_template, ref);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("task '" + s.name + "', row " + id + ": " + e.what());
  }
  return p;
}

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& path, std::vector<size_t>* line_numbers) {
  std::ifstream f = open_input(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) {
    n++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json_check_depth(line, path + ":" + std::to_string(n));
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": malformed JSON: " + aha::json_error_text(e.what()));
    }
    if (!j.is_object())
      throw std::runtime_error(path + ":" + std::to_string(n) + ": a row must be a JSON object");
    rows.push_back(std::move(j));
    if (line_numbers) line_numbers->push_back(n);
  }
  if (f.bad()) throw std::runtime_error(path + ": read error");
  return rows;
}

std::string render_template(const std::string& tmpl, const nlohmann::json& ref) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); i++) {
    if (tmpl[i] != '{') {
      out += tmpl[i];
      continue;
    }
    size_t e = tmpl.find('}', i);
    std::string key = e == std::string::npos ? "" : tmpl.substr(i + 1, e - i - 1);
    bool ident = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!ident) {  // not a placeholder (code braces, LaTeX): keep as written
      out += tmpl[i];
      continue;
    }
    if (!ref.contains(key))
      throw std::invalid_argument("template field '{" + key + "}' is not in the reference");
    const auto& v = ref.at(key);
    if (v.is_string()) {
      out += v.get<std::string>();
    } else if (v.is_array()) {
      for (size_t k = 0; k < v.size(); k++)
        out += (k ? "\n" : "") + (v[k].is_string() ? v[k].get<std::string>() : v[k].dump());
    } else {
      out += v.dump();
    }
    i = e;
  }
  return out;
}

std::vector<TaskSpec> parse_task_toml(const std::string& text, const std::string& source,
                                      const std::string& base_dir, const std::string& data_dir) {
  toml::table tbl;
  try {
    tbl = toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    throw std::invalid_argument(os.str());
  }
  nlohmann::json doc = toml_to_json(tbl);
  nlohmann::json templates = nlohmann::json::object();
  if (source != "<builtin>") {
    nlohmann::json builtin = toml_to_json(
        toml::parse(std::string_view(kBuiltinTasksToml), std::string_view("<builtin>")));
    templates = builtin["templates"];
  }
  if (doc.contains("templates")) templates.update(doc["templates"]);
  std::vector<TaskSpec> specs;
  if (!doc.contains("tasks") || !doc["tasks"].is_object())
    throw std::invalid_argument(source + ": no [tasks.NAME] table");
  for (auto& [name, t] : doc["tasks"].items())
    specs.push_back(spec_from_json(name, t, templates, source, base_dir, data_dir));
  return specs;
}

std::vector<std::string> builtin_task_names() {
  std::vector<std::string> names;
  for (const auto& s : parse_task_toml(kBuiltinTasksToml, "<builtin>", "")) names.push_back(s.name);
  return names;
}

TaskSpec find_task_spec(const std::string& name, const std::string& tasks_file,
                        const std::string& data_dir) {
  std::vector<TaskSpec> specs;
  if (!tasks_file.empty()) {
    std::ifstream f = open_input(tasks_file);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string base = std::filesystem::absolute(tasks_file).parent_path().string();
    specs = parse_task_toml(ss.str(), tasks_file, base, data_dir);
    for (const auto& s : specs)
      if (s.name == name) return s;
  }
  for (const auto& s : parse_task_toml(kBuiltinTasksToml, "<builtin>", "", data_dir))
    if (s.name == name) return s;
  std::string known;
  for (const auto& s : specs) known += s.name + ", ";
  for (const auto& n : builtin_task_names()) known += n + ", ";
  throw std::invalid_argument("unknown task '" + name +
                              "' (known: " + known.substr(0, known.size() - 2) + ")");
}

Task load_task(const TaskSpec& s) {
  Task t;
  t.spec = s;
  // A missing data file is usually an unset data directory: say which file and what sets it.
  for (const std::string* path : {&s.train_path, &s.eval_path})
    if (!path->empty() && !s.data_dir.empty() && !std::filesystem::exists(*path))
      throw std::runtime_error("task '" + s.name + "': data file " + *path +
                               " not found (${AHA_DATA_DIR} = '" + s.data_dir +
                               "'; set it with --data-dir or the AHA_DATA_DIR environment "
                               "variable)");
  if (!s.generator.empty()) {
    auto gen = s.generator == "countdown"     ? generate_countdown
               : s.generator == "mod10_chain" ? generate_mod10_chain
                                              : generate_arith;
    auto fill = [&](std::vector<TaskPrompt>& out, int64_t count, uint64_t stream,
                    const char* split) {
      std::vector<nlohmann::json> rows = gen(s.generator_options, count, s.seed, stream);
      for (size_t i = 0; i < rows.size(); i++) {
        std::string id = s.name + "-" + split + "-" + std::to_string(i);
        rows[i]["id"] = id;
        out.push_back(make_prompt(s, id, rows[i]));
      }
    };
    try {
      fill(t.train, s.train_count, 1, "train");
      fill(t.eval, s.eval_count, 2, "eval");
    } catch (const std::invalid_argument& e) {  // a bad generator option: say which task
      throw std::invalid_argument("task '" + s.name + "': " + e.what());
    }
    return t;
  }
  bool by_ids = s.eval_id_max >= s.eval_id_min || s.train_id_max >= s.train_id_min;
  if (!s.train_path.empty()) {
    for (auto& [id, ref] : load_rows(s, s.train_path)) {
      bool to_eval = false;
      if (by_ids) {
        int64_t v = numeric_id(id, s.train_path);
        bool in_eval = s.eval_id_max >= s.eval_id_min && v >= s.eval_id_min && v <= s.eval_id_max;
        bool in_train =
            s.train_id_max >= s.train_id_min && v >= s.train_id_min && v <= s.train_id_max;
        if (!in_eval && !in_train) continue;  // e.g. MBPP's few-shot rows 1-10
        to_eval = in_eval;
      } else if (s.eval_path.empty() && s.eval_fraction > 0) {
        uint64_t h = rng_bits(s.seed, 7, hash_string(id));
        to_eval = static_cast<double>(h >> 11) * 0x1.0p-53 < s.eval_fraction;
      }
      (to_eval ? t.eval : t.train).push_back(make_prompt(s, id, ref));
    }
  }
  if (!s.eval_path.empty())
    for (auto& [id, ref] : load_rows(s, s.eval_path)) t.eval.push_back(make_prompt(s, id, ref));
  return t;
}

Task load_task(const std::string& name, const std::string& tasks_file,
               const std::string& data_dir) {
  return load_task(find_task_spec(name, tasks_file, data_dir));
}

std::vector<TaskPrompt> task_prompts(const Task& task, Split split, uint64_t seed) {
  std::vector<TaskPrompt> p = split == Split::kTrain ? task.train : task.eval;
  Rng rng{seed, 0};
  for (size_t i = p.size(); i > 1; i--) {
    size_t j = static_cast<size_t>(rng.next_u64() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

RewardResult task_score(const TaskSpec& spec, const std::string& completion,
                        const nlohmann::json& reference) {
  return compose_reward(spec.reward, completion, reference);
}

}  // namespace aha

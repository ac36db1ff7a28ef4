// Built-in generators. Countdown instances are solvable by construction: the target is the value of
// a random expression over the drawn numbers (every intermediate a positive integer), whose text is
// kept in the reference as "solution". Mod-10 chains carry their worked computation (the value
// after each operation) in the reference as "work", for making pretraining data; no checker reads
// it.
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/rng.h"
#include "tasks/task.h"

namespace aha {

namespace {

int64_t opt_int(const nlohmann::json& o, const char* key, int64_t dflt) {
  if (!o.contains(key)) return dflt;
  if (!o.at(key).is_number_integer())
    throw std::invalid_argument(std::string("generator option '") + key + "' must be an integer");
  return o.at(key).get<int64_t>();
}

int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {  // inclusive
  return lo + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(hi - lo + 1));
}

struct Item {
  int64_t value;
  std::string text;
};

}  // namespace

std::vector<nlohmann::json> generate_countdown(const nlohmann::json& o, int64_t count,
                                               uint64_t seed, uint64_t stream) {
  int64_t n = opt_int(o, "numbers", 4), lo = opt_int(o, "min", 1), hi = opt_int(o, "max", 99);
  int64_t tlo = opt_int(o, "target_min", 10), thi = opt_int(o, "target_max", 999);
  if (n < 2 || n > 8 || lo < 1 || hi < lo || hi > 10000 || tlo > thi)
    throw std::invalid_argument(
        "countdown generator: need 2 <= numbers <= 8, 1 <= min <= max <= 10000, target_min <= "
        "target_max");
  Rng rng{seed * 1000003 + stream, 0};
  std::vector<nlohmann::json> rows;
  int64_t attempts = 0;
  while (static_cast<int64_t>(rows.size()) < count) {
    if (++attempts > count * 2000 + 100000)
      throw std::invalid_argument("countdown generator: cannot reach targets in [" +
                                  std::to_string(tlo) + ", " + std::to_string(thi) +
                                  "] with these numbers");
    std::vector<int64_t> nums;
    for (int64_t i = 0; i < n; i++) nums.push_back(uniform_int(rng, lo, hi));
    // Combine the numbers in random order with random operations until one value is left.
    std::vector<Item> items;
    for (int64_t v : nums) items.push_back({v, std::to_string(v)});
    bool ok = true;
    while (items.size() > 1 && ok) {
      size_t i = static_cast<size_t>(rng.next_u64() % items.size());
      Item a = items[i];
      items.erase(items.begin() + static_cast<long>(i));
      size_t j = static_cast<size_t>(rng.next_u64() % items.size());
      Item b = items[j];
      items.erase(items.begin() + static_cast<long>(j));
      Item c;
      switch (rng.next_u64() % 4) {
        case 0:
          c = {a.value + b.value, "(" + a.text + " + " + b.text + ")"};
          break;
        case 1:
          if (a.value < b.value) std::swap(a, b);
          c = {a.value - b.value, "(" + a.text + " - " + b.text + ")"};
          break;
        case 2:
          c = {a.value * b.value, a.text + " * " + b.text};
          if (c.value > 1000000) ok = false;
          break;
        default:
          if (a.value < b.value) std::swap(a, b);
          if (b.value == 0 || a.value % b.value != 0) {
            c = {a.value + b.value, "(" + a.text + " + " + b.text + ")"};
          } else {
            c = {a.value / b.value, "(" + a.text + ") / (" + b.text + ")"};
          }
      }
      if (c.value <= 0) ok = false;
      items.push_back(c);
    }
    if (!ok || items[0].value < tlo || items[0].value > thi) continue;
    int64_t target = items[0].value;
    std::string nums_text;
    for (size_t k = 0; k < nums.size(); k++) nums_text += (k ? ", " : "") + std::to_string(nums[k]);
    rows.push_back(
        {{"numbers", nums},
         {"target", target},
         {"solution", items[0].text},
         {"question",
          "Using the numbers [" + nums_text + "], write an arithmetic expression that equals " +
              std::to_string(target) +
              ". You may use + - * / and parentheses, and each number at most once. "
              "Put only the expression in the answer, for example <answer>(1 + 2) * 3</answer>."}});
  }
  return rows;
}

std::vector<nlohmann::json> generate_arith(const nlohmann::json& o, int64_t count, uint64_t seed,
                                           uint64_t stream) {
  int64_t dlo = opt_int(o, "min_digits", 2), dhi = opt_int(o, "max_digits", 5);
  if (o.contains("ops") && !o.at("ops").is_string())
    throw std::invalid_argument("generator option 'ops' must be a string");
  std::string ops = o.contains("ops") ? o.at("ops").get<std::string>() : "+-*";
  if (dlo < 1 || dhi < dlo || dhi > 9 || ops.empty() ||
      ops.find_first_not_of("+-*") != std::string::npos)
    throw std::invalid_argument(
        "arith generator: need 1 <= min_digits <= max_digits <= 9 and ops from '+-*'");
  Rng rng{seed * 1000003 + stream, 0};
  auto draw = [&] {
    int64_t d = uniform_int(rng, dlo, dhi);
    int64_t lo = 1;
    for (int64_t k = 1; k < d; k++) lo *= 10;
    return uniform_int(rng, d == 1 ? 0 : lo, lo * 10 - 1);
  };
  std::vector<nlohmann::json> rows;
  for (int64_t i = 0; i < count; i++) {
    int64_t a = draw(), b = draw();
    char op = ops[static_cast<size_t>(rng.next_u64() % ops.size())];
    int64_t r = op == '+' ? a + b : op == '-' ? a - b : a * b;
    rows.push_back(
        {{"question", "What is " + std::to_string(a) + " " +
                          (op == '*' ? "*" : std::string(1, op)) + " " + std::to_string(b) + "?"},
         {"answer", std::to_string(r)},
         {"a", a},
         {"b", b},
         {"op", std::string(1, op)}});
  }
  return rows;
}

std::vector<nlohmann::json> generate_mod10_chain(const nlohmann::json& o, int64_t count,
                                                 uint64_t seed, uint64_t stream) {
  const int64_t n = opt_int(o, "ops", 10), n_min = opt_int(o, "min_ops", n);
  // labels: a letter before each operation, repeated in the work ("7a*3b+4" and "a1,b5"), so a
  // step finds its operation by content (the token after its letter) instead of by a long offset.
  if (o.contains("labels") && !o.at("labels").is_boolean())
    throw std::invalid_argument("generator option 'labels' must be true or false");
  const bool labels = o.contains("labels") && o.at("labels").get<bool>();
  // form "steps": the work restates the start value, then each operation before its value
  // ("7,a*3=1,b+4=5"), so the arithmetic reads only the few tokens before it; "values"
  // (default): the values alone.
  const std::string form = o.contains("form") && o.at("form").is_string()
                               ? o.at("form").get<std::string>()
                               : (o.contains("form") ? "?" : "values");
  if (form != "values" && form != "steps")
    throw std::invalid_argument("generator option 'form' must be \"values\" or \"steps\"");
  if (n < 1 || n > (labels ? 26 : 64) || n_min < 1 || n_min > n)
    throw std::invalid_argument(
        "mod10_chain generator: need 1 <= min_ops <= ops <= 64 (26 with labels)");
  // Multipliers 3, 7, 9 are units mod 10: no operation forgets the value, so the answer depends
  // on every step, in order (the maps x -> a*x + b do not commute).
  static const int64_t kMul[3] = {3, 7, 9};
  Rng rng{seed * 1000003 + stream, 0};
  std::vector<nlohmann::json> rows;
  for (int64_t r = 0; r < count; r++) {
    // The length is drawn only when it varies, so fixed-length chains keep their old streams.
    const int64_t len = n_min == n ? n : uniform_int(rng, n_min, n);
    int64_t v = uniform_int(rng, 0, 9);
    // "steps" opens with the start value, so the first step reads its input from the work as
    // every later step does, not from the far start of the prompt.
    std::string question = std::to_string(v), work = form == "steps" ? question + "," : "";
    for (int64_t i = 0; i < len; i++) {
      const int64_t kind = uniform_int(rng, 0, 2);
      const int64_t d = kind == 2 ? kMul[uniform_int(rng, 0, 2)] : uniform_int(rng, 1, 9);
      v = kind == 0 ? (v + d) % 10 : kind == 1 ? (v + 10 - d) % 10 : (v * d) % 10;
      const std::string label = labels ? std::string(1, static_cast<char>('a' + i)) : "";
      const std::string op = std::string(1, "+-*"[kind]) + std::to_string(d);
      question += label + op;
      work += (i ? "," : "") + label + (form == "steps" ? op + "=" : "") + std::to_string(v);
    }
    rows.push_back({{"question", question}, {"answer", std::to_string(v)}, {"work", work}});
  }
  return rows;
}

}  // namespace aha

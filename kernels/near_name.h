// The near-name suggestion of "unknown key" errors (config keys, task keys, checker options): a
// misspelt name gets "did you mean 'X'?" when one known name is close. Header-only and
// dependency-free like user_input.h, so every library can use it.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace aha {

// Levenshtein distance (insert, delete, substitute: each 1).
inline size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    prev.swap(cur);
  }
  return prev[b.size()];
}

// A guess further off than a third of the name is noise: better to list the known names.
inline bool near_enough(size_t distance, const std::string& name) {
  return distance <= std::max<size_t>(2, name.size() / 3);
}

// The known name nearest to name ("" when none is near enough). A name cut short ("temp",
// "partial") is near the known name it begins.
inline std::string nearest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const std::string& k : known) {
    size_t d = edit_distance(name, k);
    if (name.size() >= 3 && k.rfind(name, 0) == 0) d = std::min<size_t>(d, 1);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best_d != SIZE_MAX && near_enough(best_d, name) ? best : "";
}

}  // namespace aha

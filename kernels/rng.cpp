#include "kernels/rng.h"

#include <cmath>

namespace aha {

double Rng::normal() {
  // 1 - u keeps the log argument in (0, 1].
  double u1 = 1.0 - uniform();
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace aha

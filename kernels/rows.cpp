#include "kernels/rows.h"

#include <cstddef>
#include <cstring>
#include <string>

#include "kernels/check.h"

namespace aha {

void add_inplace(float* x, const float* y, long n) {
  for (long i = 0; i < n; i++) x[i] += y[i];
}

void copy_rows(float* dst, int ld_dst, const float* src, int ld_src, int rows, int cols) {
  for (int r = 0; r < rows; r++)
    std::memcpy(dst + static_cast<size_t>(r) * ld_dst, src + static_cast<size_t>(r) * ld_src,
                static_cast<size_t>(cols) * sizeof(float));
}

void scatter_rows(float* dst, int ld_dst, const int* dst_rows, int num_dst_rows, const float* src,
                  int ld_src, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    AHA_CHECK(dst_rows[r] >= 0 && dst_rows[r] < num_dst_rows,
              "scatter_rows: row " + std::to_string(dst_rows[r]) + " out of range");
    std::memcpy(dst + static_cast<size_t>(dst_rows[r]) * ld_dst,
                src + static_cast<size_t>(r) * ld_src, static_cast<size_t>(cols) * sizeof(float));
  }
}

}  // namespace aha

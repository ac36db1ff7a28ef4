// Row copies and residual adds: the data movement the policy used to do in host loops, as
// kernels so that a CUDA twin can run them on the device.
#pragma once

namespace aha {

// x[n] += y[n]  (residual add)
void add_inplace(float* x, const float* y, long n);
// dst[r, 0:cols] = src[r, 0:cols] for r < rows; rows of ld_dst and ld_src floats.
void copy_rows(float* dst, int ld_dst, const float* src, int ld_src, int rows, int cols);
// dst[dst_rows[r], 0:cols] = src[r, 0:cols] for r < rows (dst_rows[r] in [0, num_dst_rows)).
void scatter_rows(float* dst, int ld_dst, const int* dst_rows, int num_dst_rows, const float* src,
                  int ld_src, int rows, int cols);

}  // namespace aha

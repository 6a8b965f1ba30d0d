// The fp32 passes of the int8 inference path, over NHWC rows (channels innermost, so each pass is one
// vectorisable loop per pixel): BN-ReLU-quantize feeding the u8 convolutions, and the fp32 head.
#include <cmath>

#include "int8.h"

namespace wrn {

void bnReluQuantize(const float* x, int64_t rows, int64_t c, const float* a, const float* b, float scale, uint8_t* y) {
  // Fold 1/scale into the affine transform once: v = x * (a / s) + b / s, then clamp to [0, 255].
  std::vector<float> as(c), bs(c);
  for (int64_t k = 0; k < c; k++) {
    as[k] = a[k] / scale;
    bs[k] = b[k] / scale;
  }
  const float* pa = as.data();
  const float* pb = bs.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    uint8_t* yr = y + r * c;
    for (int64_t k = 0; k < c; k++) {
      float v = std::nearbyint(xr[k] * pa[k] + pb[k]);
      v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
      yr[k] = uint8_t(v);
    }
  }
}

void bnReluAvgPool(const float* x, int64_t n, int64_t hw, int64_t c, const float* a, const float* b, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float* yi = y + i * c;
    for (int64_t k = 0; k < c; k++) yi[k] = 0.0f;
    for (int64_t p = 0; p < hw; p++) {
      const float* xr = x + (i * hw + p) * c;
      for (int64_t k = 0; k < c; k++) {
        float v = xr[k] * a[k] + b[k];
        yi[k] += v > 0.0f ? v : 0.0f;
      }
    }
    const float inv = 1.0f / float(hw);
    for (int64_t k = 0; k < c; k++) yi[k] *= inv;
  }
}

void linearF32(const float* x, int64_t n, int64_t c, const float* w, const float* bias, int64_t k, float* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < k; j++) {
      const float* xr = x + i * c;
      const float* wr = w + j * c;
      float s = 0.0f;
      for (int64_t q = 0; q < c; q++) s += xr[q] * wr[q];
      y[i * k + j] = s + bias[j];
    }
  }
}

}  // namespace wrn

// The fp32 passes of the int8 inference path, over NHWC rows (channels innermost, so each pass is one
// vectorisable loop per pixel): BN-ReLU-quantize feeding the u8 convolutions, and the fp32 head.
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "int8.h"

namespace wrn {

namespace {

/** One NHWC row: y[k] = u8(clamp(nearest-even(x[k] * a[k] + b[k]), 0, 255)); NaN gives 0. */
inline void quantizeRow(const float* x, int64_t c, const float* a, const float* b, uint8_t* y) {
  int64_t k = 0;
#if defined(__SSE2__)
  // SSE2 is in every x86-64, so this needs no -march. cvtps2dq rounds by MXCSR (nearest-even by
  // default, as nearbyint), and the saturating packs clamp to [0, 255]. The scalar form below was a
  // libm call per element (nearbyint has no baseline x86-64 instruction) and did not vectorise.
  const __m128 zero = _mm_setzero_ps();
  for (; k + 16 <= c; k += 16) {
    __m128i q[4];
    for (int j = 0; j < 4; j++) {
      __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + k + 4 * j), _mm_loadu_ps(a + k + 4 * j)), _mm_loadu_ps(b + k + 4 * j));
      v = _mm_max_ps(v, zero);  // maxps returns its second operand for NaN: NaN -> 0
      v = _mm_min_ps(v, _mm_set1_ps(255.0f));
      q[j] = _mm_cvtps_epi32(v);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + k), _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3])));
  }
#endif
  for (; k < c; k++) {
    float v = x[k] * a[k] + b[k];
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    y[k] = uint8_t(std::nearbyint(v));
  }
}

}  // namespace

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
  for (int64_t r = 0; r < rows; r++) quantizeRow(x + r * c, c, pa, pb, y + r * c);
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

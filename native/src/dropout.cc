// Inverted dropout: the mask is a stateless hash of (seed, logical index), the same as
// dropoutKeep() in src/backend/backend.ts, so masks agree across backends and layouts.
#include "napi_args.h"

namespace wrn {
namespace {

int64_t dropout(int64_t xh, const dims& shape, double p, uint32_t seed) {
  Buf& x = live(xh);
  checkSize(x, shape, "dropout");
  if (p <= 0) return reg(shareOf(x));
  auto y = newBuf(x.md);
  std::memset(y->ptr, 0, y->bytes);  // padding stays zero
  const double thr = p * 4294967296.0;
  const float scale = float(1.0 / (1.0 - p));
  auto keep = [seed, thr](int64_t i) {
    uint32_t h = (uint32_t(uint64_t(i)) * 0x9e3779b9u) ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return double(h) >= thr;
  };
  if (x.dtype() == dt::bf16) {
    const uint16_t* src = static_cast<const uint16_t*>(x.ptr);
    uint16_t* dst = static_cast<uint16_t*>(y->ptr);
    forEachElement(x.md, [&](int64_t i, int64_t o) { dst[o] = keep(i) ? f2bf(bf2f(src[o]) * scale) : 0; });
  } else if (x.dtype() == dt::f32) {
    const float* src = static_cast<const float*>(x.ptr);
    float* dst = static_cast<float*>(y->ptr);
    forEachElement(x.md, [&](int64_t i, int64_t o) { dst[o] = keep(i) ? src[o] * scale : 0.f; });
  } else {
    fail("native dropout: unsupported data type");
  }
  return reg(std::move(y));
}

}  // namespace

namespace api {

// dropout(x, shape, p, seed): also the backward (the same mask and scale applied to dy).
Napi::Value dropout(const Info& info) {
  return handleOut(info.Env(), wrn::dropout(handleArg(info[0]), dimsArg(info[1]), numArg(info[2]),
                                            uint32_t(int64_t(numArg(info[3])))));
}

}  // namespace api
}  // namespace wrn

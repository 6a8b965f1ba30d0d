// Global average pooling (the WRN head) and max pooling (the ImageNet stem) with their gradients.
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

struct PoolEntry {
  pooling_forward::primitive_desc fwd;
  pooling_forward fwdP;
  bool hasBwd = false;
  pooling_backward::primitive_desc bwd;
  pooling_backward bwdP;
  dims strides, kernel, padL, padR;
  algorithm algo;
};
Cache<PoolEntry> poolCache;

PoolEntry& poolEntry(algorithm algo, const memory::desc& src, int kh, int kw, int stride, int pad) {
  if (kh < 1 || kw < 1 || stride < 1 || pad < 0) fail("native pooling: kernel and stride must be >= 1, padding >= 0");
  std::string key = std::to_string(int(algo)) + ':' + mdKey(src) + std::to_string(kh) + ',' + std::to_string(kw) + ',' +
                    std::to_string(stride) + ',' + std::to_string(pad);
  return cached(poolCache, key, [&](PoolEntry& e) {
    dims xs = src.dims();
    int64_t oh = (xs[2] + 2 * pad - kh) / stride + 1, ow = (xs[3] + 2 * pad - kw) / stride + 1;
    if (oh <= 0 || ow <= 0) fail("native pooling: window larger than the padded input");
    e.algo = algo;
    e.strides = {stride, stride};
    e.kernel = {kh, kw};
    e.padL = {pad, pad};
    e.padR = {(oh - 1) * stride + kh - xs[2] - pad, (ow - 1) * stride + kw - xs[3] - pad};
    memory::desc dst({xs[0], xs[1], oh, ow}, src.data_type(), tag::any);
    pooling_forward::desc d(prop_kind::forward_training, algo, src, dst, e.strides, e.kernel, e.padL, e.padR);
    e.fwd = pooling_forward::primitive_desc(d, defaultAttr(), eng());
    e.fwdP = pooling_forward(e.fwd);
  });
}

struct PoolSaved : Saved {
  PoolEntry* entry = nullptr;
};

int64_t globalAvgPool(int64_t xh, const dims& xs) {
  Buf& x = live(xh);
  checkSize(x, xs, "globalAvgPool");
  dims d = x.md.dims();
  if (d.size() != 4) fail("native globalAvgPool: expected NCHW");
  PoolEntry& e = poolEntry(algorithm::pooling_avg_exclude_padding, x.md, int(d[2]), int(d[3]), 1, 0);
  auto pooled = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd, {{DNNL_ARG_SRC, mem(x)}, {DNNL_ARG_DST, mem(*pooled)}});
  auto y = newBuf(plainDesc({d[0], d[1]}, dt::f32));
  reorderRaw(pooled->md, pooled->ptr, plainDesc({d[0], d[1], 1, 1}, dt::f32), y->ptr);
  return reg(std::move(y));
}

/** Writes the value v (f32 or bf16 by `bf`) n times with a stride of `step` elements. */
inline void fill(void* out, int64_t base, int64_t n, int64_t step, const float* v, int width, bool bf) {
  if (bf) {
    uint16_t vb[16];
    for (int k = 0; k < width; k++) vb[k] = f2bf(v[k]);
    uint16_t* o = static_cast<uint16_t*>(out) + base;
    for (int64_t p = 0; p < n; p++) std::memcpy(o + p * step, vb, sizeof(uint16_t) * width);
  } else {
    float* o = static_cast<float*>(out) + base;
    for (int64_t p = 0; p < n; p++) std::memcpy(o + p * step, v, sizeof(float) * width);
  }
}

/** dx[n,c,h,w] = dy[n,c] / (H*W), in data type `type` (channel-blocked by 16 when C allows). */
int64_t globalAvgPoolBackward(int64_t dyh, const dims& xs, dt type) {
  if (xs.size() != 4) fail("native globalAvgPoolBackward: expected NCHW");
  Buf& dy0 = live(dyh);
  std::unique_ptr<Buf> tdy;
  const int64_t n = xs[0], c = xs[1], hw = xs[2] * xs[3];
  const float* g = static_cast<const float*>(ensure(dy0, plainDesc({n, c}, dt::f32), tdy).ptr);
  const bool blocked = c % 16 == 0;
  auto dx = newBuf(memory::desc(xs, type, blocked ? tag::aBcd16b : tag::abcd));
  const float inv = 1.f / float(hw);
  const bool bf = type == dt::bf16;
  if (blocked) {
    const int64_t cb = c / 16;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++) {
      for (int64_t b = 0; b < cb; b++) {
        float v[16];
        for (int k = 0; k < 16; k++) v[k] = g[i * c + b * 16 + k] * inv;
        fill(dx->ptr, (i * cb + b) * hw * 16, hw, 16, v, 16, bf);
      }
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * c; r++) {
      float v = g[r] * inv;
      fill(dx->ptr, r * hw, hw, 1, &v, 1, bf);
    }
  }
  return reg(std::move(dx));
}

std::pair<int64_t, int64_t> maxPool2d(int64_t xh, const dims& xs, int kernel, int stride, int pad) {
  Buf& x = live(xh);
  checkSize(x, xs, "maxPool2d");
  if (x.md.dims().size() != 4) fail("native maxPool2d: expected NCHW");
  PoolEntry& e = poolEntry(algorithm::pooling_max, x.md, kernel, kernel, stride, pad);
  auto y = newBuf(e.fwd.dst_desc());
  auto ws = newBuf(e.fwd.workspace_desc());
  exec(e.fwdP, e.fwd, {{DNNL_ARG_SRC, mem(x)}, {DNNL_ARG_DST, mem(*y)}, {DNNL_ARG_WORKSPACE, mem(*ws)}});
  auto s = std::make_unique<PoolSaved>();
  s->entry = &e;
  s->bufs.push_back(std::move(ws));
  return {reg(std::move(y)), registerObj(std::move(s))};
}

int64_t maxPool2dBackward(int64_t dyh, int64_t sh) {
  PoolSaved* s = dynamic_cast<PoolSaved*>(lookupSaved(sh));
  if (!s) fail("native maxPool2dBackward: saved context is not a max-pool context");
  PoolEntry& e = *s->entry;
  if (!e.hasBwd) {
    pooling_backward::desc d(e.algo, e.fwd.src_desc(), e.fwd.dst_desc(), e.strides, e.kernel, e.padL, e.padR);
    e.bwd = pooling_backward::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdP = pooling_backward(e.bwd);
    e.hasBwd = true;
  }
  Buf& dy0 = live(dyh);
  std::unique_ptr<Buf> tdy;
  Buf& g = ensure(dy0, e.bwd.diff_dst_desc(), tdy);
  auto dx = newBuf(e.bwd.diff_src_desc());
  exec(e.bwdP, e.bwd, {{DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_WORKSPACE, mem(*s->bufs[0])}, {DNNL_ARG_DIFF_SRC, mem(*dx)}});
  return reg(std::move(dx));
}

}  // namespace

namespace api {

// globalAvgPool(x, xs)
Napi::Value globalAvgPool(const Info& info) {
  return handleOut(info.Env(), wrn::globalAvgPool(handleArg(info[0]), dimsArg(info[1])));
}

// globalAvgPoolBackward(dy, xs, precision)
Napi::Value globalAvgPoolBackward(const Info& info) {
  return handleOut(info.Env(), wrn::globalAvgPoolBackward(handleArg(info[0]), dimsArg(info[1]), precisionArg(info[2])));
}

// maxPool2d(x, xs, kernel, stride, pad) -> [y, saved]
Napi::Value maxPool2d(const Info& info) {
  auto r = wrn::maxPool2d(handleArg(info[0]), dimsArg(info[1]), intArg(info[2]), intArg(info[3]), intArg(info[4]));
  return numbersOut(info.Env(), {double(r.first), double(r.second)});
}

// maxPool2dBackward(dy, xs, saved)
Napi::Value maxPool2dBackward(const Info& info) {
  return handleOut(info.Env(), wrn::maxPool2dBackward(handleArg(info[0]), handleArg(info[2])));
}

}  // namespace api
}  // namespace wrn

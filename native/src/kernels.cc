// Kernels of the Backend interface on oneDNN 2.x primitives. Activations keep the layouts oneDNN
// prefers (format_tag::any at every primitive); reorders happen only where two primitives disagree,
// at upload/read, and for weights (cached per buffer version, see derivedFor).
#include "kernels.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace wrn {

using namespace dnnl;
using args_t = std::unordered_map<int, memory>;

dt actType = dt::f32;

namespace {

// ---- helpers ---------------------------------------------------------------------------------------
template <class T>
using Cache = std::unordered_map<std::string, std::unique_ptr<T>>;

template <class T, class Make>
T& cached(Cache<T>& c, const std::string& key, Make make) {
  auto it = c.find(key);
  if (it != c.end()) return *it->second;
  auto e = std::make_unique<T>();
  make(*e);
  return *c.emplace(key, std::move(e)).first->second;
}

template <class PD>
void exec(const primitive& p, const PD& pd, args_t args) {
  args.insert({DNNL_ARG_SCRATCHPAD, scratchpadFor(pd.scratchpad_desc())});
  p.execute(strm(), args);
}

std::string dimsKey(const dims& d) {
  std::string s;
  for (auto v : d) {
    s += std::to_string(v);
    s += 'x';
  }
  s += '|';
  return s;
}

int64_t reg(std::unique_ptr<Buf> b) { return registerObj(std::move(b)); }

Buf& live(int64_t h) {
  Buf* b = lookupBuf(h);
  materialize(*b);
  return *b;
}

void checkSize(const Buf& b, const dims& shape, const char* what) {
  if (product(b.md.dims()) != product(shape)) {
    fail(std::string("native ") + what + ": storage holds " + std::to_string(product(b.md.dims())) +
         " elements, shape needs " + std::to_string(product(shape)));
  }
}

// `convolution_auto` doubles as "heuristic" below; oneDNN's own auto is selected by kAutoOneDnn.
constexpr int kHeuristic = -1;

algorithm parseAlgo(const std::string& s) {
  if (s == "heuristic") return algorithm(kHeuristic);
  if (s == "auto") return algorithm::convolution_auto;
  if (s == "winograd") return algorithm::convolution_winograd;
  if (s == "direct") return algorithm::convolution_direct;
  fail("native backend: convolution algorithm must be direct, winograd or auto, got '" + s + "'");
}

algorithm& convAlgoRef() {
  static algorithm a = [] {
    const char* e = std::getenv("WRN_CONV_ALGO");
    return e ? parseAlgo(e) : algorithm(kHeuristic);
  }();
  return a;
}

algorithm convAlgo() { return convAlgoRef(); }

/**
 * Winograd F(4x4, 3x3) (fp32 only in oneDNN 2.x) for stride-1 3x3 convolutions with enough channels:
 * measured 1.3-2.5x faster than direct on 64-256 channels here; direct wins on thin layers (16
 * channels) and is the only choice for strides, 1x1 and bf16. Accuracy: ~2e-6 relative to direct.
 */
algorithm algoFor(const dims& xs, const dims& ws, int stride) {
  algorithm a = convAlgo();
  if (int(a) != kHeuristic) return a;
  bool wino = actType == dt::f32 && stride == 1 && ws[2] == 3 && ws[3] == 3 && xs[1] >= 32 && ws[0] >= 32;
  return wino ? algorithm::convolution_winograd : algorithm::convolution_direct;
}

/** bf16 convolutions produce bf16 weight gradients (as PyTorch autocast does) unless WRN_BF16_DW=f32. */
bool bf16WeightGrads() {
  static bool v = [] {
    const char* e = std::getenv("WRN_BF16_DW");
    return !(e && std::string(e) == "f32");
  }();
  return v;
}

inline float bf2f(uint16_t v) {
  uint32_t u = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f2bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

/** Physical offset (in elements) of a logical index for any blocked memory descriptor. */
struct Layout {
  int nd = 0;
  int64_t dims_[DNNL_MAX_NDIMS], strides[DNNL_MAX_NDIMS], perDim[DNNL_MAX_NDIMS];
  int nblk = 0;
  int64_t blk[DNNL_MAX_NDIMS], after[DNNL_MAX_NDIMS], inner[DNNL_MAX_NDIMS];
  int idx[DNNL_MAX_NDIMS];
  int64_t offset0 = 0;

  explicit Layout(const memory::desc& md) {
    const auto& d = md.data;
    if (d.format_kind != dnnl_blocked) fail("native backend: unexpected memory format");
    nd = d.ndims;
    const auto& b = d.format_desc.blocking;
    offset0 = d.offset0;
    for (int i = 0; i < nd; i++) {
      dims_[i] = d.dims[i];
      strides[i] = b.strides[i];
      perDim[i] = 1;
    }
    nblk = b.inner_nblks;
    for (int k = 0; k < nblk; k++) {
      blk[k] = b.inner_blks[k];
      idx[k] = b.inner_idxs[k];
      perDim[idx[k]] *= blk[k];
    }
    for (int k = 0; k < nblk; k++) {
      after[k] = 1;
      inner[k] = 1;
      for (int j = k + 1; j < nblk; j++) {
        if (idx[j] == idx[k]) after[k] *= blk[j];
        inner[k] *= blk[j];
      }
    }
  }

  int64_t off(const int64_t* i) const {
    int64_t o = offset0;
    for (int d = 0; d < nd; d++) o += (i[d] / perDim[d]) * strides[d];
    for (int k = 0; k < nblk; k++) o += ((i[idx[k]] / after[k]) % blk[k]) * inner[k];
    return o;
  }
};

/** Calls f(logicalIndex, physicalOffset) for every element, in parallel over rows of the last dim. */
template <class F>
void forEachElement(const memory::desc& md, F f) {
  Layout L(md);
  const int last = L.nd - 1;
  const int64_t len = L.dims_[last];
  const int64_t rows = product(md.dims()) / (len > 0 ? len : 1);
  bool lastBlocked = false;
  for (int k = 0; k < L.nblk; k++) lastBlocked |= L.idx[k] == last;
  const int64_t step = L.strides[last];
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    int64_t c[DNNL_MAX_NDIMS];
    int64_t rem = r;
    for (int d = last - 1; d >= 0; d--) {
      c[d] = rem % L.dims_[d];
      rem /= L.dims_[d];
    }
    c[last] = 0;
    const int64_t base = L.off(c);
    if (!lastBlocked) {
      for (int64_t j = 0; j < len; j++) f(r * len + j, base + j * step);
    } else {
      for (int64_t j = 0; j < len; j++) {
        c[last] = j;
        f(r * len + j, L.off(c));
      }
    }
  }
}

// ---- convolution -----------------------------------------------------------------------------------
struct ConvEntry {
  convolution_forward::primitive_desc fwd;
  convolution_forward fwdP;
  bool hasBwdData = false, hasBwdWeights = false;
  convolution_backward_data::primitive_desc bwdData;
  convolution_backward_data bwdDataP;
  convolution_backward_weights::primitive_desc bwdWeights;
  convolution_backward_weights bwdWeightsP;
  // Backward-weights variants and the online choice between them (see kConv2dBackwardWeights):
  // 1 = planned for one thread; 2 = one single-threaded primitive per thread on a slice of the batch.
  bool hasBwdWeights1 = false;
  convolution_backward_weights::primitive_desc bwdWeights1;
  convolution_backward_weights bwdWeightsP1;
  int splitState = 0;  // 0 unknown, 1 available, -1 not applicable
  convolution_backward_weights::primitive_desc bwdWeightsS;
  convolution_backward_weights bwdWeightsPS;
  memory::desc splitSrc, splitDiffDst;  // full-batch descriptors whose batch slices the split primitive reads
  double ema[3] = {0, 0, 0};
  int samples[3] = {0, 0, 0};
  int64_t calls = 0;
  dims strides, padL, padR;
  algorithm algo;
  memory::desc src, wei, dst, diffWei;
};
Cache<ConvEntry> convCache;

ConvEntry& convEntry(const dims& xs, const dims& ws, int stride, int pad, bool inference = false) {
  if (xs.size() != 4 || ws.size() != 4 || xs[1] != ws[1]) fail("native conv2d: input and weight do not match (NCHW x OIHW)");
  if (stride < 1 || pad < 0) fail("native conv2d: stride must be >= 1 and padding >= 0");
  std::string key = dimsKey(xs) + dimsKey(ws) + std::to_string(stride) + ',' + std::to_string(pad) + ',' +
                    std::to_string(int(actType)) + ',' + std::to_string(int(convAlgo())) + (inference ? "i" : "t");
  const prop_kind prop = inference ? prop_kind::forward_inference : prop_kind::forward_training;
  return cached(convCache, key, [&](ConvEntry& e) {
    int64_t oh = (xs[2] + 2 * pad - ws[2]) / stride + 1, ow = (xs[3] + 2 * pad - ws[3]) / stride + 1;
    if (oh <= 0 || ow <= 0) fail("native conv2d: kernel larger than the padded input");
    e.strides = {stride, stride};
    e.padL = {pad, pad};
    e.padR = {(oh - 1) * stride + ws[2] - xs[2] - pad, (ow - 1) * stride + ws[3] - xs[3] - pad};
    e.src = memory::desc(xs, actType, tag::any);
    e.wei = memory::desc(ws, actType, tag::any);
    e.dst = memory::desc({xs[0], ws[0], oh, ow}, actType, tag::any);
    e.diffWei = memory::desc(ws, actType == dt::bf16 && bf16WeightGrads() ? dt::bf16 : dt::f32, tag::any);
    e.algo = algoFor(xs, ws, stride);
    try {
      convolution_forward::desc d(prop, e.algo, e.src, e.wei, e.dst, e.strides, e.padL, e.padR);
      e.fwd = convolution_forward::primitive_desc(d, defaultAttr(), eng());
    } catch (const dnnl::error&) {
      if (e.algo == algorithm::convolution_direct) throw;
      e.algo = algorithm::convolution_direct;
      convolution_forward::desc d(prop, e.algo, e.src, e.wei, e.dst, e.strides, e.padL, e.padR);
      e.fwd = convolution_forward::primitive_desc(d, defaultAttr(), eng());
    }
    e.fwdP = convolution_forward(e.fwd);
  });
}

// ---- batch normalization ---------------------------------------------------------------------------
struct BnEntry {
  batch_normalization_forward::primitive_desc fwd;
  batch_normalization_forward fwdP;
  bool hasBwd = false;
  batch_normalization_backward::primitive_desc bwd;
  batch_normalization_backward bwdP;
  normalization_flags flags;
};
Cache<BnEntry> bnCache;

std::string floatKey(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return std::to_string(u);
}

BnEntry& bnEntry(const memory::desc& md, float eps, bool training, bool fuseRelu) {
  std::string key = mdKey(md) + floatKey(eps) + (training ? "T" : "I") + (fuseRelu ? "R" : "");
  return cached(bnCache, key, [&](BnEntry& e) {
    e.flags = normalization_flags::use_scale | normalization_flags::use_shift;
    if (!training) e.flags = e.flags | normalization_flags::use_global_stats;
    if (fuseRelu) e.flags = e.flags | normalization_flags::fuse_norm_relu;
    batch_normalization_forward::desc d(training ? prop_kind::forward_training : prop_kind::forward_inference, md, eps,
                                        e.flags);
    e.fwd = batch_normalization_forward::primitive_desc(d, defaultAttr(), eng());
    e.fwdP = batch_normalization_forward(e.fwd);
  });
}

// ---- eltwise ---------------------------------------------------------------------------------------
struct EltEntry {
  eltwise_forward::primitive_desc fwd;
  eltwise_forward fwdP;
  bool hasBwd = false;
  eltwise_backward::primitive_desc bwd;
  eltwise_backward bwdP;
};
Cache<EltEntry> eltCache;

algorithm eltAlgo(int act, float& alpha) {
  alpha = 0.f;
  switch (act) {
    case kRelu: return algorithm::eltwise_relu;
    case kSilu: alpha = 1.f; return algorithm::eltwise_swish;
    case kGelu: return algorithm::eltwise_gelu_erf;
    default: fail("native backend: unknown activation");
  }
}

EltEntry& eltEntry(int act, const memory::desc& md) {
  std::string key = std::to_string(act) + ':' + mdKey(md);
  return cached(eltCache, key, [&](EltEntry& e) {
    float alpha;
    algorithm a = eltAlgo(act, alpha);
    eltwise_forward::desc d(prop_kind::forward_training, a, md, alpha, 0.f);
    e.fwd = eltwise_forward::primitive_desc(d, defaultAttr(), eng());
    e.fwdP = eltwise_forward(e.fwd);
  });
}

std::unique_ptr<Buf> eltFwd(int act, Buf& x) {
  EltEntry& e = eltEntry(act, x.md);
  auto y = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd, {{DNNL_ARG_SRC, mem(x)}, {DNNL_ARG_DST, mem(*y)}});
  return y;
}

std::unique_ptr<Buf> eltBwd(int act, Buf& dy, Buf& x) {
  EltEntry& e = eltEntry(act, x.md);
  if (!e.hasBwd) {
    float alpha;
    algorithm a = eltAlgo(act, alpha);
    eltwise_backward::desc d(a, x.md, x.md, alpha, 0.f);
    e.bwd = eltwise_backward::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdP = eltwise_backward(e.bwd);
    e.hasBwd = true;
  }
  std::unique_ptr<Buf> tmp;
  Buf& g = ensure(dy, e.bwd.diff_dst_desc(), tmp);
  auto dx = newBuf(e.bwd.diff_src_desc());
  exec(e.bwdP, e.bwd, {{DNNL_ARG_SRC, mem(x)}, {DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_DIFF_SRC, mem(*dx)}});
  return dx;
}

// ---- binary add ------------------------------------------------------------------------------------
struct BinEntry {
  binary::primitive_desc pd;
  binary prim;
};
Cache<BinEntry> binCache;

void binaryAdd(Buf& a, Buf& b, Buf& dst) {
  BinEntry& e = cached(binCache, mdKey(a.md), [&](BinEntry& e) {
    binary::desc d(algorithm::binary_add, a.md, a.md, a.md);
    e.pd = binary::primitive_desc(d, defaultAttr(), eng());
    e.prim = binary(e.pd);
  });
  exec(e.prim, e.pd, {{DNNL_ARG_SRC_0, mem(a)}, {DNNL_ARG_SRC_1, mem(b)}, {DNNL_ARG_DST, mem(dst)}});
}

std::unique_ptr<Buf> copyOf(Buf& a) { return shareOf(a); }

// ---- pooling ---------------------------------------------------------------------------------------
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

// ---- inner product ---------------------------------------------------------------------------------
struct IpEntry {
  inner_product_forward::primitive_desc fwd;
  inner_product_forward fwdP;
  bool hasBwd = false;
  inner_product_backward_data::primitive_desc bwdData;
  inner_product_backward_data bwdDataP;
  inner_product_backward_weights::primitive_desc bwdWeights;
  inner_product_backward_weights bwdWeightsP;
  memory::desc src, wei, bias, dst;
};
Cache<IpEntry> ipCache;

IpEntry& ipEntry(int64_t n, int64_t in, int64_t out, bool hasBias) {
  std::string key = std::to_string(n) + ',' + std::to_string(in) + ',' + std::to_string(out) + (hasBias ? "b" : "");
  return cached(ipCache, key, [&](IpEntry& e) {
    e.src = memory::desc({n, in}, dt::f32, tag::ab);
    e.wei = memory::desc({out, in}, dt::f32, tag::ab);
    e.bias = hasBias ? memory::desc({out}, dt::f32, tag::a) : memory::desc();
    e.dst = memory::desc({n, out}, dt::f32, tag::ab);
    inner_product_forward::desc d(prop_kind::forward_training, e.src, e.wei, e.bias, e.dst);
    e.fwd = inner_product_forward::primitive_desc(d, defaultAttr(), eng());
    e.fwdP = inner_product_forward(e.fwd);
  });
}

}  // namespace

// =====================================================================================================
// memory
// =====================================================================================================
int64_t kUpload(const float* data, const dims& shape) {
  auto b = newBuf(plainDesc(shape, dt::f32));
  std::memcpy(b->ptr, data, size_t(product(shape)) * sizeof(float));
  return reg(std::move(b));
}

void kRead(int64_t h, const dims& shape, float* out) {
  Buf* b = lookupBuf(h);
  checkSize(*b, shape, "read");
  size_t n = size_t(product(shape));
  if (b->lazyZero) {
    std::memset(out, 0, n * sizeof(float));
    return;
  }
  memory::desc plain = plainDesc(b->md.dims(), dt::f32);
  if (b->md == plain) {
    std::memcpy(out, b->ptr, n * sizeof(float));
    return;
  }
  reorderRaw(b->md, b->ptr, plain, out);
}

int64_t kZeros(const dims& shape) {
  auto b = std::make_unique<Buf>();
  b->md = plainDesc(shape, dt::f32);
  b->lazyZero = true;
  return reg(std::move(b));
}

int64_t kCopy(int64_t a) {
  Buf* b = lookupBuf(a);
  if (b->lazyZero) {
    auto z = std::make_unique<Buf>();
    z->md = b->md;
    z->lazyZero = true;
    return reg(std::move(z));
  }
  return reg(copyOf(*b));
}

// =====================================================================================================
// convolution
// =====================================================================================================
int64_t kConv2d(int64_t xh, const dims& xs, int64_t wh, const dims& ws, int stride, int pad, bool inference) {
  // Inference primitives (no backward will follow) may keep weights pre-transformed (Winograd).
  ConvEntry& e = convEntry(xs, ws, stride, pad, inference);
  Buf& x = live(xh);
  Buf& w = live(wh);
  std::unique_ptr<Buf> tx;
  Buf& xs2 = ensure(x, e.fwd.src_desc(), tx);
  void* wp = derivedFor(w, e.fwd.weights_desc());
  auto y = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd,
       {{DNNL_ARG_SRC, mem(xs2)}, {DNNL_ARG_WEIGHTS, mem(e.fwd.weights_desc(), wp)}, {DNNL_ARG_DST, mem(*y)}});
  return reg(std::move(y));
}

int64_t kConv2dBackwardData(int64_t dyh, int64_t wh, const dims& ws, const dims& xs, int stride, int pad) {
  ConvEntry& e = convEntry(xs, ws, stride, pad);
  if (!e.hasBwdData) {
    convolution_backward_data::desc d(e.algo, e.src, e.wei, e.dst, e.strides, e.padL, e.padR);
    e.bwdData = convolution_backward_data::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdDataP = convolution_backward_data(e.bwdData);
    e.hasBwdData = true;
  }
  Buf& dy = live(dyh);
  Buf& w = live(wh);
  std::unique_ptr<Buf> tdy;
  Buf& g = ensure(dy, e.bwdData.diff_dst_desc(), tdy);
  void* wp = derivedFor(w, e.bwdData.weights_desc());
  auto dx = newBuf(e.bwdData.diff_src_desc());
  exec(e.bwdDataP, e.bwdData,
       {{DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_WEIGHTS, mem(e.bwdData.weights_desc(), wp)}, {DNNL_ARG_DIFF_SRC, mem(*dx)}});
  return reg(std::move(dx));
}

namespace {
/** Tuning of backward-weights threading, from its own timings ($WRN_BWDW_TUNE=0 disables). */
bool bwdwTuning() {
  static bool v = [] {
    const char* e = std::getenv("WRN_BWDW_TUNE");
    return !(e && std::string(e) == "0");
  }();
  return v;
}

/**
 * Which backward-weights primitive to run: 0 (all threads), 1 (planned for one thread) or 2 (each
 * thread runs a one-thread primitive on its slice of the batch; the partial gradients are summed).
 * oneDNN's multi-threaded backward-weights kernels reduce across threads with spinning barriers and
 * scale badly on some shapes (bf16, 640 channels at 8x8: two threads slower than one here, and up to
 * 6x slower when another process shares a core), while they win on others. Each variant's first run
 * is a warm-up; then the fastest by moving average runs, and the others are re-timed in turn every
 * 16th call, so the choice follows the shapes and the load.
 */
int chooseBwdWeights(const ConvEntry& e, int nvariants) {
  if (e.calls < 2 * nvariants) return int(e.calls / 2);
  int best = 0;
  for (int v = 1; v < nvariants; v++) {
    if (e.ema[v] < e.ema[best]) best = v;
  }
  if (e.calls % 16 == 0) return (best + 1 + int((e.calls / 16) % (nvariants - 1))) % nvariants;
  return best;
}

/** `md` with another batch size (the batch must be the outermost, unblocked dimension). */
memory::desc withBatch(const memory::desc& md, int64_t n) {
  memory::desc out = md;
  out.data.dims[0] = n;
  out.data.padded_dims[0] = n;
  return out;
}

bool batchOutermost(const memory::desc& md) {
  const auto& d = md.data;
  if (d.format_kind != dnnl_blocked || d.offset0 != 0) return false;
  const auto& b = d.format_desc.blocking;
  for (int k = 0; k < b.inner_nblks; k++) {
    if (b.inner_idxs[k] == 0) return false;
  }
  // Dense with the batch outermost: one image is strides[0] elements and the whole tensor n of them.
  return int64_t(md.get_size()) == b.strides[0] * d.dims[0] * int64_t(memory::data_type_size(md.data_type()));
}

template <class Make>
auto withThreads(int n, Make make) {
  const int prev = omp_get_max_threads();
  omp_set_num_threads(n);  // oneDNN plans a primitive for the threads it sees at creation
  try {
    auto r = make();
    omp_set_num_threads(prev);
    return r;
  } catch (...) {
    omp_set_num_threads(prev);
    throw;
  }
}

/** Prepares variant 2 if the shapes allow it (batch divisible by the threads, batch-outermost layouts). */
void prepareSplit(ConvEntry& e, const dims& xs, const dims& ws, int threads) {
  e.splitState = -1;
  const int64_t n = xs[0];
  if (n % threads != 0 || n / threads < 1) return;
  const int64_t part = n / threads;
  dims yd = e.dst.dims();
  memory::desc src({part, xs[1], xs[2], xs[3]}, e.src.data_type(), tag::any);
  memory::desc dst({part, yd[1], yd[2], yd[3]}, e.dst.data_type(), tag::any);
  // The partial gradients are summed in fp32 whatever the precision of the final gradient.
  memory::desc dw(ws, dt::f32, tag::any);
  auto made = withThreads(1, [&] {
    convolution_forward::desc fd(prop_kind::forward_training, e.algo, src, e.wei, dst, e.strides, e.padL, e.padR);
    auto hint = convolution_forward::primitive_desc(fd, defaultAttr(), eng());
    convolution_backward_weights::desc d(e.algo, src, dw, dst, e.strides, e.padL, e.padR);
    auto pd = convolution_backward_weights::primitive_desc(d, defaultAttr(), eng(), hint);
    return std::make_pair(pd, convolution_backward_weights(pd));
  });
  const auto& pd = made.first;
  if (!batchOutermost(pd.src_desc()) || !batchOutermost(pd.diff_dst_desc())) return;
  e.bwdWeightsS = pd;
  e.bwdWeightsPS = made.second;
  e.splitSrc = withBatch(pd.src_desc(), n);
  e.splitDiffDst = withBatch(pd.diff_dst_desc(), n);
  e.splitState = 1;
}

/** Variant 2: per-thread streams and scratchpads, partial fp32 gradients summed into `out`. */
void runSplit(ConvEntry& e, Buf& x, Buf& dy, Buf& out, int threads) {
  static std::vector<dnnl::stream> streams;
  while (int(streams.size()) < threads) streams.emplace_back(eng());
  const auto& pd = e.bwdWeightsS;
  const memory::desc wmd = pd.diff_weights_desc();
  const size_t wbytes = wmd.get_size();
  const size_t sbytes = pd.scratchpad_desc().get_size();
  // One block: per thread a partial gradient and a scratchpad.
  const size_t per = ((wbytes + 4095) & ~size_t(4095)) + ((sbytes + 4095) & ~size_t(4095));
  auto block = std::make_shared<Mem>(poolAlloc(per * threads), per * threads);
  std::unique_ptr<Buf> tx, tdy;
  Buf& xx = ensure(x, e.splitSrc, tx);
  Buf& gg = ensure(dy, e.splitDiffDst, tdy);
  const size_t xpart = xx.bytes / threads, dpart = gg.bytes / threads;
  char* base = static_cast<char*>(block->ptr);
  std::vector<std::string> errors(threads);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    try {
      char* mine = base + per * t;
      dnnl_exec_arg_t args[4];
      memory ms(pd.src_desc(), eng(), static_cast<char*>(xx.ptr) + xpart * t);
      memory md(pd.diff_dst_desc(), eng(), static_cast<char*>(gg.ptr) + dpart * t);
      memory mw(wmd, eng(), mine);
      memory msp(pd.scratchpad_desc(), eng(), mine + ((wbytes + 4095) & ~size_t(4095)));
      args[0] = {DNNL_ARG_SRC, ms.get()};
      args[1] = {DNNL_ARG_DIFF_DST, md.get()};
      args[2] = {DNNL_ARG_DIFF_WEIGHTS, mw.get()};
      args[3] = {DNNL_ARG_SCRATCHPAD, msp.get()};
      dnnl_status_t st = dnnl_primitive_execute(e.bwdWeightsPS.get(), streams[t].get(), 4, args);
      if (st != dnnl_success) errors[t] = "status " + std::to_string(int(st));
    } catch (const std::exception& ex) {
      errors[t] = ex.what();
    }
  }
  for (auto& err : errors) {
    if (!err.empty()) fail("native conv2d backward weights (batch split): " + err);
  }
  // Sum the partials into the first (fp32, same layout), then convert into the output's descriptor.
  float* acc = reinterpret_cast<float*>(base);
  const int64_t nw = int64_t(wbytes / sizeof(float));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < nw; i++) {
    float v = acc[i];
    for (int t = 1; t < threads; t++) v += reinterpret_cast<const float*>(base + per * t)[i];
    acc[i] = v;
  }
  reorderRaw(wmd, acc, out.md, out.ptr);
}
}  // namespace

int64_t kConv2dBackwardWeights(int64_t dyh, int64_t xh, const dims& xs, const dims& ws, int stride, int pad) {
  ConvEntry& e = convEntry(xs, ws, stride, pad);
  if (!e.hasBwdWeights) {
    convolution_backward_weights::desc d(e.algo, e.src, e.diffWei, e.dst, e.strides, e.padL, e.padR);
    e.bwdWeights = convolution_backward_weights::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdWeightsP = convolution_backward_weights(e.bwdWeights);
    e.hasBwdWeights = true;
  }
  const int threads = omp_get_max_threads();
  const bool tune = threads > 1 && bwdwTuning();
  if (tune && e.splitState == 0) prepareSplit(e, xs, ws, threads);
  const int nvariants = e.splitState == 1 ? 3 : 2;
  int v = tune ? chooseBwdWeights(e, nvariants) : 0;
  if (v == 1 && !e.hasBwdWeights1) {
    auto made = withThreads(1, [&] {
      convolution_backward_weights::desc d(e.algo, e.src, e.diffWei, e.dst, e.strides, e.padL, e.padR);
      auto pd = convolution_backward_weights::primitive_desc(d, defaultAttr(), eng(), e.fwd);
      return std::make_pair(pd, convolution_backward_weights(pd));
    });
    e.bwdWeights1 = made.first;
    e.bwdWeightsP1 = made.second;
    e.hasBwdWeights1 = true;
  }
  Buf& dy = live(dyh);
  Buf& x = live(xh);
  // Every variant returns the gradient in variant 0's descriptor (the one parameters adopt).
  auto dw = newBuf(e.bwdWeights.diff_weights_desc());
  const double t0 = omp_get_wtime();
  if (v == 2) {
    runSplit(e, x, dy, *dw, threads);
  } else {
    const auto& pd = v == 1 ? e.bwdWeights1 : e.bwdWeights;
    const auto& prim = v == 1 ? e.bwdWeightsP1 : e.bwdWeightsP;
    std::unique_ptr<Buf> tdy, tx, tw;
    Buf& g = ensure(dy, pd.diff_dst_desc(), tdy);
    Buf& xx = ensure(x, pd.src_desc(), tx);
    const bool same = pd.diff_weights_desc() == dw->md;
    if (!same) tw = newBuf(pd.diff_weights_desc());
    Buf& target = same ? *dw : *tw;
    exec(prim, pd, {{DNNL_ARG_SRC, mem(xx)}, {DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_DIFF_WEIGHTS, mem(target)}});
    if (!same) reorderRaw(tw->md, tw->ptr, dw->md, dw->ptr);
  }
  const double dt = omp_get_wtime() - t0;
  if (tune) {
    e.samples[v]++;
    if (e.samples[v] == 1) e.ema[v] = 1e30;  // first run: warm-up, not timed
    else e.ema[v] = e.samples[v] == 2 ? dt : 0.7 * e.ema[v] + 0.3 * dt;
    e.calls++;
  }
  return reg(std::move(dw));
}

// =====================================================================================================
// batch normalization
// =====================================================================================================
namespace {
memory::desc channelDesc(int64_t c) { return memory::desc({c}, dt::f32, tag::a); }

float* channelPtr(Buf& b, int64_t c, std::unique_ptr<Buf>& tmp) {
  return static_cast<float*>(ensure(b, channelDesc(c), tmp).ptr);
}

float* channelInPlace(int64_t h, int64_t c) {
  Buf& b = *lookupBuf(h);
  memory::desc want = channelDesc(c);
  if (b.lazyZero) materialize(b, &want);
  if (!(b.md == want)) {
    // Keep the handle, replace its memory by a plain f32 copy (running statistics are updated in place).
    auto plain = reorderTo(b, want);
    b.md = want;
    b.adopt(plain->mem);
  }
  makeUnique(b);
  b.version++;
  b.clearDerived();
  return static_cast<float*>(b.ptr);
}
}  // namespace

std::pair<int64_t, int64_t> kBatchNormTrain(int64_t xh, const dims& xs, int64_t gh, int64_t bh, int64_t rmh,
                                            int64_t rvh, float momentum, float eps, int act) {
  Buf& x = live(xh);
  checkSize(x, xs, "batchNormTrain");
  dims d = x.md.dims();
  if (d.size() < 2) fail("native batchNormTrain: expected NCHW input");
  int64_t c = d[1];
  bool fuseRelu = act == kRelu;
  BnEntry& e = bnEntry(x.md, eps, true, fuseRelu);
  std::unique_ptr<Buf> tg, tb;
  float* gamma = channelPtr(*lookupBuf(gh), c, tg);
  float* beta = channelPtr(*lookupBuf(bh), c, tb);
  auto saved = std::make_unique<Saved>();
  saved->activation = act;
  auto mean = newBuf(channelDesc(c));
  auto var = newBuf(channelDesc(c));
  auto y = newBuf(e.fwd.dst_desc());
  args_t a{{DNNL_ARG_SRC, mem(x)},
           {DNNL_ARG_DST, mem(*y)},
           {DNNL_ARG_SCALE, mem(channelDesc(c), gamma)},
           {DNNL_ARG_SHIFT, mem(channelDesc(c), beta)},
           {DNNL_ARG_MEAN, mem(*mean)},
           {DNNL_ARG_VARIANCE, mem(*var)}};
  std::unique_ptr<Buf> ws;
  if (fuseRelu) {
    ws = newBuf(e.fwd.workspace_desc());
    a.insert({DNNL_ARG_WORKSPACE, mem(*ws)});
  }
  exec(e.fwdP, e.fwd, a);

  // Running statistics (PyTorch: unbiased variance).
  int64_t n = product(d) / c;
  double unbias = n > 1 ? double(n) / double(n - 1) : 1.0;
  float* rm = channelInPlace(rmh, c);
  float* rv = channelInPlace(rvh, c);
  const float* m = static_cast<float*>(mean->ptr);
  const float* v = static_cast<float*>(var->ptr);
  for (int64_t i = 0; i < c; i++) {
    rm[i] = float((1.0 - momentum) * rm[i] + momentum * m[i]);
    rv[i] = float((1.0 - momentum) * rv[i] + momentum * v[i] * unbias);
  }

  std::unique_ptr<Buf> out = std::move(y);
  std::unique_ptr<Buf> z;
  if (act == kSilu || act == kGelu) {
    z = std::move(out);
    out = eltFwd(act, *z);
  }
  saved->bufs.push_back(std::move(mean));
  saved->bufs.push_back(std::move(var));
  saved->bufs.push_back(std::move(ws));
  saved->bufs.push_back(std::move(z));
  int64_t yh = reg(std::move(out));
  return {yh, registerObj(std::move(saved))};
}

int64_t kBatchNormInfer(int64_t xh, const dims& xs, int64_t gh, int64_t bh, int64_t rmh, int64_t rvh, float eps,
                        int act) {
  Buf& x = live(xh);
  checkSize(x, xs, "batchNormInfer");
  int64_t c = x.md.dims()[1];
  BnEntry& e = bnEntry(x.md, eps, false, act == kRelu);
  std::unique_ptr<Buf> tg, tb, tm, tv;
  float* gamma = channelPtr(*lookupBuf(gh), c, tg);
  float* beta = channelPtr(*lookupBuf(bh), c, tb);
  float* rm = channelPtr(*lookupBuf(rmh), c, tm);
  float* rv = channelPtr(*lookupBuf(rvh), c, tv);
  auto y = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd,
       {{DNNL_ARG_SRC, mem(x)},
        {DNNL_ARG_DST, mem(*y)},
        {DNNL_ARG_SCALE, mem(channelDesc(c), gamma)},
        {DNNL_ARG_SHIFT, mem(channelDesc(c), beta)},
        {DNNL_ARG_MEAN, mem(channelDesc(c), rm)},
        {DNNL_ARG_VARIANCE, mem(channelDesc(c), rv)}});
  if (act == kSilu || act == kGelu) y = eltFwd(act, *y);
  return reg(std::move(y));
}

std::array<int64_t, 3> kBatchNormBackward(int64_t dyh, int64_t xh, const dims& xs, int64_t gh, int64_t bh,
                                          int64_t sh, float eps, int act) {
  Buf& x = live(xh);
  Buf& dy0 = live(dyh);
  Saved& s = *lookupSaved(sh);
  int64_t c = x.md.dims()[1];
  bool fuseRelu = act == kRelu;
  BnEntry& e = bnEntry(x.md, eps, true, fuseRelu);
  if (!e.hasBwd) {
    batch_normalization_backward::desc d(prop_kind::backward, x.md, x.md, eps, e.flags);
    e.bwd = batch_normalization_backward::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdP = batch_normalization_backward(e.bwd);
    e.hasBwd = true;
  }
  std::unique_ptr<Buf> dz;
  Buf* dy = &dy0;
  if (act == kSilu || act == kGelu) {
    dz = eltBwd(act, dy0, *s.bufs[3]);
    dy = dz.get();
  }
  std::unique_ptr<Buf> tdy, tg, tb;
  Buf& g = ensure(*dy, e.bwd.diff_dst_desc(), tdy);
  float* gamma = channelPtr(*lookupBuf(gh), c, tg);
  float* beta = channelPtr(*lookupBuf(bh), c, tb);
  auto dx = newBuf(e.bwd.diff_src_desc());
  auto dgamma = newBuf(channelDesc(c));
  auto dbeta = newBuf(channelDesc(c));
  args_t a{{DNNL_ARG_SRC, mem(x)},
           {DNNL_ARG_DIFF_DST, mem(g)},
           {DNNL_ARG_MEAN, mem(*s.bufs[0])},
           {DNNL_ARG_VARIANCE, mem(*s.bufs[1])},
           {DNNL_ARG_SCALE, mem(channelDesc(c), gamma)},
           {DNNL_ARG_SHIFT, mem(channelDesc(c), beta)},  // oneDNN 2.6 needs it (see notes/engine.md)
           {DNNL_ARG_DIFF_SRC, mem(*dx)},
           {DNNL_ARG_DIFF_SCALE, mem(*dgamma)},
           {DNNL_ARG_DIFF_SHIFT, mem(*dbeta)}};
  if (fuseRelu) a.insert({DNNL_ARG_WORKSPACE, mem(*s.bufs[2])});
  exec(e.bwdP, e.bwd, a);
  return {reg(std::move(dx)), reg(std::move(dgamma)), reg(std::move(dbeta))};
}

// =====================================================================================================
// elementwise
// =====================================================================================================
int64_t kActivation(int act, int64_t xh, const dims& shape) {
  Buf& x = live(xh);
  checkSize(x, shape, "activation");
  if (act == kIdentity) return reg(copyOf(x));
  return reg(eltFwd(act, x));
}

int64_t kActivationBackward(int act, int64_t dyh, int64_t xh, const dims& shape) {
  Buf& dy = live(dyh);
  checkSize(dy, shape, "activationBackward");
  if (act == kIdentity) return reg(copyOf(dy));
  Buf& x = live(xh);
  return reg(eltBwd(act, dy, x));
}

int64_t kDropout(int64_t xh, const dims& shape, double p, uint32_t seed) {
  Buf& x = live(xh);
  checkSize(x, shape, "dropout");
  if (p <= 0) return reg(copyOf(x));
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
  if (x.md.data_type() == dt::bf16) {
    const uint16_t* src = static_cast<const uint16_t*>(x.ptr);
    uint16_t* dst = static_cast<uint16_t*>(y->ptr);
    forEachElement(x.md, [&](int64_t i, int64_t o) { dst[o] = keep(i) ? f2bf(bf2f(src[o]) * scale) : 0; });
  } else if (x.md.data_type() == dt::f32) {
    const float* src = static_cast<const float*>(x.ptr);
    float* dst = static_cast<float*>(y->ptr);
    forEachElement(x.md, [&](int64_t i, int64_t o) { dst[o] = keep(i) ? src[o] * scale : 0.f; });
  } else {
    fail("native dropout: unsupported data type");
  }
  return reg(std::move(y));
}

int64_t kAdd(int64_t ah, int64_t bh, const dims& shape) {
  Buf& a = live(ah);
  Buf& b = live(bh);
  checkSize(a, shape, "add");
  checkSize(b, shape, "add");
  std::unique_ptr<Buf> tb;
  Buf& bb = ensure(b, a.md, tb);
  auto y = newBuf(a.md);
  binaryAdd(a, bb, *y);
  return reg(std::move(y));
}

void kAddInPlace(int64_t ah, int64_t bh, const dims& shape) {
  Buf& a = *lookupBuf(ah);
  Buf& b = *lookupBuf(bh);
  checkSize(a, shape, "addInPlace");
  checkSize(b, shape, "addInPlace");
  if (b.lazyZero) return;
  a.version++;
  a.clearDerived();
  if (a.lazyZero) {
    // 0 + b: share b's memory and layout (copy-on-write; gradient copies cost nothing).
    a.md = b.md;
    a.adopt(b.mem);
    a.lazyZero = false;
    return;
  }
  std::unique_ptr<Buf> tb;
  Buf& bb = ensure(b, a.md, tb);
  if (a.shared()) {
    // Copy-on-write: write the sum to fresh memory instead of copying a first.
    auto out = newBuf(a.md);
    binaryAdd(a, bb, *out);
    a.adopt(out->mem);
    return;
  }
  binaryAdd(a, bb, a);
}

// =====================================================================================================
// pooling
// =====================================================================================================
int64_t kGlobalAvgPool(int64_t xh, const dims& xs) {
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

int64_t kGlobalAvgPoolBackward(int64_t dyh, const dims& xs) {
  if (xs.size() != 4) fail("native globalAvgPoolBackward: expected NCHW");
  Buf& dy0 = live(dyh);
  std::unique_ptr<Buf> tdy;
  const int64_t n = xs[0], c = xs[1], hw = xs[2] * xs[3];
  const float* g = static_cast<const float*>(ensure(dy0, plainDesc({n, c}, dt::f32), tdy).ptr);
  const bool blocked = c % 16 == 0;
  memory::desc md(xs, actType, blocked ? tag::aBcd16b : tag::abcd);
  auto dx = newBuf(md);
  const float inv = 1.f / float(hw);
  const bool bf = actType == dt::bf16;
  void* out = dx->ptr;
  if (blocked) {
    const int64_t cb = c / 16;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++) {
      for (int64_t b = 0; b < cb; b++) {
        float v[16];
        for (int k = 0; k < 16; k++) v[k] = g[i * c + b * 16 + k] * inv;
        int64_t base = (i * cb + b) * hw * 16;
        if (bf) {
          uint16_t vb[16];
          for (int k = 0; k < 16; k++) vb[k] = f2bf(v[k]);
          uint16_t* o = static_cast<uint16_t*>(out) + base;
          for (int64_t p = 0; p < hw; p++) std::memcpy(o + p * 16, vb, sizeof vb);
        } else {
          float* o = static_cast<float*>(out) + base;
          for (int64_t p = 0; p < hw; p++) std::memcpy(o + p * 16, v, sizeof v);
        }
      }
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * c; r++) {
      float v = g[r] * inv;
      if (bf) {
        uint16_t vb = f2bf(v);
        uint16_t* o = static_cast<uint16_t*>(out) + r * hw;
        for (int64_t p = 0; p < hw; p++) o[p] = vb;
      } else {
        float* o = static_cast<float*>(out) + r * hw;
        for (int64_t p = 0; p < hw; p++) o[p] = v;
      }
    }
  }
  return reg(std::move(dx));
}

std::pair<int64_t, int64_t> kMaxPool2d(int64_t xh, const dims& xs, int kernel, int stride, int pad) {
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
  s->mds.push_back(x.md);
  return {reg(std::move(y)), registerObj(std::move(s))};
}

int64_t kMaxPool2dBackward(int64_t dyh, const dims& xs, int64_t sh) {
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

// =====================================================================================================
// linear
// =====================================================================================================
int64_t kLinear(int64_t xh, const dims& xs, int64_t wh, const dims& ws, int64_t bh) {
  if (xs.size() != 2 || ws.size() != 2 || xs[1] != ws[1]) fail("native linear: input and weight do not match");
  IpEntry& e = ipEntry(xs[0], xs[1], ws[0], bh >= 0);
  Buf& x = live(xh);
  Buf& w = live(wh);
  std::unique_ptr<Buf> tx, tb;
  Buf& xx = ensure(x, e.src, tx);
  void* wp = derivedFor(w, e.wei);
  auto y = newBuf(e.dst);
  args_t a{{DNNL_ARG_SRC, mem(xx)}, {DNNL_ARG_WEIGHTS, mem(e.wei, wp)}, {DNNL_ARG_DST, mem(*y)}};
  if (bh >= 0) a.insert({DNNL_ARG_BIAS, mem(ensure(live(bh), e.bias, tb))});
  exec(e.fwdP, e.fwd, a);
  return reg(std::move(y));
}

std::array<int64_t, 3> kLinearBackward(int64_t dyh, int64_t xh, const dims& xs, int64_t wh, const dims& ws,
                                       bool hasBias) {
  IpEntry& e = ipEntry(xs[0], xs[1], ws[0], hasBias);
  if (!e.hasBwd) {
    inner_product_backward_data::desc dd(e.src, e.wei, e.dst);
    e.bwdData = inner_product_backward_data::primitive_desc(dd, defaultAttr(), eng(), e.fwd);
    e.bwdDataP = inner_product_backward_data(e.bwdData);
    if (hasBias) {
      inner_product_backward_weights::desc dw(e.src, e.wei, e.bias, e.dst);
      e.bwdWeights = inner_product_backward_weights::primitive_desc(dw, defaultAttr(), eng(), e.fwd);
    } else {
      inner_product_backward_weights::desc dw(e.src, e.wei, e.dst);
      e.bwdWeights = inner_product_backward_weights::primitive_desc(dw, defaultAttr(), eng(), e.fwd);
    }
    e.bwdWeightsP = inner_product_backward_weights(e.bwdWeights);
    e.hasBwd = true;
  }
  Buf& dy = live(dyh);
  Buf& x = live(xh);
  Buf& w = live(wh);
  std::unique_ptr<Buf> tdy, tx;
  Buf& g = ensure(dy, e.dst, tdy);
  Buf& xx = ensure(x, e.src, tx);
  void* wp = derivedFor(w, e.wei);
  auto dx = newBuf(e.src);
  exec(e.bwdDataP, e.bwdData, {{DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_WEIGHTS, mem(e.wei, wp)}, {DNNL_ARG_DIFF_SRC, mem(*dx)}});
  auto dw = newBuf(e.wei);
  std::unique_ptr<Buf> db;
  args_t a{{DNNL_ARG_SRC, mem(xx)}, {DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_DIFF_WEIGHTS, mem(*dw)}};
  if (hasBias) {
    db = newBuf(e.bias);
    a.insert({DNNL_ARG_DIFF_BIAS, mem(*db)});
  }
  exec(e.bwdWeightsP, e.bwdWeights, a);
  return {reg(std::move(dx)), reg(std::move(dw)), hasBias ? reg(std::move(db)) : -1};
}

// =====================================================================================================
// loss
// =====================================================================================================
std::pair<double, int64_t> kSoftmaxCrossEntropy(int64_t lh, const dims& shape, const int32_t* labels,
                                                double smoothing) {
  if (shape.size() != 2) fail("native softmaxCrossEntropy: expected [N,K] logits");
  const int64_t n = shape[0], k = shape[1];
  Buf& l0 = live(lh);
  std::unique_ptr<Buf> tl;
  const float* logits = static_cast<const float*>(ensure(l0, plainDesc(shape, dt::f32), tl).ptr);
  auto d = newBuf(plainDesc(shape, dt::f32));
  float* g = static_cast<float*>(d->ptr);
  double total = 0;
  const double off = smoothing / double(k), on = 1.0 - smoothing + off;
  for (int64_t i = 0; i < n; i++) {
    const float* row = logits + i * k;
    float* grow = g + i * k;
    double mx = row[0];
    for (int64_t j = 1; j < k; j++) mx = std::max(mx, double(row[j]));
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += std::exp(double(row[j]) - mx);
    double lse = mx + std::log(sum);
    int32_t y = labels[i];
    if (y < 0 || y >= k) fail("native softmaxCrossEntropy: label " + std::to_string(y) + " outside [0, " + std::to_string(k) + ")");
    double li = 0;
    for (int64_t j = 0; j < k; j++) {
      double t = j == y ? on : off;
      double logp = double(row[j]) - lse;
      li -= t * logp;
      grow[j] = float((std::exp(logp) - t) / double(n));
    }
    total += li;
  }
  return {total / double(n), reg(std::move(d))};
}

// =====================================================================================================
// optimizer
// =====================================================================================================
namespace {
/** Replaces a buffer's memory by its values in descriptor `md` (the handle stays the same). */
void relayoutInPlace(Buf& b, const memory::desc& md) {
  if (b.lazyZero) {
    materialize(b, &md);
    return;
  }
  if (b.md == md) return;
  auto fresh = reorderTo(b, md);
  b.md = md;
  b.adopt(fresh->mem);
  b.clearDerived();
}

/** `md` with another data type (same dims and blocking). */
memory::desc withType(const memory::desc& md, dt type) {
  if (md.data_type() == type) return md;
  memory::desc out = md;
  out.data.data_type = memory::convert_to_c(type);
  return out;
}

bool sameLayout(const memory::desc& a, const memory::desc& b) {
  return withType(a, dt::f32) == withType(b, dt::f32);
}
}  // namespace

void kSgdStep(int64_t ph, int64_t gh, int64_t bh, const dims& shape, const SgdOpts& o) {
  Buf& p = live(ph);
  checkSize(p, shape, "sgdStep");
  if (p.md.data_type() != dt::f32) fail("native sgdStep: parameters must be float32");
  Buf& g0 = live(gh);
  checkSize(g0, shape, "sgdStep gradient");
  // The parameter adopts its gradient's layout (for conv weights, the layout the convolutions use), so
  // that neither the update nor the next forward reorders; read() still returns the plain values.
  if (!sameLayout(p.md, g0.md) && g0.md.dims() == p.md.dims() && g0.md.data.format_kind == dnnl_blocked &&
      (g0.md.data_type() == dt::f32 || g0.md.data_type() == dt::bf16)) {
    relayoutInPlace(p, withType(g0.md, dt::f32));
  }
  makeUnique(p);
  const memory::desc pmd = p.md;
  std::unique_ptr<Buf> tg;
  Buf& g = sameLayout(g0.md, pmd) ? g0 : ensure(g0, pmd, tg);
  const bool gradBf16 = g.md.data_type() == dt::bf16;
  float* pp = static_cast<float*>(p.ptr);
  float* buf = nullptr;
  if (o.momentum != 0.f) {
    if (bh < 0) fail("native sgdStep: momentum needs a momentum buffer");
    Buf& mb = *lookupBuf(bh);
    relayoutInPlace(mb, pmd);
    makeUnique(mb);
    mb.version++;
    mb.clearDerived();
    buf = static_cast<float*>(mb.ptr);
  }
  const int64_t n = int64_t(p.bytes / sizeof(float));
  const float lr = o.lr, mom = o.momentum, damp = 1.f - o.dampening, wd = o.weightDecay;
  const bool nest = o.nesterov, first = o.firstStep;
  auto update = [&](auto gradAt) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
      float gi = gradAt(i) + wd * pp[i];
      if (buf) {
        float b = first ? gi : mom * buf[i] + damp * gi;
        buf[i] = b;
        gi = nest ? gi + mom * b : b;
      }
      pp[i] -= lr * gi;
    }
  };
  if (gradBf16) {
    const uint16_t* gg = static_cast<const uint16_t*>(g.ptr);
    update([gg](int64_t i) { return bf2f(gg[i]); });
  } else {
    const float* gg = static_cast<const float*>(g.ptr);
    update([gg](int64_t i) { return gg[i]; });
  }
  p.version++;
}

}  // namespace wrn

namespace wrn {

void kSetConvAlgo(const std::string& name) { convAlgoRef() = parseAlgo(name); }


int64_t kRelayout(int64_t h, int blocked) {
  Buf& b = live(h);
  dims d = b.md.dims();
  tag t = plainTag(d.size());
  if (blocked) {
    if (d.size() == 4) t = tag::aBcd16b;
  }
  return reg(reorderTo(b, memory::desc(d, actType, t)));
}

std::string kDescribeLayout(int64_t h) {
  Buf& b = *lookupBuf(h);
  if (b.lazyZero) return "zero";
  const auto& d = b.md.data;
  std::string s = b.md.data_type() == dt::bf16 ? "bf16:" : b.md.data_type() == dt::f32 ? "f32:" : "other:";
  const auto& bl = d.format_desc.blocking;
  for (int k = 0; k < bl.inner_nblks; k++) s += std::to_string(bl.inner_blks[k]) + char('a' + bl.inner_idxs[k]);
  if (bl.inner_nblks == 0) s += "plain";
  return s;
}

}  // namespace wrn

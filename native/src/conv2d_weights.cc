// Convolution backward-weights and its threading variants.
//
// oneDNN's multi-threaded backward-weights kernels reduce across threads with spinning barriers and
// scale badly on some shapes (bf16, 640 channels at 8x8: two threads slower than one here, and up to
// 6x slower when another process shares a core), while they win on others. So each convolution can
// run one of three variants: 0, the primitive for all threads; 1, a primitive planned for one thread;
// 2, one single-threaded primitive per thread on its slice of the batch, the fp32 partial gradients
// summed in thread order. The caller chooses (src/backend/native/tuning.ts, from a committed table
// keyed by CPU, threads, precision and shapes): each variant is deterministic for a given thread
// count, and so is the choice, so a training run is reproducible bit for bit.
#include <omp.h>

#include "conv2d.h"
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

struct WeightsVariants {
  bool hasSingle = false;
  convolution_backward_weights::primitive_desc single;
  convolution_backward_weights singleP;
  int splitState = 0;  // 0 unknown, 1 available, -1 not applicable
  convolution_backward_weights::primitive_desc split;
  convolution_backward_weights splitP;
  memory::desc splitSrc, splitDiffDst;  // full-batch descriptors whose batch slices the split primitive reads
};

namespace {

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

void prepareSingle(ConvEntry& e, WeightsVariants& v) {
  auto made = withThreads(1, [&] {
    convolution_backward_weights::desc d(e.algo, e.src, e.diffWei, e.dst, e.strides, e.padL, e.padR);
    auto pd = convolution_backward_weights::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    return std::make_pair(pd, convolution_backward_weights(pd));
  });
  v.single = made.first;
  v.singleP = made.second;
  v.hasSingle = true;
}

/** Prepares variant 2 if the shapes allow it (batch divisible by the threads, batch-outermost layouts). */
void prepareSplit(ConvEntry& e, WeightsVariants& v, const dims& xs, const dims& ws, int threads) {
  v.splitState = -1;
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
  v.split = pd;
  v.splitP = made.second;
  v.splitSrc = withBatch(pd.src_desc(), n);
  v.splitDiffDst = withBatch(pd.diff_dst_desc(), n);
  v.splitState = 1;
}

/** Variant 2: per-thread streams and scratchpads, partial fp32 gradients summed into `out`. */
void runSplit(WeightsVariants& v, Buf& x, Buf& dy, Buf& out, int threads) {
  static std::vector<dnnl::stream> streams;
  while (int(streams.size()) < threads) streams.emplace_back(eng());
  const auto& pd = v.split;
  const memory::desc wmd = pd.diff_weights_desc();
  const size_t wbytes = wmd.get_size();
  const size_t sbytes = pd.scratchpad_desc().get_size();
  // One block: per thread a partial gradient and a scratchpad.
  const size_t wpad = (wbytes + 4095) & ~size_t(4095);
  const size_t per = wpad + ((sbytes + 4095) & ~size_t(4095));
  auto block = std::make_shared<Mem>(poolAlloc(per * threads), per * threads);
  std::unique_ptr<Buf> tx, tdy;
  Buf& xx = ensure(x, v.splitSrc, tx);
  Buf& gg = ensure(dy, v.splitDiffDst, tdy);
  const size_t xpart = xx.bytes / threads, dpart = gg.bytes / threads;
  char* base = static_cast<char*>(block->ptr);
  std::vector<std::string> errors(threads);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    try {
      char* mine = base + per * t;
      memory ms(pd.src_desc(), eng(), static_cast<char*>(xx.ptr) + xpart * t);
      memory md(pd.diff_dst_desc(), eng(), static_cast<char*>(gg.ptr) + dpart * t);
      memory mw(wmd, eng(), mine);
      memory msp(pd.scratchpad_desc(), eng(), mine + wpad);
      dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ms.get()},
                                 {DNNL_ARG_DIFF_DST, md.get()},
                                 {DNNL_ARG_DIFF_WEIGHTS, mw.get()},
                                 {DNNL_ARG_SCRATCHPAD, msp.get()}};
      dnnl_status_t st = dnnl_primitive_execute(v.splitP.get(), streams[t].get(), 4, args);
      if (st != dnnl_success) errors[t] = "status " + std::to_string(int(st));
    } catch (const std::exception& ex) {
      errors[t] = ex.what();
    }
  }
  for (auto& err : errors) {
    if (!err.empty()) fail("native conv2d backward weights (batch split): " + err);
  }
  // Sum the partials into the first (fp32, same layout), in thread order, then convert into the output's descriptor.
  float* acc = reinterpret_cast<float*>(base);
  const int64_t nw = int64_t(wbytes / sizeof(float));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < nw; i++) {
    float s = acc[i];
    for (int t = 1; t < threads; t++) s += reinterpret_cast<const float*>(base + per * t)[i];
    acc[i] = s;
  }
  reorderRaw(wmd, acc, out.md, out.ptr);
}

/** Variants 0 and 1: one primitive, its gradient reordered into `out`'s descriptor if it differs. */
void runPrimitive(const convolution_backward_weights::primitive_desc& pd, const convolution_backward_weights& prim,
                  Buf& x, Buf& dy, Buf& out) {
  std::unique_ptr<Buf> tdy, tx, tw;
  Buf& g = ensure(dy, pd.diff_dst_desc(), tdy);
  Buf& xx = ensure(x, pd.src_desc(), tx);
  const bool same = pd.diff_weights_desc() == out.md;
  if (!same) tw = newBuf(pd.diff_weights_desc());
  Buf& target = same ? out : *tw;
  exec(prim, pd, {{DNNL_ARG_SRC, mem(xx)}, {DNNL_ARG_DIFF_DST, mem(g)}, {DNNL_ARG_DIFF_WEIGHTS, mem(target)}});
  if (!same) reorderRaw(tw->md, tw->ptr, out.md, out.ptr);
}

int64_t conv2dBackwardWeights(int64_t dyh, int64_t xh, const dims& xs, const dims& ws, int stride, int pad, dt type,
                              int variant) {
  if (variant < 0 || variant > 2) fail("native conv2dBackwardWeights: variant must be 0, 1 or 2, got " + std::to_string(variant));
  ConvEntry& e = convEntry(xs, ws, stride, pad, type, false);
  if (!e.hasBwdWeights) {
    convolution_backward_weights::desc d(e.algo, e.src, e.diffWei, e.dst, e.strides, e.padL, e.padR);
    e.bwdWeights = convolution_backward_weights::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdWeightsP = convolution_backward_weights(e.bwdWeights);
    e.variants = std::make_shared<WeightsVariants>();
    e.hasBwdWeights = true;
  }
  WeightsVariants& v = *e.variants;
  const int threads = omp_get_max_threads();
  // With one thread every variant is variant 0; a split the shapes do not allow runs as variant 0.
  if (threads == 1) variant = 0;
  if (variant == 2 && v.splitState == 0) prepareSplit(e, v, xs, ws, threads);
  if (variant == 2 && v.splitState != 1) variant = 0;
  if (variant == 1 && !v.hasSingle) prepareSingle(e, v);
  Buf& dy = live(dyh);
  Buf& x = live(xh);
  // Every variant returns the gradient in variant 0's descriptor (the one parameters adopt).
  auto dw = newBuf(e.bwdWeights.diff_weights_desc());
  if (variant == 2) runSplit(v, x, dy, *dw, threads);
  else if (variant == 1) runPrimitive(v.single, v.singleP, x, dy, *dw);
  else runPrimitive(e.bwdWeights, e.bwdWeightsP, x, dy, *dw);
  return reg(std::move(dw));
}

}  // namespace

namespace api {

// conv2dBackwardWeights(dy, x, xs, ws, stride, pad, precision, variant)
Napi::Value conv2dBackwardWeights(const Info& info) {
  return handleOut(info.Env(), wrn::conv2dBackwardWeights(handleArg(info[0]), handleArg(info[1]), dimsArg(info[2]),
                                                          dimsArg(info[3]), intArg(info[4]), intArg(info[5]),
                                                          precisionArg(info[6]), intArg(info[7])));
}

}  // namespace api
}  // namespace wrn

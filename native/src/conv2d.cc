// Convolution forward and backward-data on oneDNN (backward-weights: conv2d_weights.cc). The compute
// precision and the mode (training or inference) are arguments of every call; activations keep the
// layouts oneDNN prefers (format_tag::any) and weights are reordered once per version (derivedFor).
#include <cstdlib>

#include "conv2d.h"
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

Cache<ConvEntry> convCache;

// `convolution_auto` is oneDNN's own choice; kHeuristic is ours (algoFor).
constexpr int kHeuristic = -1;

algorithm parseAlgo(const std::string& s) {
  if (s == "heuristic") return algorithm(kHeuristic);
  if (s == "auto") return algorithm::convolution_auto;
  if (s == "winograd") return algorithm::convolution_winograd;
  if (s == "direct") return algorithm::convolution_direct;
  fail("native backend: WRN_CONV_ALGO must be heuristic, direct, winograd or auto, got '" + s + "'");
}

/** The algorithm override of $WRN_CONV_ALGO, read once: the environment of the process, not state. */
algorithm envAlgo() {
  static const algorithm a = [] {
    const char* e = std::getenv("WRN_CONV_ALGO");
    return e ? parseAlgo(e) : algorithm(kHeuristic);
  }();
  return a;
}

/**
 * Winograd F(4x4, 3x3) (fp32 only in oneDNN 2.x) for stride-1 3x3 convolutions with enough channels:
 * measured 1.3-2.5x faster than direct on 64-256 channels here; direct wins on thin layers (16
 * channels) and is the only choice for strides, 1x1 and bf16. Accuracy: ~2e-6 relative to direct.
 */
algorithm algoFor(const dims& xs, const dims& ws, int stride, dt type) {
  algorithm a = envAlgo();
  if (int(a) != kHeuristic) return a;
  bool wino = type == dt::f32 && stride == 1 && ws[2] == 3 && ws[3] == 3 && xs[1] >= 32 && ws[0] >= 32;
  return wino ? algorithm::convolution_winograd : algorithm::convolution_direct;
}

/** bf16 convolutions produce bf16 weight gradients (as PyTorch autocast does) unless WRN_BF16_DW=f32. */
bool bf16WeightGrads() {
  static const bool v = [] {
    const char* e = std::getenv("WRN_BF16_DW");
    return !(e && std::string(e) == "f32");
  }();
  return v;
}

convolution_forward::primitive_desc forwardDesc(ConvEntry& e, prop_kind prop) {
  convolution_forward::desc d(prop, e.algo, e.src, e.wei, e.dst, e.strides, e.padL, e.padR);
  return convolution_forward::primitive_desc(d, defaultAttr(), eng());
}

}  // namespace

ConvEntry& convEntry(const dims& xs, const dims& ws, int stride, int pad, dt type, bool inference) {
  if (xs.size() != 4 || ws.size() != 4 || xs[1] != ws[1]) fail("native conv2d: input and weight do not match (NCHW x OIHW)");
  if (stride < 1 || pad < 0) fail("native conv2d: stride must be >= 1 and padding >= 0");
  std::string key = dimsKey(xs) + dimsKey(ws) + std::to_string(stride) + ',' + std::to_string(pad) + ',' +
                    std::to_string(int(type)) + (inference ? "i" : "t");
  return cached(convCache, key, [&](ConvEntry& e) {
    int64_t oh = (xs[2] + 2 * pad - ws[2]) / stride + 1, ow = (xs[3] + 2 * pad - ws[3]) / stride + 1;
    if (oh <= 0 || ow <= 0) fail("native conv2d: kernel larger than the padded input");
    e.strides = {stride, stride};
    e.padL = {pad, pad};
    e.padR = {(oh - 1) * stride + ws[2] - xs[2] - pad, (ow - 1) * stride + ws[3] - xs[3] - pad};
    e.src = memory::desc(xs, type, tag::any);
    e.wei = memory::desc(ws, type, tag::any);
    e.dst = memory::desc({xs[0], ws[0], oh, ow}, type, tag::any);
    e.diffWei = memory::desc(ws, type == dt::bf16 && bf16WeightGrads() ? dt::bf16 : dt::f32, tag::any);
    e.algo = algoFor(xs, ws, stride, type);
    const prop_kind prop = inference ? prop_kind::forward_inference : prop_kind::forward_training;
    try {
      e.fwd = forwardDesc(e, prop);
    } catch (const dnnl::error&) {
      if (e.algo == algorithm::convolution_direct) throw;
      e.algo = algorithm::convolution_direct;
      e.fwd = forwardDesc(e, prop);
    }
    e.fwdP = convolution_forward(e.fwd);
  });
}

namespace {

int64_t conv2dForward(int64_t xh, const dims& xs, int64_t wh, const dims& ws, int stride, int pad, dt type,
                      bool inference) {
  ConvEntry& e = convEntry(xs, ws, stride, pad, type, inference);
  Buf& x = live(xh);
  Buf& w = live(wh);
  std::unique_ptr<Buf> tx;
  Buf& xx = ensure(x, e.fwd.src_desc(), tx);
  void* wp = derivedFor(w, e.fwd.weights_desc());
  auto y = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd,
       {{DNNL_ARG_SRC, mem(xx)}, {DNNL_ARG_WEIGHTS, mem(e.fwd.weights_desc(), wp)}, {DNNL_ARG_DST, mem(*y)}});
  return reg(std::move(y));
}

int64_t conv2dBackwardData(int64_t dyh, int64_t wh, const dims& ws, const dims& xs, int stride, int pad, dt type) {
  ConvEntry& e = convEntry(xs, ws, stride, pad, type, false);
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

}  // namespace

namespace api {

// conv2d(x, xs, w, ws, stride, pad, precision, mode)
Napi::Value conv2d(const Info& info) {
  return handleOut(info.Env(), conv2dForward(handleArg(info[0]), dimsArg(info[1]), handleArg(info[2]), dimsArg(info[3]),
                                             intArg(info[4]), intArg(info[5]), precisionArg(info[6]),
                                             inferenceArg(info[7])));
}

// conv2dBackwardData(dy, w, ws, xs, stride, pad, precision)
Napi::Value conv2dBackwardData(const Info& info) {
  return handleOut(info.Env(), wrn::conv2dBackwardData(handleArg(info[0]), handleArg(info[1]), dimsArg(info[2]),
                                                       dimsArg(info[3]), intArg(info[4]), intArg(info[5]),
                                                       precisionArg(info[6])));
}

}  // namespace api
}  // namespace wrn

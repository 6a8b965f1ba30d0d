// The classifier: y = x w^T + b on oneDNN inner-product primitives, always fp32.
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

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

IpEntry& ipEntry(const dims& xs, const dims& ws, bool hasBias) {
  if (xs.size() != 2 || ws.size() != 2 || xs[1] != ws[1]) fail("native linear: input and weight do not match");
  const int64_t n = xs[0], in = xs[1], out = ws[0];
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

void prepareBackward(IpEntry& e, bool hasBias) {
  if (e.hasBwd) return;
  inner_product_backward_data::desc dd(e.src, e.wei, e.dst);
  e.bwdData = inner_product_backward_data::primitive_desc(dd, defaultAttr(), eng(), e.fwd);
  e.bwdDataP = inner_product_backward_data(e.bwdData);
  auto dw = hasBias ? inner_product_backward_weights::desc(e.src, e.wei, e.bias, e.dst)
                    : inner_product_backward_weights::desc(e.src, e.wei, e.dst);
  e.bwdWeights = inner_product_backward_weights::primitive_desc(dw, defaultAttr(), eng(), e.fwd);
  e.bwdWeightsP = inner_product_backward_weights(e.bwdWeights);
  e.hasBwd = true;
}

int64_t linear(int64_t xh, const dims& xs, int64_t wh, const dims& ws, int64_t bh) {
  IpEntry& e = ipEntry(xs, ws, bh >= 0);
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

std::array<int64_t, 3> linearBackward(int64_t dyh, int64_t xh, const dims& xs, int64_t wh, const dims& ws, bool hasBias) {
  IpEntry& e = ipEntry(xs, ws, hasBias);
  prepareBackward(e, hasBias);
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

}  // namespace

namespace api {

// linear(x, xs, w, ws, b or -1)
Napi::Value linear(const Info& info) {
  return handleOut(info.Env(), wrn::linear(handleArg(info[0]), dimsArg(info[1]), handleArg(info[2]), dimsArg(info[3]),
                                           handleArg(info[4])));
}

// linearBackward(dy, x, xs, w, ws, hasBias) -> [dx, dw, db or -1]
Napi::Value linearBackward(const Info& info) {
  auto r = wrn::linearBackward(handleArg(info[0]), handleArg(info[1]), dimsArg(info[2]), handleArg(info[3]),
                               dimsArg(info[4]), info[5].ToBoolean());
  return numbersOut(info.Env(), {double(r[0]), double(r[1]), double(r[2])});
}

}  // namespace api
}  // namespace wrn

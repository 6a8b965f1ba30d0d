// Batch normalization over N,H,W per channel on oneDNN primitives, in the data type and layout of its
// input: training (batch statistics, running statistics updated in place) and inference, with ReLU
// fused (fuse_norm_relu) or SiLU/GELU applied after. Statistics, scale and shift are fp32.
#include "activation.h"
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

struct BnEntry {
  batch_normalization_forward::primitive_desc fwd;
  batch_normalization_forward fwdP;
  bool hasBwd = false;
  batch_normalization_backward::primitive_desc bwd;
  batch_normalization_backward bwdP;
  normalization_flags flags;
};
Cache<BnEntry> bnCache;

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

memory::desc channelDesc(int64_t c) { return memory::desc({c}, dt::f32, tag::a); }

float* channelPtr(int64_t h, int64_t c, std::unique_ptr<Buf>& tmp) {
  return static_cast<float*>(ensure(*lookupBuf(h), channelDesc(c), tmp).ptr);
}

/** A per-channel fp32 buffer to update in place (running statistics), made plain and unshared first. */
float* channelInPlace(int64_t h, int64_t c) {
  Buf& b = *lookupBuf(h);
  relayoutInPlace(b, channelDesc(c));
  makeUnique(b);
  b.version++;
  b.clearDerived();
  return static_cast<float*>(b.ptr);
}

bool separateActivation(int act) { return act == kSilu || act == kGelu; }

/** PyTorch's running statistics: momentum average, the variance unbiased. */
void updateRunning(int64_t rmh, int64_t rvh, const Buf& mean, const Buf& var, int64_t c, int64_t n, float momentum) {
  double unbias = n > 1 ? double(n) / double(n - 1) : 1.0;
  float* rm = channelInPlace(rmh, c);
  float* rv = channelInPlace(rvh, c);
  const float* m = static_cast<const float*>(mean.ptr);
  const float* v = static_cast<const float*>(var.ptr);
  for (int64_t i = 0; i < c; i++) {
    rm[i] = float((1.0 - momentum) * rm[i] + momentum * m[i]);
    rv[i] = float((1.0 - momentum) * rv[i] + momentum * v[i] * unbias);
  }
}

std::pair<int64_t, int64_t> batchNormTrain(int64_t xh, const dims& xs, int64_t gh, int64_t bh, int64_t rmh,
                                           int64_t rvh, float momentum, float eps, int act) {
  Buf& x = live(xh);
  checkSize(x, xs, "batchNormTrain");
  dims d = x.md.dims();
  if (d.size() < 2) fail("native batchNormTrain: expected NCHW input");
  const int64_t c = d[1];
  const bool fuseRelu = act == kRelu;
  BnEntry& e = bnEntry(x.md, eps, true, fuseRelu);
  std::unique_ptr<Buf> tg, tb;
  float* gamma = channelPtr(gh, c, tg);
  float* beta = channelPtr(bh, c, tb);
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
  updateRunning(rmh, rvh, *mean, *var, c, product(d) / c, momentum);

  std::unique_ptr<Buf> out = std::move(y), z;
  if (separateActivation(act)) {
    z = std::move(out);
    out = eltFwd(act, *z);
  }
  auto saved = std::make_unique<Saved>();
  saved->activation = act;
  saved->bufs.push_back(std::move(mean));
  saved->bufs.push_back(std::move(var));
  saved->bufs.push_back(std::move(ws));
  saved->bufs.push_back(std::move(z));
  int64_t yh = reg(std::move(out));
  return {yh, registerObj(std::move(saved))};
}

int64_t batchNormInfer(int64_t xh, const dims& xs, int64_t gh, int64_t bh, int64_t rmh, int64_t rvh, float eps, int act) {
  Buf& x = live(xh);
  checkSize(x, xs, "batchNormInfer");
  const int64_t c = x.md.dims()[1];
  BnEntry& e = bnEntry(x.md, eps, false, act == kRelu);
  std::unique_ptr<Buf> tg, tb, tm, tv;
  auto y = newBuf(e.fwd.dst_desc());
  exec(e.fwdP, e.fwd,
       {{DNNL_ARG_SRC, mem(x)},
        {DNNL_ARG_DST, mem(*y)},
        {DNNL_ARG_SCALE, mem(channelDesc(c), channelPtr(gh, c, tg))},
        {DNNL_ARG_SHIFT, mem(channelDesc(c), channelPtr(bh, c, tb))},
        {DNNL_ARG_MEAN, mem(channelDesc(c), channelPtr(rmh, c, tm))},
        {DNNL_ARG_VARIANCE, mem(channelDesc(c), channelPtr(rvh, c, tv))}});
  if (separateActivation(act)) y = eltFwd(act, *y);
  return reg(std::move(y));
}

std::array<int64_t, 3> batchNormBackward(int64_t dyh, int64_t xh, int64_t gh, int64_t bh, int64_t sh, float eps, int act) {
  Buf& x = live(xh);
  Buf& dy0 = live(dyh);
  Saved& s = *lookupSaved(sh);
  const int64_t c = x.md.dims()[1];
  const bool fuseRelu = act == kRelu;
  BnEntry& e = bnEntry(x.md, eps, true, fuseRelu);
  if (!e.hasBwd) {
    batch_normalization_backward::desc d(prop_kind::backward, x.md, x.md, eps, e.flags);
    e.bwd = batch_normalization_backward::primitive_desc(d, defaultAttr(), eng(), e.fwd);
    e.bwdP = batch_normalization_backward(e.bwd);
    e.hasBwd = true;
  }
  std::unique_ptr<Buf> dz;
  Buf* dy = &dy0;
  if (separateActivation(act)) {
    dz = eltBwd(act, dy0, *s.bufs[3]);
    dy = dz.get();
  }
  std::unique_ptr<Buf> tdy, tg, tb;
  Buf& g = ensure(*dy, e.bwd.diff_dst_desc(), tdy);
  auto dx = newBuf(e.bwd.diff_src_desc());
  auto dgamma = newBuf(channelDesc(c));
  auto dbeta = newBuf(channelDesc(c));
  args_t a{{DNNL_ARG_SRC, mem(x)},
           {DNNL_ARG_DIFF_DST, mem(g)},
           {DNNL_ARG_MEAN, mem(*s.bufs[0])},
           {DNNL_ARG_VARIANCE, mem(*s.bufs[1])},
           {DNNL_ARG_SCALE, mem(channelDesc(c), channelPtr(gh, c, tg))},
           {DNNL_ARG_SHIFT, mem(channelDesc(c), channelPtr(bh, c, tb))},  // oneDNN 2.6 needs it (see native/README.md)
           {DNNL_ARG_DIFF_SRC, mem(*dx)},
           {DNNL_ARG_DIFF_SCALE, mem(*dgamma)},
           {DNNL_ARG_DIFF_SHIFT, mem(*dbeta)}};
  if (fuseRelu) a.insert({DNNL_ARG_WORKSPACE, mem(*s.bufs[2])});
  exec(e.bwdP, e.bwd, a);
  return {reg(std::move(dx)), reg(std::move(dgamma)), reg(std::move(dbeta))};
}

}  // namespace

namespace api {

// batchNormTrain(x, xs, gamma, beta, runningMean, runningVar, momentum, eps, act) -> [y, saved]
Napi::Value batchNormTrain(const Info& info) {
  auto r = wrn::batchNormTrain(handleArg(info[0]), dimsArg(info[1]), handleArg(info[2]), handleArg(info[3]),
                               handleArg(info[4]), handleArg(info[5]), float(numArg(info[6])), float(numArg(info[7])),
                               intArg(info[8]));
  return numbersOut(info.Env(), {double(r.first), double(r.second)});
}

// batchNormInfer(x, xs, gamma, beta, runningMean, runningVar, eps, act)
Napi::Value batchNormInfer(const Info& info) {
  return handleOut(info.Env(), wrn::batchNormInfer(handleArg(info[0]), dimsArg(info[1]), handleArg(info[2]),
                                                   handleArg(info[3]), handleArg(info[4]), handleArg(info[5]),
                                                   float(numArg(info[6])), intArg(info[7])));
}

// batchNormBackward(dy, x, xs, gamma, beta, saved, eps, act) -> [dx, dgamma, dbeta]
Napi::Value batchNormBackward(const Info& info) {
  auto r = wrn::batchNormBackward(handleArg(info[0]), handleArg(info[1]), handleArg(info[3]), handleArg(info[4]),
                                  handleArg(info[5]), float(numArg(info[6])), intArg(info[7]));
  return numbersOut(info.Env(), {double(r[0]), double(r[1]), double(r[2])});
}

}  // namespace api
}  // namespace wrn

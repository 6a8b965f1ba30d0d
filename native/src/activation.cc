// Activations (ReLU, SiLU, GELU) and their gradients on oneDNN eltwise primitives, in the layout and
// data type of their input.
#include "activation.h"
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

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

}  // namespace

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

namespace api {

// activation(act, x, shape)
Napi::Value activation(const Info& info) {
  const int act = intArg(info[0]);
  Buf& x = live(handleArg(info[1]));
  checkSize(x, dimsArg(info[2]), "activation");
  return handleOut(info.Env(), reg(act == kIdentity ? shareOf(x) : eltFwd(act, x)));
}

// activationBackward(act, dy, x, shape)
Napi::Value activationBackward(const Info& info) {
  const int act = intArg(info[0]);
  Buf& dy = live(handleArg(info[1]));
  checkSize(dy, dimsArg(info[3]), "activationBackward");
  if (act == kIdentity) return handleOut(info.Env(), reg(shareOf(dy)));
  return handleOut(info.Env(), reg(eltBwd(act, dy, live(handleArg(info[2])))));
}

}  // namespace api
}  // namespace wrn

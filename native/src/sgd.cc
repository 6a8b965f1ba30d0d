// One SGD step (torch.optim.SGD: weight decay, momentum, dampening, Nesterov) for one parameter, in
// place, elementwise (no reduction, so its result does not depend on the thread count).
#include "napi_args.h"

namespace wrn {
namespace {

struct SgdOpts {
  float lr, momentum, dampening, weightDecay;
  bool nesterov, firstStep;
};

bool sameLayout(const memory::desc& a, const memory::desc& b) { return withType(a, dt::f32) == withType(b, dt::f32); }

/** The momentum buffer in the parameter's layout, ready to be written in place (null without momentum). */
float* momentumBuffer(int64_t bh, const memory::desc& pmd, const SgdOpts& o) {
  if (o.momentum == 0.f) return nullptr;
  if (bh < 0) fail("native sgdStep: momentum needs a momentum buffer");
  Buf& mb = *lookupBuf(bh);
  relayoutInPlace(mb, pmd);
  makeUnique(mb);
  mb.version++;
  mb.clearDerived();
  return static_cast<float*>(mb.ptr);
}

void sgdStep(int64_t ph, int64_t gh, int64_t bh, const dims& shape, const SgdOpts& o) {
  Buf& p = live(ph);
  checkSize(p, shape, "sgdStep");
  if (p.dtype() != dt::f32) fail("native sgdStep: parameters must be float32");
  Buf& g0 = live(gh);
  checkSize(g0, shape, "sgdStep gradient");
  // The parameter adopts its gradient's layout (for conv weights, the layout the convolutions use), so
  // that neither the update nor the next forward reorders; read() still returns the plain values.
  if (!sameLayout(p.md, g0.md) && g0.md.dims() == p.md.dims() && g0.md.data.format_kind == dnnl_blocked &&
      (g0.dtype() == dt::f32 || g0.dtype() == dt::bf16)) {
    relayoutInPlace(p, withType(g0.md, dt::f32));
  }
  makeUnique(p);
  const memory::desc pmd = p.md;
  std::unique_ptr<Buf> tg;
  Buf& g = sameLayout(g0.md, pmd) ? g0 : ensure(g0, pmd, tg);
  float* pp = static_cast<float*>(p.ptr);
  float* buf = momentumBuffer(bh, pmd, o);
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
  if (g.dtype() == dt::bf16) {
    const uint16_t* gg = static_cast<const uint16_t*>(g.ptr);
    update([gg](int64_t i) { return bf2f(gg[i]); });
  } else {
    const float* gg = static_cast<const float*>(g.ptr);
    update([gg](int64_t i) { return gg[i]; });
  }
  p.version++;
}

}  // namespace

namespace api {

// sgdStep(p, g, buf or -1, shape, lr, momentum, dampening, weightDecay, nesterov, firstStep)
Napi::Value sgdStep(const Info& info) {
  SgdOpts o{float(numArg(info[4])), float(numArg(info[5])), float(numArg(info[6])), float(numArg(info[7])),
            info[8].ToBoolean(), info[9].ToBoolean()};
  wrn::sgdStep(handleArg(info[0]), handleArg(info[1]), handleArg(info[2]), dimsArg(info[3]), o);
  return info.Env().Undefined();
}

}  // namespace api
}  // namespace wrn

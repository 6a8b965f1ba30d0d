// Residual additions and gradient accumulation on oneDNN binary primitives, in the layout of the
// first operand; zeros() + b shares b's memory (copy-on-write).
#include "napi_args.h"

namespace wrn {

using namespace dnnl;

namespace {

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

int64_t add(int64_t ah, int64_t bh, const dims& shape) {
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

void addInPlace(int64_t ah, int64_t bh, const dims& shape) {
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

}  // namespace

namespace api {

// add(a, b, shape)
Napi::Value add(const Info& info) {
  return handleOut(info.Env(), wrn::add(handleArg(info[0]), handleArg(info[1]), dimsArg(info[2])));
}

// addInPlace(a, b, shape)
Napi::Value addInPlace(const Info& info) {
  wrn::addInPlace(handleArg(info[0]), handleArg(info[1]), dimsArg(info[2]));
  return info.Env().Undefined();
}

}  // namespace api
}  // namespace wrn

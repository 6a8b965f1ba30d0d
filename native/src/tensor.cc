// Values in and out of storages: upload, read, lazy zeros, copies, and the test hooks that show or
// change a storage's data type and layout.
#include "napi_args.h"

namespace wrn {
namespace {

int64_t upload(const float* data, const dims& shape) {
  auto b = newBuf(plainDesc(shape, dt::f32));
  std::memcpy(b->ptr, data, size_t(product(shape)) * sizeof(float));
  return reg(std::move(b));
}

void read(int64_t h, const dims& shape, float* out) {
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

int64_t zeros(const dims& shape) {
  auto b = std::make_unique<Buf>();
  b->md = plainDesc(shape, dt::f32);
  b->lazyZero = true;
  return reg(std::move(b));
}

/** A new storage with the same layout and values (sharing memory until one of them is written). */
int64_t copy(int64_t a) {
  Buf* b = lookupBuf(a);
  if (b->lazyZero) return zeros(b->md.dims());
  return reg(shareOf(*b));
}

std::string dtypeName(dt t) { return t == dt::bf16 ? "bf16" : t == dt::f32 ? "fp32" : "other"; }

/** "fp32:16b" style: data type, then the inner blocks (or "plain"); "zero" for a lazy zero. */
std::string describeLayout(int64_t h) {
  Buf& b = *lookupBuf(h);
  if (b.lazyZero) return "zero";
  std::string s = b.dtype() == dt::bf16 ? "bf16:" : b.dtype() == dt::f32 ? "f32:" : "other:";
  const auto& bl = b.md.data.format_desc.blocking;
  for (int k = 0; k < bl.inner_nblks; k++) s += std::to_string(bl.inner_blks[k]) + char('a' + bl.inner_idxs[k]);
  if (bl.inner_nblks == 0) s += "plain";
  return s;
}

/** A copy in data type `type`, plain or (4-D) channel-blocked by 16. */
int64_t relayout(int64_t h, dt type, bool blocked) {
  Buf& b = live(h);
  dims d = b.md.dims();
  tag t = blocked && d.size() == 4 ? tag::aBcd16b : plainTag(d.size());
  return reg(reorderTo(b, memory::desc(d, type, t)));
}

}  // namespace

namespace api {

Napi::Value upload(const Info& info) {
  auto data = info[0].As<Napi::Float32Array>();
  dims s = dimsArg(info[1]);
  if (int64_t(data.ElementLength()) != product(s)) {
    throw Napi::RangeError::New(info.Env(), "native upload: data length does not match shape");
  }
  return handleOut(info.Env(), wrn::upload(data.Data(), s));
}

Napi::Value read(const Info& info) {
  dims s = dimsArg(info[1]);
  auto out = Napi::Float32Array::New(info.Env(), size_t(product(s)));
  wrn::read(handleArg(info[0]), s, out.Data());
  return out;
}

Napi::Value zeros(const Info& info) { return handleOut(info.Env(), wrn::zeros(dimsArg(info[0]))); }

Napi::Value copy(const Info& info) { return handleOut(info.Env(), wrn::copy(handleArg(info[0]))); }

/** The data type a storage holds ("fp32", "bf16"); a lazy zero is fp32. */
Napi::Value dtype(const Info& info) {
  return Napi::String::New(info.Env(), dtypeName(lookupBuf(handleArg(info[0]))->dtype()));
}

Napi::Value layout(const Info& info) { return Napi::String::New(info.Env(), describeLayout(handleArg(info[0]))); }

Napi::Value relayout(const Info& info) {
  return handleOut(info.Env(), wrn::relayout(handleArg(info[0]), precisionArg(info[1]), info[2].ToBoolean()));
}

}  // namespace api
}  // namespace wrn

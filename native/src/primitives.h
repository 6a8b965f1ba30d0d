// What every kernel family shares: the engine and stream, primitive caches keyed by problem, memory
// descriptors and the reorders between layouts, and element access in any blocked layout.
#pragma once

#include <cstring>
#include <string>
#include <unordered_map>

#include "storage.h"

namespace wrn {

using args_t = std::unordered_map<int, memory>;

// ---- engine, stream, scratchpad ------------------------------------------------------------------
dnnl::engine& eng();
dnnl::stream& strm();
/** User-managed scratchpad shared by every primitive (grown on demand). */
memory scratchpadFor(const memory::desc& md);
/** Every primitive uses the shared user scratchpad. */
dnnl::primitive_attr defaultAttr();

inline memory mem(const memory::desc& md, void* p) { return memory(md, eng(), p); }
inline memory mem(Buf& b) { return memory(b.md, eng(), b.ptr); }

/** Runs a primitive on the shared stream with the shared scratchpad. */
template <class PD>
void exec(const dnnl::primitive& p, const PD& pd, args_t args) {
  args.insert({DNNL_ARG_SCRATCHPAD, scratchpadFor(pd.scratchpad_desc())});
  p.execute(strm(), args);
}

// ---- primitive caches: one entry per problem (shapes, types, layouts, options) -------------------
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

std::string mdKey(const memory::desc& md);
std::string dimsKey(const dims& d);
std::string floatKey(float f);

// ---- descriptors and reorders --------------------------------------------------------------------
tag plainTag(size_t ndims);
memory::desc plainDesc(const dims& d, dt type);
int64_t product(const dims& d);
/** `md` with another data type (same dims and blocking). */
memory::desc withType(const memory::desc& md, dt type);

void reorderRaw(const memory::desc& smd, void* sp, const memory::desc& dmd, void* dp);
/** Reorders src into a new buffer with descriptor `md`. */
std::unique_ptr<Buf> reorderTo(Buf& src, const memory::desc& md);
/** Replaces a buffer's memory by its values in descriptor `md` (the handle stays the same). */
void relayoutInPlace(Buf& b, const memory::desc& md);
/**
 * A buffer holding `b`'s values in descriptor `md`: `b` itself when it already matches, otherwise a
 * temporary (kept alive in `tmp`).
 */
Buf& ensure(Buf& b, const memory::desc& md, std::unique_ptr<Buf>& tmp);
/** Weights in the descriptor a primitive wants, cached on the buffer and refreshed when its version changes. */
void* derivedFor(Buf& w, const memory::desc& md);

// ---- handles as kernels see them -----------------------------------------------------------------
inline int64_t reg(std::unique_ptr<Buf> b) { return registerObj(std::move(b)); }

/** The storage behind a handle, materialised. */
inline Buf& live(int64_t h) {
  Buf* b = lookupBuf(h);
  materialize(*b);
  return *b;
}

void checkSize(const Buf& b, const dims& shape, const char* what);

// ---- CPU -----------------------------------------------------------------------------------------
bool cpuHasBf16();
std::string isaName();

// ---- element access ------------------------------------------------------------------------------
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

  explicit Layout(const memory::desc& md);

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

}  // namespace wrn

// Shared declarations of the oneDNN backend addon: object table, buffers, allocator, primitive helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

namespace wrn {

using dnnl::memory;
using dims = memory::dims;
using dt = memory::data_type;
using tag = memory::format_tag;

// ---- allocator: per-size free lists, so that a training loop reuses the same buffers every step ----
void* poolAlloc(size_t bytes);
void poolFree(void* p, size_t bytes);
/** Frees every cached (unused) block; returns the bytes released. */
size_t poolTrim();
struct PoolStats {
  size_t liveBytes, cachedBytes, peakLiveBytes, allocCalls, osAllocs;
};
PoolStats poolStats();

// ---- objects owned by JavaScript through integer handles ----------------------------------------
struct Obj {
  virtual ~Obj() = default;
};

/** A reordered copy of a buffer (weights in a primitive's preferred layout / precision). */
struct Derived {
  memory::desc md;
  void* ptr = nullptr;
  size_t bytes = 0;
  uint64_t version = 0;
};

/** A block of pooled memory, shared (copy-on-write) by the buffers that hold the same values. */
struct Mem {
  void* ptr;
  size_t bytes;
  Mem(void* p, size_t b) : ptr(p), bytes(b) {}
  Mem(const Mem&) = delete;
  Mem& operator=(const Mem&) = delete;
  ~Mem();
};

/** One tensor: its memory descriptor (logical dims, data type, layout) and its data. */
struct Buf : Obj {
  memory::desc md;
  std::shared_ptr<Mem> mem;  // null while lazyZero
  void* ptr = nullptr;       // mem->ptr
  size_t bytes = 0;          // mem->bytes
  bool lazyZero = false;  // zeros() is materialised on first use (or adopts the layout of what is added to it)
  uint64_t version = 0;   // bumped by every in-place write (sgdStep, addInPlace, running stats)
  std::vector<Derived> derived;

  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() override;
  void clearDerived();
  void adopt(std::shared_ptr<Mem> m) {
    mem = std::move(m);
    ptr = mem ? mem->ptr : nullptr;
    bytes = mem ? mem->bytes : 0;
  }
  /** True when another buffer shares this memory (in-place writes must copy first). */
  bool shared() const { return mem && mem.use_count() > 1; }
};

std::shared_ptr<Mem> newMem(const memory::desc& md);
/** Gives `b` its own copy of its memory if it is shared (before an in-place write). */
void makeUnique(Buf& b);
/** A buffer sharing `a`'s memory and layout (a copy that costs nothing until one of them is written). */
std::unique_ptr<Buf> shareOf(Buf& a);

/** A new buffer with this descriptor, memory from the pool (not initialised). */
std::unique_ptr<Buf> newBuf(const memory::desc& md);

struct Saved : Obj {
  std::vector<std::unique_ptr<Buf>> bufs;
  std::vector<memory::desc> mds;
  std::string key;  // cache key of the forward primitive (for backward)
  int activation = 0;
};

int64_t registerObj(std::unique_ptr<Obj> o);
Obj* lookupObj(int64_t h);
Buf* lookupBuf(int64_t h);
Saved* lookupSaved(int64_t h);
void releaseObj(int64_t h);
size_t liveObjects();

// ---- engine, stream, scratchpad ------------------------------------------------------------------
dnnl::engine& eng();
dnnl::stream& strm();
/** User-managed scratchpad shared by every primitive (grown on demand). */
memory scratchpadFor(const memory::desc& md);
dnnl::primitive_attr defaultAttr();

inline memory mem(const memory::desc& md, void* p) { return memory(md, eng(), p); }
inline memory mem(Buf& b) { return memory(b.md, eng(), b.ptr); }

std::string mdKey(const memory::desc& md);
tag plainTag(size_t ndims);
memory::desc plainDesc(const dims& d, dt type);
int64_t product(const dims& d);

/** Materialises a lazy zero buffer in plain layout (or in `like` when given). */
void materialize(Buf& b, const memory::desc* like = nullptr);

/** Reorders src into a new buffer with descriptor `md`. */
std::unique_ptr<Buf> reorderTo(Buf& src, const memory::desc& md);
void reorderRaw(const memory::desc& smd, void* sp, const memory::desc& dmd, void* dp);

/**
 * A buffer holding `b`'s values in descriptor `md`: `b` itself when it already matches, otherwise a
 * temporary (kept alive in `tmp`).
 */
Buf& ensure(Buf& b, const memory::desc& md, std::unique_ptr<Buf>& tmp);

/** Weights in the descriptor a primitive wants, cached on the buffer and refreshed when its version changes. */
void* derivedFor(Buf& w, const memory::desc& md);

/** Reinterprets a buffer as the given logical dims when it is plain row-major f32/bf16 with the same element count. */
memory::desc withDims(const memory::desc& md, const dims& d);

// ---- backend state -------------------------------------------------------------------------------
extern dt actType;  // f32 or bf16 (activation / convolution precision)
bool cpuHasBf16();
std::string isaName();

[[noreturn]] inline void fail(const std::string& msg) { throw std::runtime_error(msg); }

}  // namespace wrn

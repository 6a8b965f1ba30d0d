// Storages of the oneDNN backend: the pooled allocator, copy-on-write memory blocks, tensors that know
// their descriptor (dims, data type, layout), and the table of integer handles JavaScript holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <dnnl.hpp>

namespace wrn {

using dnnl::memory;
using dims = memory::dims;
using dt = memory::data_type;
using tag = memory::format_tag;

[[noreturn]] inline void fail(const std::string& msg) { throw std::runtime_error(msg); }

// ---- allocator: per-size free lists, so that a training loop reuses the same buffers every step ----
void* poolAlloc(size_t bytes);
void poolFree(void* p, size_t bytes);

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

/**
 * One tensor: its memory descriptor and its data. The descriptor carries the data type, so a storage
 * knows its own precision (f32 or bf16) and kernels that follow a convolution run in the precision of
 * their input without being told.
 */
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
  dt dtype() const { return md.data_type(); }
  void clearDerived();
  void adopt(std::shared_ptr<Mem> m) {
    mem = std::move(m);
    ptr = mem ? mem->ptr : nullptr;
    bytes = mem ? mem->bytes : 0;
  }
  /** True when another buffer shares this memory (in-place writes must copy first). */
  bool shared() const { return mem && mem.use_count() > 1; }
};

/** Pooled memory for a descriptor (zeroed where a blocked layout pads, as oneDNN expects). */
void* allocFor(const memory::desc& md, size_t bytes);
std::shared_ptr<Mem> newMem(const memory::desc& md);
/** Gives `b` its own copy of its memory if it is shared (before an in-place write). */
void makeUnique(Buf& b);
/** A new buffer with this descriptor, memory from the pool (not initialised). */
std::unique_ptr<Buf> newBuf(const memory::desc& md);
/** Materialises a lazy zero buffer (in `like`'s descriptor when given). */
void materialize(Buf& b, const memory::desc* like = nullptr);
/** A buffer sharing `a`'s memory and layout (a copy that costs nothing until one of them is written). */
std::unique_ptr<Buf> shareOf(Buf& a);

/** A forward kernel's context for its backward (BN statistics, ReLU and max-pool workspaces). */
struct Saved : Obj {
  std::vector<std::unique_ptr<Buf>> bufs;
  int activation = 0;
};

int64_t registerObj(std::unique_ptr<Obj> o);
/** Any live object (other kernel families' own Obj kinds: the int8 network); throws after dispose(). */
Obj* lookupObj(int64_t h);
Buf* lookupBuf(int64_t h);
Saved* lookupSaved(int64_t h);
void releaseObj(int64_t h);

}  // namespace wrn

// Memory and handles: the per-size free-list allocator, copy-on-write blocks, the generational handle
// table JavaScript indexes storages with, and the bindings that free, track and report them.
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "napi_args.h"

namespace wrn {

// ---- allocator -------------------------------------------------------------------------------------
namespace {
struct PoolStats {
  size_t liveBytes = 0, cachedBytes = 0, peakLiveBytes = 0, allocCalls = 0, osAllocs = 0;
};
std::unordered_map<size_t, std::vector<void*>> freeLists;
PoolStats counters;

size_t roundUp(size_t bytes) {
  if (bytes == 0) bytes = 1;
  // Small sizes to 64 bytes; large ones to 4 KiB, so that similar shapes share blocks.
  return bytes < (1u << 16) ? (bytes + 63) & ~size_t(63) : (bytes + 4095) & ~size_t(4095);
}

/** Frees every cached (unused) block; returns the bytes released. */
size_t poolTrim() {
  size_t released = 0;
  for (auto& kv : freeLists) {
    for (void* p : kv.second) std::free(p);
    released += kv.first * kv.second.size();
    kv.second.clear();
  }
  counters.cachedBytes -= released;
  return released;
}
}  // namespace

void* poolAlloc(size_t bytes) {
  size_t n = roundUp(bytes);
  counters.allocCalls++;
  counters.liveBytes += n;
  counters.peakLiveBytes = std::max(counters.peakLiveBytes, counters.liveBytes);
  auto it = freeLists.find(n);
  if (it != freeLists.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    counters.cachedBytes -= n;
    return p;
  }
  counters.osAllocs++;
  void* p = std::aligned_alloc(n >= 4096 ? 4096 : 64, n);
  if (!p) {
    poolTrim();
    p = std::aligned_alloc(n >= 4096 ? 4096 : 64, n);
    if (!p) throw std::bad_alloc();
  }
  return p;
}

void poolFree(void* p, size_t bytes) {
  if (!p) return;
  size_t n = roundUp(bytes);
  counters.liveBytes -= n;
  counters.cachedBytes += n;
  freeLists[n].push_back(p);
}

// ---- buffers ---------------------------------------------------------------------------------------
Mem::~Mem() { poolFree(ptr, bytes); }

Buf::~Buf() { clearDerived(); }

void Buf::clearDerived() {
  for (auto& d : derived) poolFree(d.ptr, d.bytes);
  derived.clear();
}

namespace {
bool hasPadding(const memory::desc& md) {
  const auto& d = md.data;
  if (d.format_kind != dnnl_blocked) return false;
  for (int i = 0; i < d.ndims; i++) {
    if (d.padded_dims[i] != d.dims[i]) return true;
  }
  return false;
}
}  // namespace

void* allocFor(const memory::desc& md, size_t bytes) {
  void* p = poolAlloc(bytes);
  // oneDNN expects the padding of blocked layouts (e.g. 3 channels in 16-blocks) to be zero; pooled memory is not.
  if (hasPadding(md)) std::memset(p, 0, bytes);
  return p;
}

std::shared_ptr<Mem> newMem(const memory::desc& md) {
  size_t n = md.get_size();
  return std::make_shared<Mem>(allocFor(md, n), n);
}

std::unique_ptr<Buf> newBuf(const memory::desc& md) {
  auto b = std::make_unique<Buf>();
  b->md = md;
  b->adopt(newMem(md));
  return b;
}

void materialize(Buf& b, const memory::desc* like) {
  if (!b.lazyZero) return;
  if (like) b.md = *like;
  b.adopt(newMem(b.md));
  std::memset(b.ptr, 0, b.bytes);
  b.lazyZero = false;
}

std::unique_ptr<Buf> shareOf(Buf& a) {
  materialize(a);
  auto b = std::make_unique<Buf>();
  b->md = a.md;
  b->adopt(a.mem);
  return b;
}

void makeUnique(Buf& b) {
  if (!b.shared()) return;
  auto m = newMem(b.md);
  std::memcpy(m->ptr, b.ptr, b.bytes);
  b.adopt(std::move(m));
  b.clearDerived();
}

// ---- handles ---------------------------------------------------------------------------------------
namespace {
struct Slot {
  uint32_t gen = 0;
  std::unique_ptr<Obj> obj;
};
std::vector<Slot> slots;
std::vector<uint32_t> freeSlots;
size_t liveCount = 0;
constexpr int64_t kSlotBits = 24;

/** The slot of a live handle, or null (stale generation, freed, out of range). */
Slot* slotOf(int64_t h) {
  if (h < 0) return nullptr;
  uint32_t i = uint32_t(h & ((int64_t(1) << kSlotBits) - 1));
  uint32_t g = uint32_t(h >> kSlotBits);
  if (i >= slots.size() || slots[i].gen != g || !slots[i].obj) return nullptr;
  return &slots[i];
}

}  // namespace

Obj* lookupObj(int64_t h) {
  Slot* s = slotOf(h);
  if (!s) fail("native backend: storage used after dispose()");
  return s->obj.get();
}

int64_t registerObj(std::unique_ptr<Obj> o) {
  uint32_t i;
  if (!freeSlots.empty()) {
    i = freeSlots.back();
    freeSlots.pop_back();
  } else {
    if (slots.size() >= (size_t(1) << kSlotBits)) fail("native backend: too many live tensors");
    i = uint32_t(slots.size());
    slots.emplace_back();
  }
  slots[i].obj = std::move(o);
  liveCount++;
  return (int64_t(slots[i].gen) << kSlotBits) | i;
}

Buf* lookupBuf(int64_t h) {
  Buf* b = dynamic_cast<Buf*>(lookupObj(h));
  if (!b) fail("native backend: expected a tensor storage");
  return b;
}

Saved* lookupSaved(int64_t h) {
  Saved* s = dynamic_cast<Saved*>(lookupObj(h));
  if (!s) fail("native backend: expected a saved context");
  return s;
}

void releaseObj(int64_t h) {
  Slot* s = slotOf(h);
  if (!s) return;  // already freed
  s->obj.reset();
  s->gen = (s->gen + 1) & 0x3fffffff;
  freeSlots.push_back(uint32_t(s - slots.data()));
  liveCount--;
}

// ---- bindings --------------------------------------------------------------------------------------
namespace api {

// Safety net for storages a caller never disposes: the JS object carries a native finalizer (napi_wrap)
// that frees its handle when the object is collected; free() removes it and frees at once.
Napi::Value track(const Info& info) {
  napi_env env = info.Env();
  int64_t h = handleArg(info[1]);
  napi_status st = napi_wrap(
      env, info[0], reinterpret_cast<void*>(intptr_t(h)),
      [](napi_env, void* data, void*) { releaseObj(int64_t(intptr_t(data))); }, nullptr, nullptr);
  if (st != napi_ok) throw Napi::Error::New(env, "native backend: could not attach a finalizer");
  return info.Env().Undefined();
}

Napi::Value free(const Info& info) {
  if (info.Length() > 1 && info[1].IsObject()) {
    void* data = nullptr;
    napi_remove_wrap(info.Env(), info[1], &data);
  }
  releaseObj(handleArg(info[0]));
  return info.Env().Undefined();
}

Napi::Value stats(const Info& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", double(counters.liveBytes));
  o.Set("cachedBytes", double(counters.cachedBytes));
  o.Set("peakLiveBytes", double(counters.peakLiveBytes));
  o.Set("osAllocs", double(counters.osAllocs));
  o.Set("allocCalls", double(counters.allocCalls));
  o.Set("liveObjects", double(liveCount));
  struct mallinfo2 mi = mallinfo2();
  o.Set("mallocInUse", double(mi.uordblks));
  o.Set("mallocFree", double(mi.fordblks));
  o.Set("mallocMmapped", double(mi.hblkhd));
  return o;
}

Napi::Value trim(const Info& info) {
  double released = double(poolTrim());
  malloc_trim(0);
  return Napi::Number::New(info.Env(), released);
}

Napi::Value mallocTrim(const Info& info) {
  malloc_trim(0);
  return info.Env().Undefined();
}

}  // namespace api
}  // namespace wrn

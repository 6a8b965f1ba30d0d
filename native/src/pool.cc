// Allocator, handle table, engine and memory helpers.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common.h"

namespace wrn {

// ---- allocator -------------------------------------------------------------------------------------
namespace {
std::unordered_map<size_t, std::vector<void*>> freeLists;
PoolStats stats{0, 0, 0, 0, 0};

size_t roundUp(size_t bytes) {
  if (bytes == 0) bytes = 1;
  // Small sizes to 64 bytes; large ones to 4 KiB, so that similar shapes share blocks.
  return bytes < (1u << 16) ? (bytes + 63) & ~size_t(63) : (bytes + 4095) & ~size_t(4095);
}
}  // namespace

void* poolAlloc(size_t bytes) {
  size_t n = roundUp(bytes);
  stats.allocCalls++;
  stats.liveBytes += n;
  stats.peakLiveBytes = std::max(stats.peakLiveBytes, stats.liveBytes);
  auto it = freeLists.find(n);
  if (it != freeLists.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    stats.cachedBytes -= n;
    return p;
  }
  stats.osAllocs++;
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
  stats.liveBytes -= n;
  stats.cachedBytes += n;
  freeLists[n].push_back(p);
}

size_t poolTrim() {
  size_t released = 0;
  for (auto& kv : freeLists) {
    for (void* p : kv.second) std::free(p);
    released += kv.first * kv.second.size();
    kv.second.clear();
  }
  stats.cachedBytes -= released;
  return released;
}

PoolStats poolStats() { return stats; }

// ---- buffers ---------------------------------------------------------------------------------------
Mem::~Mem() { poolFree(ptr, bytes); }

Buf::~Buf() { clearDerived(); }

void Buf::clearDerived() {
  for (auto& d : derived) poolFree(d.ptr, d.bytes);
  derived.clear();
}

bool hasPadding(const memory::desc& md) {
  const auto& d = md.data;
  if (d.format_kind != dnnl_blocked) return false;
  for (int i = 0; i < d.ndims; i++) {
    if (d.padded_dims[i] != d.dims[i]) return true;
  }
  return false;
}

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
size_t live = 0;
constexpr int64_t kSlotBits = 24;
}  // namespace

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
  live++;
  return (int64_t(slots[i].gen) << kSlotBits) | i;
}

Obj* lookupObj(int64_t h) {
  if (h < 0) fail("native backend: storage used after dispose()");
  uint32_t i = uint32_t(h & ((int64_t(1) << kSlotBits) - 1));
  uint32_t g = uint32_t(h >> kSlotBits);
  if (i >= slots.size() || slots[i].gen != g || !slots[i].obj) fail("native backend: storage used after dispose()");
  return slots[i].obj.get();
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
  if (h < 0) return;
  uint32_t i = uint32_t(h & ((int64_t(1) << kSlotBits) - 1));
  uint32_t g = uint32_t(h >> kSlotBits);
  if (i >= slots.size() || slots[i].gen != g || !slots[i].obj) return;  // already freed
  slots[i].obj.reset();
  slots[i].gen = (slots[i].gen + 1) & 0x3fffffff;
  freeSlots.push_back(i);
  live--;
}

size_t liveObjects() { return live; }

// ---- engine ----------------------------------------------------------------------------------------
dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

namespace {
void* scratchPtr = nullptr;
size_t scratchBytes = 0;
}  // namespace

memory scratchpadFor(const memory::desc& md) {
  size_t need = md.get_size();
  if (need > scratchBytes) {
    std::free(scratchPtr);
    scratchBytes = (need + 4095) & ~size_t(4095);
    scratchPtr = std::aligned_alloc(4096, scratchBytes);
    if (!scratchPtr) {
      scratchBytes = 0;
      throw std::bad_alloc();
    }
  }
  return memory(md, eng(), scratchPtr);
}

dnnl::primitive_attr defaultAttr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// ---- descriptors -----------------------------------------------------------------------------------
std::string mdKey(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  std::string s;
  s.reserve(96);
  auto put = [&s](int64_t v) {
    s += std::to_string(v);
    s += ',';
  };
  put(d.ndims);
  for (int i = 0; i < d.ndims; i++) put(d.dims[i]);
  put(d.data_type);
  put(d.format_kind);
  if (d.format_kind == dnnl_blocked) {
    const auto& b = d.format_desc.blocking;
    for (int i = 0; i < d.ndims; i++) put(b.strides[i]);
    put(b.inner_nblks);
    for (int i = 0; i < b.inner_nblks; i++) {
      put(b.inner_blks[i]);
      put(b.inner_idxs[i]);
    }
    for (int i = 0; i < d.ndims; i++) put(d.padded_dims[i]);
    put(d.offset0);
    put(d.extra.flags);
  } else if (d.format_kind == dnnl_format_kind_wino) {
    // Winograd weight layouts differ by their blocking (which oneDNN picks per problem, batch size
    // included); a key without it made two layouts share one cached reorder (wrong weights).
    const auto& w = d.format_desc.wino_desc;
    for (int64_t v : {int64_t(w.wino_format), int64_t(w.r), int64_t(w.alpha), int64_t(w.ic), int64_t(w.oc),
                      int64_t(w.ic_block), int64_t(w.oc_block), int64_t(w.ic2_block), int64_t(w.oc2_block),
                      int64_t(w.size)}) {
      put(v);
    }
    s += std::to_string(w.adj_scale);
    s += ',';
  }
  s += ';';
  return s;
}

tag plainTag(size_t ndims) {
  switch (ndims) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: fail("native backend: tensors of rank " + std::to_string(ndims) + " are not supported");
  }
}

memory::desc plainDesc(const dims& d, dt type) {
  if (d.empty()) return memory::desc({1}, type, tag::a);
  return memory::desc(d, type, plainTag(d.size()));
}

int64_t product(const dims& d) {
  int64_t n = 1;
  for (auto v : d) n *= v;
  return n;
}

void reorderRaw(const memory::desc& smd, void* sp, const memory::desc& dmd, void* dp) {
  // Some layout pairs have no direct reorder in oneDNN 2.6 (e.g. a blocked weight layout into the
  // Winograd inference layout, which only reads plain oihw); those go through the plain layout.
  struct Entry {
    bool direct;
    dnnl::reorder::primitive_desc pd;
    dnnl::reorder prim;
  };
  static std::unordered_map<std::string, Entry> cache;
  std::string key = mdKey(smd) + mdKey(dmd);
  auto it = cache.find(key);
  if (it == cache.end()) {
    Entry e{true, {}, {}};
    try {
      e.pd = dnnl::reorder::primitive_desc(eng(), smd, eng(), dmd, defaultAttr());
      e.prim = dnnl::reorder(e.pd);
    } catch (const dnnl::error&) {
      e.direct = false;
    }
    it = cache.emplace(key, e).first;
  }
  Entry& e = it->second;
  if (e.direct) {
    memory s = mem(smd, sp), d = mem(dmd, dp);
    e.prim.execute(strm(), {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, d}, {DNNL_ARG_SCRATCHPAD, scratchpadFor(e.pd.scratchpad_desc())}});
    return;
  }
  const memory::desc plain = plainDesc(smd.dims(), smd.data_type());
  if (smd == plain || dmd == plain) {
    fail("native backend: no reorder from layout " + mdKey(smd) + " to " + mdKey(dmd));
  }
  const size_t bytes = plain.get_size();
  void* tmp = poolAlloc(bytes);
  try {
    reorderRaw(smd, sp, plain, tmp);
    reorderRaw(plain, tmp, dmd, dp);
  } catch (...) {
    poolFree(tmp, bytes);
    throw;
  }
  poolFree(tmp, bytes);
}

void materialize(Buf& b, const memory::desc* like) {
  if (!b.lazyZero) return;
  if (like) b.md = *like;
  b.adopt(newMem(b.md));
  std::memset(b.ptr, 0, b.bytes);
  b.lazyZero = false;
}

std::unique_ptr<Buf> reorderTo(Buf& src, const memory::desc& md) {
  materialize(src);
  auto out = newBuf(md);
  reorderRaw(src.md, src.ptr, md, out->ptr);
  return out;
}

memory::desc withDims(const memory::desc& md, const dims& d) {
  memory::dims cur = md.dims();
  if (cur == d) return md;
  if (product(cur) != product(d)) fail("native backend: storage does not hold " + std::to_string(product(d)) + " elements");
  memory::desc plain = plainDesc(cur, md.data_type());
  if (!(plain == md)) return memory::desc();  // not plain: caller reorders first
  return plainDesc(d, md.data_type());
}

Buf& ensure(Buf& b, const memory::desc& md, std::unique_ptr<Buf>& tmp) {
  if (b.lazyZero) materialize(b, &md);
  if (b.md == md) return b;
  // Same bytes under other dims (e.g. [N,C,1,1] plain read as [N,C]): reinterpret, no copy.
  memory::desc re = withDims(b.md, md.dims());
  if (re.data.ndims > 0 && re == md) {
    tmp = std::make_unique<Buf>();
    tmp->md = md;
    tmp->adopt(b.mem);
    return *tmp;
  }
  memory::desc src = b.md;
  if (src.dims() != md.dims()) {
    // Different logical dims and not plain: go through the plain layout of the source dims.
    auto plain = reorderTo(b, plainDesc(src.dims(), md.data_type()));
    plain->md = plainDesc(md.dims(), md.data_type());
    if (plain->md == md) {
      tmp = std::move(plain);
      return *tmp;
    }
    tmp = reorderTo(*plain, md);
    return *tmp;
  }
  tmp = reorderTo(b, md);
  return *tmp;
}

void* derivedFor(Buf& w, const memory::desc& md) {
  materialize(w);
  if (w.md == md) return w.ptr;
  for (auto& d : w.derived) {
    if (d.md == md) {
      if (d.version != w.version) {
        reorderRaw(w.md, w.ptr, md, d.ptr);
        d.version = w.version;
      }
      return d.ptr;
    }
  }
  Derived d;
  d.md = md;
  d.bytes = md.get_size();
  d.ptr = allocFor(md, d.bytes);
  reorderRaw(w.md, w.ptr, md, d.ptr);
  d.version = w.version;
  w.derived.push_back(d);
  return d.ptr;
}

}  // namespace wrn

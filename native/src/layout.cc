// Engine, stream and scratchpad; cache keys of descriptors; reorders between layouts and the
// per-buffer cache of reordered weights.
#include <cstdlib>

#include "primitives.h"

namespace wrn {

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

// ---- keys ------------------------------------------------------------------------------------------
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

std::string dimsKey(const dims& d) {
  std::string s;
  for (auto v : d) {
    s += std::to_string(v);
    s += 'x';
  }
  s += '|';
  return s;
}

std::string floatKey(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return std::to_string(u);
}

// ---- descriptors -----------------------------------------------------------------------------------
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

memory::desc withType(const memory::desc& md, dt type) {
  if (md.data_type() == type) return md;
  memory::desc out = md;
  out.data.data_type = memory::convert_to_c(type);
  return out;
}

void checkSize(const Buf& b, const dims& shape, const char* what) {
  if (product(b.md.dims()) != product(shape)) {
    fail(std::string("native ") + what + ": storage holds " + std::to_string(product(b.md.dims())) +
         " elements, shape needs " + std::to_string(product(shape)));
  }
}

Layout::Layout(const memory::desc& md) {
  const auto& d = md.data;
  if (d.format_kind != dnnl_blocked) fail("native backend: unexpected memory format");
  nd = d.ndims;
  const auto& b = d.format_desc.blocking;
  offset0 = d.offset0;
  for (int i = 0; i < nd; i++) {
    dims_[i] = d.dims[i];
    strides[i] = b.strides[i];
    perDim[i] = 1;
  }
  nblk = b.inner_nblks;
  for (int k = 0; k < nblk; k++) {
    blk[k] = b.inner_blks[k];
    idx[k] = b.inner_idxs[k];
    perDim[idx[k]] *= blk[k];
  }
  for (int k = 0; k < nblk; k++) {
    after[k] = 1;
    inner[k] = 1;
    for (int j = k + 1; j < nblk; j++) {
      if (idx[j] == idx[k]) after[k] *= blk[j];
      inner[k] *= blk[j];
    }
  }
}

// ---- reorders --------------------------------------------------------------------------------------
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

std::unique_ptr<Buf> reorderTo(Buf& src, const memory::desc& md) {
  materialize(src);
  auto out = newBuf(md);
  reorderRaw(src.md, src.ptr, md, out->ptr);
  return out;
}

void relayoutInPlace(Buf& b, const memory::desc& md) {
  if (b.lazyZero) {
    materialize(b, &md);
    return;
  }
  if (b.md == md) return;
  auto fresh = reorderTo(b, md);
  b.md = md;
  b.adopt(fresh->mem);
  b.clearDerived();
}

namespace {
/** Reinterprets a buffer as the given logical dims when it is plain row-major with the same element count. */
memory::desc withDims(const memory::desc& md, const dims& d) {
  memory::dims cur = md.dims();
  if (cur == d) return md;
  if (product(cur) != product(d)) fail("native backend: storage does not hold " + std::to_string(product(d)) + " elements");
  memory::desc plain = plainDesc(cur, md.data_type());
  if (!(plain == md)) return memory::desc();  // not plain: caller reorders first
  return plainDesc(d, md.data_type());
}
}  // namespace

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

// Int8Net::forward: the int8 program of a pre-activation network (see int8.h), run over buffers sized by
// a dry walk of the layer shapes for this input shape.
#include <cstdlib>
#include <cstring>

#include "int8.h"
#include "napi_args.h"

namespace wrn {

namespace {

/** 64-byte aligned scratch owned by one forward call. */
struct Aligned {
  void* p = nullptr;
  explicit Aligned(size_t bytes) {
    p = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
    if (!p) throw std::bad_alloc();
  }
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

}  // namespace

void Int8Net::forward(const dims& in, const float* input, float* logits) {
  if (!stem) fail("int8 network: not initialised");
  // Dry walk: the largest activation on the residual stream (f32) and between convolutions (u8).
  int64_t maxRes = product(stem->outDims(in)), maxQ = 0;
  dims cur = stem->outDims(in);
  for (auto& b : blocks) {
    maxQ = std::max(maxQ, product(cur));
    dims d = cur;
    for (auto& c : b.convs) {
      d = c.outDims(d);
      maxQ = std::max(maxQ, product(d));
    }
    if (b.shortcut && b.shortcut->outDims(cur) != d) fail("int8 network: shortcut and main path disagree in shape");
    cur = d;
    maxRes = std::max(maxRes, product(cur));
  }
  Aligned resA(maxRes * 4), resB(maxRes * 4), q0(maxQ), q1(maxQ), q2(maxQ);
  float* x = static_cast<float*>(resA.p);
  float* spare = static_cast<float*>(resB.p);
  cur = stem->outDims(in);
  stem->run(in, input, x);
  for (auto& b : blocks) {
    const int64_t c = cur[1];
    if (int64_t(b.bnA.size()) != c) fail("int8 network: bn1 has " + std::to_string(b.bnA.size()) + " channels, input has " + std::to_string(c));
    uint8_t* o = static_cast<uint8_t*>(q0.p);
    bnReluQuantize(x, cur[0] * cur[2] * cur[3], c, b.bnA.data(), b.bnB.data(), b.inScale, o);
    // The residual: the shortcut conv's f32 output, or x itself; the last conv sums into it in place.
    float* out = x;
    if (b.shortcut) {
      b.shortcut->run(cur, o, spare);
      out = spare;
    }
    dims d = cur;
    const uint8_t* qin = o;
    uint8_t* pingpong[2] = {static_cast<uint8_t*>(q1.p), static_cast<uint8_t*>(q2.p)};
    for (size_t i = 0; i < b.convs.size(); i++) {
      QConv& conv = b.convs[i];
      dims nd = conv.outDims(d);
      if (i + 1 == b.convs.size()) {
        conv.run(d, qin, out);
      } else {
        uint8_t* dst = pingpong[i % 2];
        conv.run(d, qin, dst);
        qin = dst;
      }
      d = nd;
    }
    if (out == spare) std::swap(x, spare);
    cur = d;
  }
  strm().wait();
  const int64_t n = cur[0], c = cur[1];
  std::vector<float> pooled(n * c);
  bnReluAvgPool(x, n, cur[2] * cur[3], c, headA.data(), headB.data(), pooled.data());
  if (int64_t(fcW.size()) != classes * c) fail("int8 network: fc weights do not match " + std::to_string(c) + " features");
  linearF32(pooled.data(), n, c, fcW.data(), fcB.data(), classes, logits);
}

}  // namespace wrn

// ---- bindings (kernels.def: int8Info, int8NetCreate, int8NetForward, int8Conv2d) -----------------------
namespace wrn::api {

namespace {

dims dimsOf(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("int8: ") + what + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  dims d(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) d[i] = int64_t(a.Get(i).As<Napi::Number>().DoubleValue());
  return d;
}

template <class T, class Arr>
std::vector<T> vec(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(o.Env(), std::string("int8: '") + key + "' must be a typed array");
  Arr a = v.As<Arr>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> f32(const Napi::Object& o, const char* key) { return vec<float, Napi::Float32Array>(o, key); }

bool flag(const Napi::Object& o, const char* key) { return o.Has(key) && o.Get(key).ToBoolean().Value(); }
int num(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }

QConvSpec qconvSpec(const Napi::Object& o) {
  QConvSpec s;
  s.wshape = dimsOf(o.Get("shape"), "shape");
  if (s.wshape.size() != 4) throw Napi::RangeError::New(o.Env(), "int8: conv weights must be OIHW");
  s.weights = vec<int8_t, Napi::Int8Array>(o, "weights");
  s.bias = f32(o, "bias");
  s.outputScales = f32(o, "outputScales");
  s.stride = num(o, "stride");
  s.pad = num(o, "pad");
  s.relu = flag(o, "relu");
  s.u8Out = flag(o, "u8Out");
  s.sum = flag(o, "sum");
  const size_t oc = size_t(s.wshape[0]);
  if (int64_t(s.weights.size()) != product(s.wshape) || s.bias.size() != oc || s.outputScales.size() != oc) {
    throw Napi::RangeError::New(o.Env(), "int8: conv weights, bias or scales do not match the shape");
  }
  return s;
}

}  // namespace

Napi::Value int8Info(const Info& info) {
  Napi::Env env = info.Env();
  {
    Napi::Object o = Napi::Object::New(env);
    o.Set("isa", isaName());
    o.Set("vnni", cpuHasVnni());
    return o;
  }
}

/** int8NetCreate({stem, blocks: [{bnA, bnB, inScale, convs: [qconv], shortcut?}], headA, headB, fcW, fcB, classes}) */
Napi::Value int8NetCreate(const Info& info) {
  Napi::Env env = info.Env();
  {
    Napi::Object d = info[0].As<Napi::Object>();
    auto net = std::make_unique<Int8Net>();
    Napi::Object st = d.Get("stem").As<Napi::Object>();
    net->stem = std::make_unique<FConv>(dimsOf(st.Get("shape"), "stem shape"), f32(st, "weights"), num(st, "stride"), num(st, "pad"));
    Napi::Array blocks = d.Get("blocks").As<Napi::Array>();
    for (uint32_t i = 0; i < blocks.Length(); i++) {
      Napi::Object b = blocks.Get(i).As<Napi::Object>();
      QBlock q;
      q.bnA = f32(b, "bnA");
      q.bnB = f32(b, "bnB");
      q.inScale = b.Get("inScale").As<Napi::Number>().FloatValue();
      Napi::Array convs = b.Get("convs").As<Napi::Array>();
      for (uint32_t j = 0; j < convs.Length(); j++) q.convs.emplace_back(qconvSpec(convs.Get(j).As<Napi::Object>()));
      if (b.Has("shortcut") && b.Get("shortcut").IsObject()) q.shortcut = std::make_unique<QConv>(qconvSpec(b.Get("shortcut").As<Napi::Object>()));
      net->blocks.push_back(std::move(q));
    }
    net->headA = f32(d, "headA");
    net->headB = f32(d, "headB");
    net->fcW = f32(d, "fcW");
    net->fcB = f32(d, "fcB");
    net->classes = num(d, "classes");
    return Napi::Number::New(env, double(registerObj(std::move(net))));
  }
}

Napi::Value int8NetForward(const Info& info) {
  Napi::Env env = info.Env();
  {
    auto* net = dynamic_cast<Int8Net*>(lookupObj(int64_t(info[0].As<Napi::Number>().DoubleValue())));
    if (!net) throw Napi::Error::New(env, "int8: not an int8 network handle");
    auto x = info[1].As<Napi::Float32Array>();
    dims s = dimsOf(info[2], "input shape");
    if (s.size() != 4 || int64_t(x.ElementLength()) != product(s)) throw Napi::RangeError::New(env, "int8: input length does not match its shape");
    auto out = Napi::Float32Array::New(env, size_t(s[0] * net->classes));
    net->forward(s, x.Data(), out.Data());
    return out;
  }
}

/**
 * Test hook: one quantized convolution. x: u8 NCHW, spec as in a block (plus `init`: f32 NCHW values the
 * destination holds before a sum). Returns the destination as f32 NCHW (u8 outputs converted).
 */
Napi::Value int8Conv2d(const Info& info) {
  Napi::Env env = info.Env();
  {
    auto x = info[0].As<Napi::Uint8Array>();
    dims s = dimsOf(info[1], "input shape");
    Napi::Object o = info[2].As<Napi::Object>();
    QConv conv(qconvSpec(o));
    if (s.size() != 4 || int64_t(x.ElementLength()) != product(s)) throw Napi::RangeError::New(env, "int8: input length does not match its shape");
    const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
    std::vector<uint8_t> xn(x.ElementLength());
    for (int64_t i = 0; i < n; i++)
      for (int64_t k = 0; k < c; k++)
        for (int64_t p = 0; p < hw; p++) xn[(i * hw + p) * c + k] = x.Data()[(i * c + k) * hw + p];
    dims d = conv.outDims(s);
    const int64_t oc = d[1], ohw = d[2] * d[3];
    auto out = Napi::Float32Array::New(env, size_t(product(d)));
    std::vector<float> yf(product(d), 0.0f);
    std::vector<uint8_t> yq(product(d), 0);
    if (o.Has("init") && o.Get("init").IsTypedArray()) {
      std::vector<float> init = f32(o, "init");
      if (int64_t(init.size()) != product(d)) throw Napi::RangeError::New(env, "int8: init does not match the output shape");
      for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < oc; k++)
          for (int64_t p = 0; p < ohw; p++) yf[(i * ohw + p) * oc + k] = init[(i * oc + k) * ohw + p];
    }
    conv.run(s, xn.data(), conv.spec().u8Out ? static_cast<void*>(yq.data()) : static_cast<void*>(yf.data()));
    strm().wait();
    for (int64_t i = 0; i < n; i++)
      for (int64_t k = 0; k < oc; k++)
        for (int64_t p = 0; p < ohw; p++) {
          const int64_t j = (i * ohw + p) * oc + k;
          out.Data()[(i * oc + k) * ohw + p] = conv.spec().u8Out ? float(yq[j]) : yf[j];
        }
    return out;
  }
}

}  // namespace wrn::api

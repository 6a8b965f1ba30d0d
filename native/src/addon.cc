// Node-API bindings of the oneDNN backend. Storages and saved contexts are integer handles into the
// object table (see pool.cc); JavaScript frees them deterministically with free(handle).
#include <napi.h>
#include <omp.h>

#include <malloc.h>

#include <cstring>

#include "kernels.h"

namespace {

using namespace wrn;

dims toDims(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "native backend: shape must be an array");
  Napi::Array a = v.As<Napi::Array>();
  dims d(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) d[i] = int64_t(a.Get(i).As<Napi::Number>().DoubleValue());
  return d;
}

int64_t H(const Napi::Value& v) { return int64_t(v.As<Napi::Number>().DoubleValue()); }
double D(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
Napi::Value N(Napi::Env env, int64_t h) { return Napi::Number::New(env, double(h)); }

template <class F>
Napi::Value guard(const Napi::CallbackInfo& info, F f) {
  try {
    return f(info.Env());
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what() + " (status " + std::to_string(int(e.status)) + ")");
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "native backend: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Array arr(Napi::Env env, std::initializer_list<double> vals) {
  Napi::Array a = Napi::Array::New(env, vals.size());
  uint32_t i = 0;
  for (double v : vals) a.Set(i++, Napi::Number::New(env, v));
  return a;
}

#define FN(name) Napi::Value name(const Napi::CallbackInfo& info)

FN(Upload) {
  return guard(info, [&](Napi::Env env) {
    auto data = info[0].As<Napi::Float32Array>();
    dims s = toDims(info[1]);
    if (int64_t(data.ElementLength()) != product(s)) throw Napi::RangeError::New(env, "native upload: data length does not match shape");
    return N(env, kUpload(data.Data(), s));
  });
}

FN(Read) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    dims s = toDims(info[1]);
    auto out = Napi::Float32Array::New(env, size_t(product(s)));
    kRead(H(info[0]), s, out.Data());
    return out;
  });
}

FN(Zeros) {
  return guard(info, [&](Napi::Env env) { return N(env, kZeros(toDims(info[0]))); });
}

// Safety net for storages a caller never disposes: the JS object carries a native finalizer (napi_wrap)
// that frees its handle when the object is collected; dispose() removes it and frees at once.
FN(Track) {
  napi_env env = info.Env();
  int64_t h = H(info[1]);
  napi_status st = napi_wrap(
      env, info[0], reinterpret_cast<void*>(intptr_t(h)),
      [](napi_env, void* data, void*) { releaseObj(int64_t(intptr_t(data))); }, nullptr, nullptr);
  if (st != napi_ok) throw Napi::Error::New(env, "native backend: could not attach a finalizer");
  return info.Env().Undefined();
}

FN(Free) {
  if (info.Length() > 1 && info[1].IsObject()) {
    void* data = nullptr;
    napi_remove_wrap(info.Env(), info[1], &data);
  }
  releaseObj(H(info[0]));
  return info.Env().Undefined();
}

FN(Copy) {
  return guard(info, [&](Napi::Env env) { return N(env, kCopy(H(info[0]))); });
}

FN(Conv2d) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kConv2d(H(info[0]), toDims(info[1]), H(info[2]), toDims(info[3]), int(D(info[4])), int(D(info[5])),
                          info.Length() > 6 && info[6].ToBoolean()));
  });
}

FN(Conv2dBackwardData) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kConv2dBackwardData(H(info[0]), H(info[1]), toDims(info[2]), toDims(info[3]), int(D(info[4])),
                                      int(D(info[5]))));
  });
}

FN(Conv2dBackwardWeights) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kConv2dBackwardWeights(H(info[0]), H(info[1]), toDims(info[2]), toDims(info[3]), int(D(info[4])),
                                         int(D(info[5]))));
  });
}

FN(BatchNormTrain) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    auto r = kBatchNormTrain(H(info[0]), toDims(info[1]), H(info[2]), H(info[3]), H(info[4]), H(info[5]),
                             float(D(info[6])), float(D(info[7])), int(D(info[8])));
    return arr(env, {double(r.first), double(r.second)});
  });
}

FN(BatchNormInfer) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kBatchNormInfer(H(info[0]), toDims(info[1]), H(info[2]), H(info[3]), H(info[4]), H(info[5]),
                                  float(D(info[6])), int(D(info[7]))));
  });
}

FN(BatchNormBackward) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    auto r = kBatchNormBackward(H(info[0]), H(info[1]), toDims(info[2]), H(info[3]), H(info[4]), H(info[5]),
                                float(D(info[6])), int(D(info[7])));
    return arr(env, {double(r[0]), double(r[1]), double(r[2])});
  });
}

FN(Activation) {
  return guard(info, [&](Napi::Env env) { return N(env, kActivation(int(D(info[0])), H(info[1]), toDims(info[2]))); });
}

FN(ActivationBackward) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kActivationBackward(int(D(info[0])), H(info[1]), H(info[2]), toDims(info[3])));
  });
}

FN(Dropout) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kDropout(H(info[0]), toDims(info[1]), D(info[2]), uint32_t(int64_t(D(info[3])))));
  });
}

FN(Add) {
  return guard(info, [&](Napi::Env env) { return N(env, kAdd(H(info[0]), H(info[1]), toDims(info[2]))); });
}

FN(AddInPlace) {
  return guard(info, [&](Napi::Env env) {
    kAddInPlace(H(info[0]), H(info[1]), toDims(info[2]));
    return env.Undefined();
  });
}

FN(GlobalAvgPool) {
  return guard(info, [&](Napi::Env env) { return N(env, kGlobalAvgPool(H(info[0]), toDims(info[1]))); });
}

FN(GlobalAvgPoolBackward) {
  return guard(info, [&](Napi::Env env) { return N(env, kGlobalAvgPoolBackward(H(info[0]), toDims(info[1]))); });
}

FN(MaxPool2d) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    auto r = kMaxPool2d(H(info[0]), toDims(info[1]), int(D(info[2])), int(D(info[3])), int(D(info[4])));
    return arr(env, {double(r.first), double(r.second)});
  });
}

FN(MaxPool2dBackward) {
  return guard(info, [&](Napi::Env env) { return N(env, kMaxPool2dBackward(H(info[0]), toDims(info[1]), H(info[2]))); });
}

FN(Linear) {
  return guard(info, [&](Napi::Env env) {
    return N(env, kLinear(H(info[0]), toDims(info[1]), H(info[2]), toDims(info[3]), H(info[4])));
  });
}

FN(LinearBackward) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    auto r = kLinearBackward(H(info[0]), H(info[1]), toDims(info[2]), H(info[3]), toDims(info[4]), info[5].ToBoolean());
    return arr(env, {double(r[0]), double(r[1]), double(r[2])});
  });
}

FN(SoftmaxCrossEntropy) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    auto labels = info[2].As<Napi::Int32Array>();
    dims s = toDims(info[1]);
    if (s.size() != 2 || int64_t(labels.ElementLength()) != s[0]) {
      throw Napi::RangeError::New(env, "native softmaxCrossEntropy: one label per row expected");
    }
    auto r = kSoftmaxCrossEntropy(H(info[0]), s, labels.Data(), D(info[3]));
    return arr(env, {r.first, double(r.second)});
  });
}

FN(SgdStep) {
  return guard(info, [&](Napi::Env env) {
    SgdOpts o{float(D(info[4])), float(D(info[5])), float(D(info[6])), float(D(info[7])), info[8].ToBoolean(),
              info[9].ToBoolean()};
    kSgdStep(H(info[0]), H(info[1]), H(info[2]), toDims(info[3]), o);
    return env.Undefined();
  });
}

FN(SetPrecision) {
  return guard(info, [&](Napi::Env env) {
    std::string p = info[0].As<Napi::String>().Utf8Value();
    if (p == "fp32") {
      actType = dt::f32;
    } else if (p == "bf16") {
      if (!cpuHasBf16()) {
        throw Napi::Error::New(env, "native backend: this CPU has no native bf16 support (oneDNN ISA " + isaName() +
                                        "; needs avx512_core_bf16 or AMX)");
      }
      actType = dt::bf16;
    } else {
      throw Napi::TypeError::New(env, "native backend: precision must be 'fp32' or 'bf16'");
    }
    return env.Undefined();
  });
}

FN(Info) {
  return guard(info, [&](Napi::Env env) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    const dnnl_version_t* v = dnnl_version();
    o.Set("version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
    o.Set("isa", isaName());
    o.Set("threads", omp_get_max_threads());
    o.Set("bf16", cpuHasBf16());
    return o;
  });
}

FN(Stats) {
  PoolStats s = poolStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", double(s.liveBytes));
  o.Set("cachedBytes", double(s.cachedBytes));
  o.Set("peakLiveBytes", double(s.peakLiveBytes));
  o.Set("osAllocs", double(s.osAllocs));
  o.Set("allocCalls", double(s.allocCalls));
  o.Set("liveObjects", double(liveObjects()));
  struct mallinfo2 mi = mallinfo2();
  o.Set("mallocInUse", double(mi.uordblks));
  o.Set("mallocFree", double(mi.fordblks));
  o.Set("mallocMmapped", double(mi.hblkhd));
  return o;
}

FN(Relayout) {
  return guard(info, [&](Napi::Env env) { return N(env, kRelayout(H(info[0]), int(D(info[1])))); });
}

FN(Layout) {
  return guard(info, [&](Napi::Env env) -> Napi::Value { return Napi::String::New(env, kDescribeLayout(H(info[0]))); });
}

FN(SetConvAlgo) {
  return guard(info, [&](Napi::Env env) {
    kSetConvAlgo(info[0].As<Napi::String>().Utf8Value());
    return env.Undefined();
  });
}

FN(MallocTrim) {
  malloc_trim(0);
  return info.Env().Undefined();
}

FN(Trim) {
  double released = double(poolTrim());
  malloc_trim(0);
  return Napi::Number::New(info.Env(), released);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The object table, caches and allocator are process-wide and single-threaded: one JavaScript thread
  // only (a worker that tries gets an error, and the loader falls back to the TypeScript backend).
  static bool initialized = false;
  if (initialized) throw Napi::Error::New(env, "the native backend can be used from one JavaScript thread only");
  initialized = true;
  struct {
    const char* name;
    Napi::Function::Callback fn;
  } fns[] = {
      {"upload", Upload},
      {"read", Read},
      {"zeros", Zeros},
      {"free", Free},
      {"track", Track},
      {"copy", Copy},
      {"conv2d", Conv2d},
      {"conv2dBackwardData", Conv2dBackwardData},
      {"conv2dBackwardWeights", Conv2dBackwardWeights},
      {"batchNormTrain", BatchNormTrain},
      {"batchNormInfer", BatchNormInfer},
      {"batchNormBackward", BatchNormBackward},
      {"activation", Activation},
      {"activationBackward", ActivationBackward},
      {"dropout", Dropout},
      {"add", Add},
      {"addInPlace", AddInPlace},
      {"globalAvgPool", GlobalAvgPool},
      {"globalAvgPoolBackward", GlobalAvgPoolBackward},
      {"maxPool2d", MaxPool2d},
      {"maxPool2dBackward", MaxPool2dBackward},
      {"linear", Linear},
      {"linearBackward", LinearBackward},
      {"softmaxCrossEntropy", SoftmaxCrossEntropy},
      {"sgdStep", SgdStep},
      {"setPrecision", SetPrecision},
      {"info", Info},
      {"stats", Stats},
      {"trim", Trim},
      {"mallocTrim", MallocTrim},
      {"setConvAlgo", SetConvAlgo},
      {"relayout", Relayout},
      {"layout", Layout},
  };
  for (auto& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  return exports;
}

}  // namespace

namespace wrn {

bool cpuHasBf16() {
  dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

std::string isaName() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

}  // namespace wrn

NODE_API_MODULE(wrn_native, Init)

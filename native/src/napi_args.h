// Reading a binding's JavaScript arguments and building its results. Every binding is declared once
// by kernels.def (as wrn::api::<name>) and registered by addon.cc, which turns C++ exceptions into
// JavaScript errors.
#pragma once

#include <napi.h>

#include <initializer_list>

#include "primitives.h"

namespace wrn::api {

using Info = Napi::CallbackInfo;

inline dims dimsArg(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "native backend: shape must be an array");
  Napi::Array a = v.As<Napi::Array>();
  dims d(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) d[i] = int64_t(a.Get(i).As<Napi::Number>().DoubleValue());
  return d;
}

inline double numArg(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
inline int intArg(const Napi::Value& v) { return int(numArg(v)); }
inline int64_t handleArg(const Napi::Value& v) { return int64_t(numArg(v)); }

/** A kernel's compute precision, passed by the caller with every call: "fp32" or "bf16". */
inline dt precisionArg(const Napi::Value& v) {
  std::string p = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (p == "fp32") return dt::f32;
  if (p == "bf16") {
    if (!cpuHasBf16()) {
      fail("native backend: this CPU has no native bf16 support (oneDNN ISA " + isaName() +
           "; needs avx512_core_bf16 or AMX)");
    }
    return dt::bf16;
  }
  throw Napi::TypeError::New(v.Env(), "native backend: precision must be 'fp32' or 'bf16', got '" + p + "'");
}

/** A kernel's mode: "training" (a backward will follow) or "inference"; returns true for inference. */
inline bool inferenceArg(const Napi::Value& v) {
  std::string m = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (m == "training") return false;
  if (m == "inference") return true;
  throw Napi::TypeError::New(v.Env(), "native backend: mode must be 'training' or 'inference', got '" + m + "'");
}

inline Napi::Value handleOut(Napi::Env env, int64_t h) { return Napi::Number::New(env, double(h)); }

inline Napi::Array numbersOut(Napi::Env env, std::initializer_list<double> vals) {
  Napi::Array a = Napi::Array::New(env, vals.size());
  uint32_t i = 0;
  for (double v : vals) a.Set(i++, Napi::Number::New(env, v));
  return a;
}

}  // namespace wrn::api

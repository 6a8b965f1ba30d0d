// Registration of the addon's functions: kernels.def lists them, each kernel family's file defines its
// bindings (wrn::api::<name>), and this file exports them with C++ errors turned into JavaScript ones.
#include "napi_args.h"

namespace wrn::api {
#define WRN_KERNEL(name) Napi::Value name(const Info& info);
#include "kernels.def"
#undef WRN_KERNEL
}  // namespace wrn::api

namespace {

/** Calls a binding; oneDNN, allocation and kernel errors become JavaScript errors with one clear line. */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The object table, caches and allocator are process-wide and single-threaded: one JavaScript thread
  // only (a worker that tries gets an error, and the loader falls back to the TypeScript backend).
  static bool initialized = false;
  if (initialized) throw Napi::Error::New(env, "the native backend can be used from one JavaScript thread only");
  initialized = true;
#define WRN_KERNEL(name) exports.Set(#name, Napi::Function::New(env, guarded<wrn::api::name>, #name));
#include "kernels.def"
#undef WRN_KERNEL
  return exports;
}

}  // namespace

NODE_API_MODULE(wrn_native, Init)

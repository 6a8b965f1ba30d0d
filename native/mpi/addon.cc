// Node-API bindings of the MPI addon: initialisation, the communication thread's collectives
// (asynchronous allreduce for gradient buckets, blocking allreduce/bcast/barrier with a time limit
// for everything else), abort and finalisation. Buffers are typed arrays owned by JavaScript; an
// asynchronous job holds a reference to its array until its promise settles.
#include <dlfcn.h>
#include <napi.h>

#include <cstring>
#include <future>
#include <memory>

#include "comm.h"

namespace {

using namespace wrnmpi;

struct State {
  bool initialized = false;
  bool finalized = false;
  int rank = 0;
  int size = 1;
  CommThread comm;
  Napi::ThreadSafeFunction tsfn;
  int outstanding = 0;  // asynchronous jobs whose promise has not settled (JS thread only)
};
State state;

struct AsyncJob : Job {
  explicit AsyncJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference buffer;
};

void requireRunning(Napi::Env env) {
  if (!state.initialized) throw Napi::Error::New(env, "MPI: init() has not been called");
  if (state.finalized) throw Napi::Error::New(env, "MPI: already finalized");
}

// The buffer, its element count and MPI type, from a typed array.
void describeBuffer(Napi::Env env, const Napi::Value& v, Job* job) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "MPI: expected a typed array");
  auto ta = v.As<Napi::TypedArray>();
  switch (ta.TypedArrayType()) {
    case napi_float32_array: job->type = MPI_FLOAT; break;
    case napi_float64_array: job->type = MPI_DOUBLE; break;
    case napi_int32_array: job->type = MPI_INT; break;
    case napi_uint8_array: job->type = MPI_BYTE; break;
    default: throw Napi::TypeError::New(env, "MPI: buffers must be Float32Array, Float64Array, Int32Array or Uint8Array");
  }
  if (ta.ElementLength() > size_t(INT32_MAX)) throw Napi::RangeError::New(env, "MPI: buffer longer than 2^31-1 elements");
  job->count = int(ta.ElementLength());
  job->data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

MPI_Op opOf(Napi::Env env, const Napi::Value& v, MPI_Datatype type) {
  std::string op = v.IsString() ? v.As<Napi::String>().Utf8Value() : "sum";
  if (type == MPI_BYTE) throw Napi::TypeError::New(env, "MPI: cannot reduce a Uint8Array");
  if (op == "sum") return MPI_SUM;
  if (op == "max") return MPI_MAX;
  if (op == "min") return MPI_MIN;
  throw Napi::TypeError::New(env, "MPI: reduction '" + op + "' is not one of sum, max, min");
}

const char* levelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "single";
    case MPI_THREAD_FUNNELED: return "funneled";
    case MPI_THREAD_SERIALIZED: return "serialized";
    case MPI_THREAD_MULTIPLE: return "multiple";
  }
  return "unknown";
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state.initialized) throw Napi::Error::New(env, "MPI: init() called twice");
  // Open MPI loads its components with dlopen and expects libmpi's symbols to be global; Node loads
  // this addon (and so libmpi) with RTLD_LOCAL. Promote the already-loaded library to global.
  dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Init_thread failed: " + mpiErrorString(rc));
  state.initialized = true;
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    state.finalized = true;
    throw Napi::Error::New(env, std::string("MPI granted thread level '") + levelName(provided) +
                                    "'; the communication thread needs 'serialized' or better");
  }
  // Errors come back as return codes (reported with the failing collective) instead of aborting silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &state.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &state.size);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char host[MPI_MAX_PROCESSOR_NAME];
  int hlen = 0;
  MPI_Get_processor_name(host, &hlen);

  state.tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "wrn_mpi", 0, 1);
  state.tsfn.Unref(env);
  state.comm.start();

  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", state.rank);
  o.Set("size", state.size);
  o.Set("threadLevel", levelName(provided));
  o.Set("library", std::string(lib, strnlen(lib, size_t(len))));
  o.Set("host", std::string(host, size_t(hlen)));
  return o;
}

// Called on the JS thread for a finished asynchronous job.
void settle(Napi::Env env, Napi::Function, AsyncJob* job) {
  std::unique_ptr<AsyncJob> owned(job);
  if (--state.outstanding == 0) state.tsfn.Unref(env);
  if (!job->error.empty()) job->deferred.Reject(Napi::Error::New(env, "MPI_Allreduce failed: " + job->error).Value());
  else job->deferred.Resolve(Napi::Number::New(env, job->seconds));
}

// allreduceAsync(buffer, op) -> Promise<seconds in MPI_Allreduce>; in place.
Napi::Value AllreduceAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireRunning(env);
  auto* job = new AsyncJob(env);
  try {
    describeBuffer(env, info[0], job);
    job->op = opOf(env, info[1], job->type);
  } catch (...) {
    delete job;
    throw;
  }
  job->kind = Kind::Allreduce;
  job->buffer = Napi::Persistent(info[0].As<Napi::Object>());
  job->done = [](Job* j) { state.tsfn.BlockingCall(static_cast<AsyncJob*>(j), settle); };
  if (state.outstanding++ == 0) state.tsfn.Ref(env);
  Napi::Promise p = job->deferred.Promise();
  state.comm.submit(job);
  return p;
}

// Runs a job on the comm thread and blocks the JS thread until it is done or `timeoutMs` passes.
double runBlocking(Napi::Env env, std::shared_ptr<Job> job, double timeoutMs, const char* what) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  // The comm thread keeps the job alive through the lambda even if we give up waiting.
  job->done = [job, done](Job*) { done->set_value(); };
  state.comm.submit(job.get());
  if (f.wait_for(std::chrono::duration<double, std::milli>(timeoutMs)) != std::future_status::ready) {
    throw Napi::Error::New(env, std::string(what) + " did not complete within " + std::to_string(int(timeoutMs / 1000)) +
                                    " s (a rank is gone or stuck)");
  }
  if (!job->error.empty()) throw Napi::Error::New(env, std::string(what) + " failed: " + job->error);
  return job->seconds;
}

double timeoutOf(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 600000; }

// allreduce(buffer, op, timeoutMs) -> seconds; in place, blocking.
Napi::Value Allreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireRunning(env);
  auto job = std::make_shared<Job>();
  describeBuffer(env, info[0], job.get());
  job->op = opOf(env, info[1], job->type);
  job->kind = Kind::Allreduce;
  return Napi::Number::New(env, runBlocking(env, job, timeoutOf(info[2]), "MPI_Allreduce"));
}

// bcast(buffer, root, timeoutMs) -> seconds; blocking.
Napi::Value Bcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireRunning(env);
  auto job = std::make_shared<Job>();
  describeBuffer(env, info[0], job.get());
  job->kind = Kind::Bcast;
  job->root = info[1].As<Napi::Number>().Int32Value();
  if (job->root < 0 || job->root >= state.size) throw Napi::RangeError::New(env, "MPI_Bcast: root out of range");
  return Napi::Number::New(env, runBlocking(env, job, timeoutOf(info[2]), "MPI_Bcast"));
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireRunning(env);
  auto job = std::make_shared<Job>();
  job->kind = Kind::Barrier;
  return Napi::Number::New(env, runBlocking(env, job, timeoutOf(info[0]), "MPI_Barrier"));
}

// abort(code): ends every rank of the job (mpirun reports which one called it).
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (state.initialized && !state.finalized) MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

// finalize(): waits for queued jobs, stops the comm thread, MPI_Finalize on this (the initialising) thread.
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state.initialized || state.finalized) return env.Undefined();
  state.comm.stop();
  state.tsfn.Release();
  state.finalized = true;
  int rc = MPI_Finalize();
  if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Finalize failed: " + mpiErrorString(rc));
  return env.Undefined();
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allreduceAsync", Napi::Function::New(env, AllreduceAsync));
  exports.Set("allreduce", Napi::Function::New(env, Allreduce));
  exports.Set("bcast", Napi::Function::New(env, Bcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  return exports;
}

}  // namespace

NODE_API_MODULE(wrn_mpi, Module)

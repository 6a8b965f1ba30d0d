// The communication thread: one std::thread that owns every MPI call after MPI_Init_thread, so MPI
// runs on a thread of its own (MPI_THREAD_SERIALIZED: calls come from one thread at a time, never
// from the JavaScript thread while this one is busy). Jobs run strictly in submission order, which
// is what keeps collectives matched across ranks: every rank submits the same sequence.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace wrnmpi {

enum class Kind { Allreduce, Bcast, Barrier };

struct Job {
  Kind kind = Kind::Barrier;
  void* data = nullptr;
  int count = 0;
  MPI_Datatype type = MPI_BYTE;
  MPI_Op op = MPI_SUM;
  int root = 0;
  // Filled by the comm thread.
  std::string error;
  double seconds = 0;  // time inside the MPI call
  // Called on the comm thread when the job is done (the binding decides how to tell JavaScript).
  std::function<void(Job*)> done;
};

class CommThread {
 public:
  void start();
  // Queues a job; the comm thread runs it after every job queued before it.
  void submit(Job* job);
  // Stops after the queued jobs (joins the thread).
  void stop();
  bool running() const { return thread_.joinable(); }

 private:
  void loop();
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  bool stopping_ = false;
};

// Runs one job's MPI call on the calling thread; sets job->error on failure.
void runJob(Job* job);

std::string mpiErrorString(int code);

}  // namespace wrnmpi

#include "comm.h"

namespace wrnmpi {

std::string mpiErrorString(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, size_t(len));
}

void runJob(Job* job) {
  auto t0 = std::chrono::steady_clock::now();
  int rc = MPI_SUCCESS;
  switch (job->kind) {
    case Kind::Allreduce:
      rc = MPI_Allreduce(MPI_IN_PLACE, job->data, job->count, job->type, job->op, MPI_COMM_WORLD);
      break;
    case Kind::Bcast:
      rc = MPI_Bcast(job->data, job->count, job->type, job->root, MPI_COMM_WORLD);
      break;
    case Kind::Barrier:
      rc = MPI_Barrier(MPI_COMM_WORLD);
      break;
  }
  job->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rc != MPI_SUCCESS) job->error = mpiErrorString(rc);
}

void CommThread::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void CommThread::submit(Job* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job);
  }
  cv_.notify_one();
}

void CommThread::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void CommThread::loop() {
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = queue_.front();
      queue_.pop_front();
    }
    runJob(job);
    // Move the callback out first: it may free the job (asynchronous jobs are deleted on the JS
    // thread once settled) and a blocking job's callback owns the last reference to it.
    auto done = std::move(job->done);
    done(job);
  }
}

}  // namespace wrnmpi

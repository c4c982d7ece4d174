// Communicator: the one seam between Tessera and MPI (docs/distributed.md). A group of processes
// (ranks) with broadcast, f32 sum all-reduce and point-to-point messages. Every wait is bounded:
// MPI's own collectives block forever when a peer dies or hangs, so each operation is started
// non-blocking and polled against a deadline; a peer that does not answer in time is an
// kUnavailable Status naming the operation and the peer, never a hang.
// Built without MPI (TESSERA_MPI off) or started without mpirun, world() is a group of one: the
// collectives are no-ops and the rest of the code compiles and runs unchanged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace tessera::dist {

// True when this binary was built with MPI (the CMake option TESSERA_MPI).
bool built_with_mpi();

class Communicator {
 public:
  // Waits forever (the worker's wait for the next command: an idle server sends none).
  static constexpr std::chrono::milliseconds kNoDeadline{-1};

  Communicator();  // a group of one process
  ~Communicator();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // How long one operation may wait for its peers (default: TESSERA_DIST_TIMEOUT_S or 60 s).
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // `bytes` of `data` from `root` to every rank.
  Status broadcast(void* data, size_t bytes, int root, std::chrono::milliseconds timeout);
  Status broadcast(void* data, size_t bytes, int root) { return broadcast(data, bytes, root, timeout_); }
  // data[i] = the sum over ranks of data[i], on every rank.
  Status all_reduce_sum(float* data, size_t count);
  // recv[r * count ...] = rank r's `count` floats of `send`, on every rank.
  Status all_gather(const float* send, size_t count, float* recv);
  // Sends a copy of `bytes` of `data` to `dest` and returns at once (the copy travels while the
  // caller computes); a failed earlier send is reported by the next send or by flush().
  Status send(const void* data, size_t bytes, int dest, int tag);
  // Receives exactly `bytes` from `source` with `tag`.
  Status recv(void* data, size_t bytes, int source, int tag, std::chrono::milliseconds timeout);
  Status recv(void* data, size_t bytes, int source, int tag) { return recv(data, bytes, source, tag, timeout_); }
  // Waits until every send has left.
  Status flush();

  // The sub-group of the ranks that pass the same `color`, ordered by `key` (MPI_Comm_split).
  // Collective over this group.
  Expected<Communicator> split(int color, int key);

  // Payload bytes this rank has sent (broadcasts it rooted, all-reduce input, sends) since creation.
  int64_t bytes_sent() const { return bytes_sent_; }

  struct Impl;

 private:
  friend class Session;
  explicit Communicator(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;  // null: a group of one
  int rank_ = 0;
  int size_ = 1;
  std::chrono::milliseconds timeout_;
  int64_t bytes_sent_ = 0;
};

// The process's MPI lifetime: MPI_Init_thread in the constructor when the process was started by
// mpirun (or with TESSERA_FORCE_MPI=1), MPI_Finalize in the destructor. One per process, made in
// main() before anything else; world() is usable only while it lives.
class Session {
 public:
  Session(int* argc, char*** argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

// Every process of the job (MPI_COMM_WORLD), or a group of one.
Communicator& world();

// Prints "tessera: <message>" and ends the whole job (MPI_Abort), for a failure in the middle of
// a forward pass, where the ranks can no longer agree on anything. Plain exit(1) without MPI.
// The abort hook, if set, runs first with the message and returns when it is done, in a time
// it bounds itself (the server: answer every in-flight request 503, stop).
[[noreturn]] void abort_job(const std::string& message);
void set_abort_hook(std::function<void(const std::string& message)> hook);

}  // namespace tessera::dist

// Communicator over MPI (TESSERA_HAVE_MPI) or, without it, the group of one process. Every MPI
// operation is non-blocking and polled against a deadline (wait_for), so a dead or hung peer
// becomes a Status instead of a hang.
#include "dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#ifdef TESSERA_HAVE_MPI
#include <mpi.h>
#endif

namespace tessera::dist {
namespace {

std::chrono::milliseconds default_timeout() {
  const char* env = std::getenv("TESSERA_DIST_TIMEOUT_S");
  const long seconds = env != nullptr ? std::strtol(env, nullptr, 10) : 0;
  return std::chrono::milliseconds(seconds > 0 ? seconds * 1000 : 60'000);
}

Status unavailable(const std::string& what, int peer, std::chrono::milliseconds timeout) {
  return Status(StatusCode::kInternal, what + ": rank " + std::to_string(peer) + " did not answer within " +
                                           std::to_string(timeout.count() / 1000.0).substr(0, 5) +
                                           " s (dead or hung; TESSERA_DIST_TIMEOUT_S sets the limit)");
}

std::function<void(const std::string&)> g_abort_hook;

// The message, then the hook (abort_job).
void run_abort_hook(const std::string& message) {
  std::fprintf(stderr, "tessera: %s\n", message.c_str());
  std::fflush(stderr);
  if (g_abort_hook) g_abort_hook(message);
}

}  // namespace

void set_abort_hook(std::function<void(const std::string&)> hook) { g_abort_hook = std::move(hook); }

#ifdef TESSERA_HAVE_MPI

bool built_with_mpi() { return true; }

struct Communicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  bool owned = false;  // split() results are freed with the communicator
  struct PendingSend {
    std::vector<uint8_t> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
    int dest = 0;
  };
  std::deque<PendingSend> sends;

  ~Impl() {
    if (owned && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

namespace {

bool g_mpi_initialized = false;

// Polls `request` until it completes or `timeout` passes: spins for the first millisecond (a
// tensor-parallel peer is usually a few microseconds to a millisecond behind, and a yielded core
// can be gone for a whole scheduler slice), then yields until 10 ms, then sleeps 100 us at a
// time so an idle rank does not hold a core.
bool wait_for(MPI_Request& request, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return true;
    const auto waited = std::chrono::steady_clock::now() - start;
    if (timeout.count() >= 0 && waited > timeout) return false;
    if (waited > std::chrono::milliseconds(10)) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    } else if (waited > std::chrono::milliseconds(1)) {
      std::this_thread::yield();
    }
  }
}

}  // namespace

Session::Session(int* argc, char*** argv) {
  // mpirun (Open MPI) and other launchers export these; a plain `tessera` run never pays for MPI.
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
                        std::getenv("PMIX_RANK") != nullptr || std::getenv("TESSERA_FORCE_MPI") != nullptr;
  if (!launched) return;
  int provided = 0;
  // The forward pass runs on the engine loop's thread, not main's: calls come from one thread at
  // a time, but not always the same one.
  MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  g_mpi_initialized = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  auto impl = std::make_unique<Communicator::Impl>();
  impl->comm = MPI_COMM_WORLD;
  world() = Communicator(std::move(impl));
}

Session::~Session() {
  if (!g_mpi_initialized) return;
  world() = Communicator();
  MPI_Finalize();
  g_mpi_initialized = false;
}

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), timeout_(default_timeout()) {
  MPI_Comm_rank(impl_->comm, &rank_);
  MPI_Comm_size(impl_->comm, &size_);
}

Status Communicator::broadcast(void* data, size_t bytes, int root, std::chrono::milliseconds timeout) {
  if (size_ == 1) return Status();
  MPI_Request request;
  if (MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, impl_->comm, &request) != MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Ibcast failed");
  }
  if (!wait_for(request, timeout)) return unavailable("broadcast", root == rank_ ? (rank_ + 1) % size_ : root, timeout);
  if (rank_ == root) bytes_sent_ += static_cast<int64_t>(bytes) * (size_ - 1);
  return Status();
}

Status Communicator::all_reduce_sum(float* data, size_t count) {
  if (size_ == 1) return Status();
  MPI_Request request;
  if (MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM, impl_->comm, &request) !=
      MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Iallreduce failed");
  }
  if (!wait_for(request, timeout_)) return unavailable("all-reduce", (rank_ + 1) % size_, timeout_);
  bytes_sent_ += static_cast<int64_t>(count * sizeof(float));
  return Status();
}

Status Communicator::all_gather(const float* send, size_t count, float* recv) {
  if (size_ == 1) {
    std::memcpy(recv, send, count * sizeof(float));
    return Status();
  }
  MPI_Request request;
  if (MPI_Iallgather(send, static_cast<int>(count), MPI_FLOAT, recv, static_cast<int>(count), MPI_FLOAT, impl_->comm,
                     &request) != MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Iallgather failed");
  }
  if (!wait_for(request, timeout_)) return unavailable("all-gather", (rank_ + 1) % size_, timeout_);
  bytes_sent_ += static_cast<int64_t>(count * sizeof(float));
  return Status();
}

Status Communicator::send(const void* data, size_t bytes, int dest, int tag) {
  if (impl_ == nullptr) return invalid_argument("send to rank " + std::to_string(dest) + " in a group of one process");
  // Drop the sends that have left; keep the rest (their buffers must live until then).
  while (!impl_->sends.empty()) {
    int done = 0;
    MPI_Test(&impl_->sends.front().request, &done, MPI_STATUS_IGNORE);
    if (!done) break;
    impl_->sends.pop_front();
  }
  Impl::PendingSend& s = impl_->sends.emplace_back();
  s.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
  s.dest = dest;
  if (MPI_Isend(s.bytes.data(), static_cast<int>(bytes), MPI_BYTE, dest, tag, impl_->comm, &s.request) !=
      MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Isend to rank " + std::to_string(dest) + " failed");
  }
  bytes_sent_ += static_cast<int64_t>(bytes);
  return Status();
}

Status Communicator::recv(void* data, size_t bytes, int source, int tag, std::chrono::milliseconds timeout) {
  if (impl_ == nullptr) {
    return invalid_argument("receive from rank " + std::to_string(source) + " in a group of one process");
  }
  MPI_Request request;
  if (MPI_Irecv(data, static_cast<int>(bytes), MPI_BYTE, source, tag, impl_->comm, &request) != MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Irecv from rank " + std::to_string(source) + " failed");
  }
  if (!wait_for(request, timeout)) return unavailable("receive", source, timeout);
  return Status();
}

Status Communicator::flush() {
  if (impl_ == nullptr) return Status();
  while (!impl_->sends.empty()) {
    Impl::PendingSend& s = impl_->sends.front();
    if (!wait_for(s.request, timeout_)) return unavailable("send", s.dest, timeout_);
    impl_->sends.pop_front();
  }
  return Status();
}

Expected<Communicator> Communicator::split(int color, int key) {
  if (impl_ == nullptr) return Communicator();
  auto impl = std::make_unique<Impl>();
  if (MPI_Comm_split(impl_->comm, color, key, &impl->comm) != MPI_SUCCESS) {
    return Status(StatusCode::kInternal, "MPI_Comm_split failed");
  }
  impl->owned = true;
  Communicator sub(std::move(impl));
  sub.timeout_ = timeout_;
  return sub;
}

void abort_job(const std::string& message) {
  run_abort_hook(message);
  if (g_mpi_initialized) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

#else  // built without MPI: a group of one

bool built_with_mpi() { return false; }

struct Communicator::Impl {};

Session::Session(int*, char***) {}
Session::~Session() = default;

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), timeout_(default_timeout()) {}

Status Communicator::broadcast(void*, size_t, int, std::chrono::milliseconds) { return Status(); }
Status Communicator::all_reduce_sum(float*, size_t) { return Status(); }
Status Communicator::all_gather(const float* send, size_t count, float* recv) {
  std::memcpy(recv, send, count * sizeof(float));
  return Status();
}
Status Communicator::send(const void*, size_t, int dest, int) {
  return unsupported("send to rank " + std::to_string(dest) + ": built without MPI");
}
Status Communicator::recv(void*, size_t, int source, int, std::chrono::milliseconds) {
  return unsupported("receive from rank " + std::to_string(source) + ": built without MPI");
}
Status Communicator::flush() { return Status(); }
Expected<Communicator> Communicator::split(int, int) { return Communicator(); }

void abort_job(const std::string& message) {
  run_abort_hook(message);
  std::_Exit(1);
}

#endif

Communicator::Communicator() : timeout_(default_timeout()) {}
Communicator::~Communicator() = default;
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;

Communicator& world() {
  static Communicator instance;
  return instance;
}

}  // namespace tessera::dist

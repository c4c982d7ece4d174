// Backend and ExecutionContext: the seam a second backend (CUDA) plugs into. A Backend owns
// where long-lived tensors live (weights, KV cache, workspace) and the "prepare weights" step;
// an ExecutionContext is where one forward pass's ops run (the CPU: a thread pool; a GPU: a
// stream). The model, the KV storage and the runners reach memory and threads only through
// these two, never through a bare host pointer or ThreadPool&.
// NOTE: CPU only today. A CUDA backend implements Backend (device allocations, its own weight
// layout) and an ExecutionContext holding its stream; kernels.h's ops then dispatch on
// context.backend() the way they dispatch on the ISA now.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "base/huge_page_buffer.h"
#include "base/thread_pool.h"
#include "tensor/tensor_view.h"

namespace tessera::kernels {

enum class BackendKind { kCpu };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Zero-filled memory for tensors that live as long as a model or a cache.
  virtual HugePageBuffer allocate(size_t num_bytes) const = 0;
  // Copies every matrix of `matrices` out of the (mmapped) file into one allocation, in the
  // layout this backend's matmul reads fastest, and points each view at its copy. Views that
  // share bytes (tied embeddings) must be listed once; a view whose row stride is wider than its
  // columns (a column slice: tensor parallelism) is made dense. The caller keeps the buffer alive.
  virtual HugePageBuffer prepare_weights(std::span<MatrixView* const> matrices) const = 0;
};

// The CPU backend: anonymous huge pages; weights repacked where the active ISA's matmul prefers
// it (kernels::prefers_repacked), copied as they are otherwise.
const Backend& cpu_backend();

class ExecutionContext {
 public:
  // Runs on `num_threads` threads of a pool it owns.
  explicit ExecutionContext(int num_threads, const Backend& backend = cpu_backend());
  // Runs on a pool the caller owns and keeps alive (tests, runners sharing one pool).
  explicit ExecutionContext(ThreadPool& pool, const Backend& backend = cpu_backend());

  const Backend& backend() const { return *backend_; }
  ThreadPool& pool() const { return *pool_; }
  int num_threads() const { return pool_->num_threads(); }

 private:
  const Backend* backend_;
  std::unique_ptr<ThreadPool> owned_pool_;  // null when the pool is borrowed
  ThreadPool* pool_;
};

}  // namespace tessera::kernels

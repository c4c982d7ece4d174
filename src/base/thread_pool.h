// ThreadPool: a fixed set of worker threads that run one data-parallel loop at a time, the
// calling thread included. Owns the threads and their wake-up protocol; knows nothing of what
// the loop body computes. Also FunctionRef, the non-owning callable its hot path takes.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace tessera {

template <typename Signature>
class FunctionRef;

// A borrowed callable object (lambda, functor): two pointers, no allocation, no ownership. The callable must outlive
// every call through the FunctionRef (true for a lambda passed down a call stack).
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
  FunctionRef(F&& f)  // NOLINT: implicit, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_(&call_object<std::remove_reference_t<F>>) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  template <typename F>
  static R call_object(void* object, Args... args) {
    return (*static_cast<F*>(object))(std::forward<Args>(args)...);
  }

  void* object_;                     // the callable, type-erased
  R (*call_)(void*, Args...);        // casts object_ back and calls it
};

class ThreadPool {
 public:
  // One loop body call: items [begin, end) on thread `thread_id` (0 = the caller).
  using ChunkFn = FunctionRef<void(int64_t begin, int64_t end, int thread_id)>;

  // Starts num_threads - 1 workers; the thread calling parallel_for is worker 0.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();  // wakes and joins the workers; no loop may be running

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Splits [0, num_items) into min(num_items, num_threads) contiguous chunks of near-equal size
  // (thread t gets the t-th chunk), runs them in parallel with the caller doing chunk 0, and
  // returns when all are done. Empty chunks are never passed to `fn`.
  // `fn` must not throw (a throw terminates). Not reentrant: one loop at a time per pool, so
  // `fn` must not call parallel_for on the same pool.
  template <typename F>
  void parallel_for(int64_t num_items, F&& fn) {
    run(num_items, ChunkFn(fn));
  }

  // Like parallel_for, but the threads take chunks from a shared counter until none are left
  // (guided: each chunk is 1 / (2 * num_threads) of what remains, at least min_chunk items), so a
  // thread that starts late, that the host slows down, or that draws costlier items takes less
  // of the work. `fn` may run several times on one thread and an item's thread is not fixed: use
  // it where an item's result does not depend on which thread computes it.
  template <typename F>
  void parallel_for_dynamic(int64_t num_items, int64_t min_chunk, F&& fn) {
    if (num_items <= 0) return;
    if (num_threads_ == 1) {
      fn(int64_t{0}, num_items, 0);
      return;
    }
    std::atomic<int64_t> next{0};
    const int64_t divisor = 2 * static_cast<int64_t>(num_threads_);
    min_chunk = std::max<int64_t>(min_chunk, 1);
    auto take_chunks = [&](int64_t, int64_t, int thread_id) {
      int64_t begin = next.load(std::memory_order_relaxed);
      while (begin < num_items) {
        const int64_t size = std::max(min_chunk, (num_items - begin) / divisor);
        const int64_t end = std::min(num_items, begin + size);
        if (next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) fn(begin, end, thread_id);
      }
    };
    run(std::min<int64_t>(num_threads_, (num_items + min_chunk - 1) / min_chunk), ChunkFn(take_chunks));
  }

 private:
  void run(int64_t num_items, ChunkFn fn);
  void worker_loop(int thread_id);
  uint64_t wait_for_job(uint64_t seen_job_word);
  void wait_until_done();
  void run_chunk(int thread_id, int num_participants) noexcept;

  const int num_threads_;
  std::vector<std::thread> workers_;  // threads 1..num_threads_-1

  // The current job. Written by the caller before it publishes job_word_, read by participants
  // after they see it; stable until every participant has finished (the caller waits).
  int64_t job_num_items_ = 0;
  const ChunkFn* job_fn_ = nullptr;  // points at run()'s argument, on the caller's stack

  // NOTE: generation (high 48 bits) and number of participating threads (low 16 bits) are one
  // atomic word, so a worker that is not taking part in a job learns so without reading the
  // plain job fields above, which the caller may already be overwriting for the next job.
  alignas(64) std::atomic<uint64_t> job_word_{0};
  alignas(64) std::atomic<int> num_running_{0};  // participating workers (not the caller) still busy
  std::atomic<bool> busy_{false};                // a parallel_for is in progress: catches reentrancy
  std::atomic<bool> stop_{false};                // set once, by the destructor

  // Sleeping, after the spin budget runs out. The counters let the hot path skip the mutex and
  // the notify syscall while everybody is still spinning.
  alignas(64) std::atomic<int> num_sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;  // workers wait here for a new job_word_ or stop_
  std::mutex done_mutex_;
  std::condition_variable done_cv_;  // the caller waits here for num_running_ == 0
};

}  // namespace tessera

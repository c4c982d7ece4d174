#include "base/thread_pool.h"

#include <algorithm>

#include "base/check.h"
#include "base/timer.h"

namespace tessera {
namespace {

// NOTE: how long a thread busy-waits before sleeping. Long enough to catch the next job of a
// forward pass (launched microseconds apart) without a futex round trip, short enough that
// idle workers give their cores back almost at once.
constexpr int64_t kSpinBudgetUs = 50;
constexpr uint64_t kParticipantsMask = 0xFFFF;  // low 16 bits of job_word_
constexpr int kParticipantsBits = 16;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Busy-waits until `done()` or the spin budget runs out; returns whether `done()` held.
// The clock is read only every 64 pauses (and not at all on a quick success).
// NOTE: the yield every 64 pauses costs nothing measurable when each thread has a core, and
// when threads outnumber cores it lets the thread being waited for run in our place
// (4 threads on 2 cores: ~125 -> ~8 us a small job).
template <typename Predicate>
bool spin_until(Predicate done) {
  int64_t deadline_us = 0;
  for (uint32_t i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if (i % 64 == 0) {
      std::this_thread::yield();
      const int64_t now = now_us();
      if (deadline_us == 0) {
        deadline_us = now + kSpinBudgetUs;
      } else if (now >= deadline_us) {
        return done();
      }
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads) {
  TS_CHECK(num_threads >= 1 && uint64_t(num_threads) <= kParticipantsMask,
           "ThreadPool needs 1..65535 threads, got %d", num_threads);
  workers_.reserve(size_t(num_threads - 1));
  for (int thread_id = 1; thread_id < num_threads; ++thread_id) {
    workers_.emplace_back([this, thread_id] { worker_loop(thread_id); });
  }
}

ThreadPool::~ThreadPool() {
  TS_CHECK(!busy_.load(), "ThreadPool destroyed while a parallel_for is running");
  {
    // Under the mutex so that a worker between its predicate check and its wait cannot miss it.
    std::lock_guard lock(wake_mutex_);
    stop_.store(true);
    wake_cv_.notify_all();
  }
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run(int64_t num_items, ChunkFn fn) {
  if (num_items <= 0) return;
  if (num_threads_ == 1) {  // no other thread exists: nothing to publish or wait for
    fn(0, num_items, 0);
    return;
  }
  TS_CHECK(!busy_.exchange(true, std::memory_order_acquire),
           "ThreadPool::parallel_for called while another is running (reentrant or concurrent)");
  const int num_participants = int(std::min<int64_t>(num_items, num_threads_));
  job_num_items_ = num_items;
  job_fn_ = &fn;
  if (num_participants > 1) {
    num_running_.store(num_participants - 1, std::memory_order_relaxed);
    const uint64_t generation = (job_word_.load(std::memory_order_relaxed) >> kParticipantsBits) + 1;
    // seq_cst store, then seq_cst load of num_sleeping_workers_: pairs with the worker's
    // increment-then-check in wait_for_job, so either it sees the job or we see it asleep.
    job_word_.store((generation << kParticipantsBits) | uint64_t(num_participants));
    if (num_sleeping_workers_.load() > 0) {
      std::lock_guard lock(wake_mutex_);
      wake_cv_.notify_all();
    }
  }
  run_chunk(0, num_participants);
  if (num_participants > 1) wait_until_done();
  job_fn_ = nullptr;
  busy_.store(false, std::memory_order_release);
}

void ThreadPool::run_chunk(int thread_id, int num_participants) noexcept {
  // Chunk sizes differ by at most one item; the first `extra` chunks take the larger size.
  const int64_t base = job_num_items_ / num_participants;
  const int64_t extra = job_num_items_ % num_participants;
  const int64_t begin = thread_id * base + std::min<int64_t>(thread_id, extra);
  const int64_t end = begin + base + (thread_id < extra ? 1 : 0);
  (*job_fn_)(begin, end, thread_id);
}

void ThreadPool::wait_until_done() {
  if (spin_until([this] { return num_running_.load(std::memory_order_acquire) == 0; })) return;
  std::unique_lock lock(done_mutex_);
  // seq_cst store, then seq_cst load of num_running_: pairs with the last worker's
  // decrement-then-check, so either we see zero or it sees us asleep and notifies.
  caller_sleeping_.store(true);
  done_cv_.wait(lock, [this] { return num_running_.load() == 0; });
  caller_sleeping_.store(false, std::memory_order_relaxed);
}

uint64_t ThreadPool::wait_for_job(uint64_t seen_job_word) {
  auto has_news = [this, seen_job_word] { return job_word_.load() != seen_job_word || stop_.load(); };
  if (!spin_until(has_news)) {
    std::unique_lock lock(wake_mutex_);
    num_sleeping_workers_.fetch_add(1);
    wake_cv_.wait(lock, has_news);
    num_sleeping_workers_.fetch_sub(1, std::memory_order_relaxed);
  }
  return job_word_.load(std::memory_order_acquire);
}

void ThreadPool::worker_loop(int thread_id) {
  uint64_t seen_job_word = 0;
  for (;;) {
    seen_job_word = wait_for_job(seen_job_word);
    if (stop_.load(std::memory_order_acquire)) return;
    // A worker outside this job skips it (and may skip several); one inside cannot miss a job,
    // because the caller publishes the next only after every participant has finished.
    const int num_participants = int(seen_job_word & kParticipantsMask);
    if (thread_id >= num_participants) continue;
    run_chunk(thread_id, num_participants);
    if (num_running_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      std::lock_guard lock(done_mutex_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace tessera

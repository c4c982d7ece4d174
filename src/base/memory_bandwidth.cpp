#include "base/memory_bandwidth.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/timer.h"

namespace tessera {
namespace {

// Eight independent accumulators: the compiler turns this into packed 64-bit adds that keep up
// with memory, and integer sums cannot be reassociated away (unlike floats without -ffast-math).
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  }
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (int k = 0; k < 8; ++k) s += a[k];
  return s;
}

}  // namespace

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes, int repeats) {
  const size_t words = std::max<size_t>(bytes / sizeof(uint64_t), 1024);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);  // uninitialised: first touch below
  const int threads = pool.num_threads();
  std::vector<uint64_t> sums(static_cast<size_t>(threads) * 8, 0);  // 64 bytes apart: no false sharing
  // Page-aligned-ish chunks per thread, in the same split the measurement uses (first touch on the
  // thread that reads it).
  pool.parallel_for(threads, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const size_t lo = words * static_cast<size_t>(t) / threads, hi = words * static_cast<size_t>(t + 1) / threads;
      for (size_t i = lo; i < hi; ++i) buffer[i] = i;
    }
  });
  double best = 0.0;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const int64_t start = now_us();
    pool.parallel_for(threads, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        const size_t lo = words * static_cast<size_t>(t) / threads, hi = words * static_cast<size_t>(t + 1) / threads;
        sums[static_cast<size_t>(t) * 8] += sum_words(buffer.get() + lo, hi - lo);
      }
    });
    const int64_t us = std::max<int64_t>(now_us() - start, 1);
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / (static_cast<double>(us) * 1e3));
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  (void)sink;
  return best;
}

}  // namespace tessera

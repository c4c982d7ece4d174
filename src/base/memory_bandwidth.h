// Measures the memory read bandwidth the machine gives a number of threads: the roofline that
// decode speed (which streams every weight once per token) is compared against.
#pragma once

#include <cstddef>

#include "base/thread_pool.h"

namespace tessera {

// Best-of-`repeats` GB/s (1e9 bytes/s) of summing a `bytes` buffer split over the pool's threads
// (each thread sums its own, first-touched, part with vectorised 64-bit adds).
double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes = size_t{1} << 30, int repeats = 5);

}  // namespace tessera

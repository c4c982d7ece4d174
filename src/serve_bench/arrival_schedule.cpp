#include "serve_bench/arrival_schedule.h"

#include <cmath>
#include <random>

namespace tessera::serve_bench {

std::vector<double> poisson_arrival_offsets_s(int32_t num_requests, double request_rate, uint64_t seed) {
  std::vector<double> offsets(static_cast<size_t>(std::max(num_requests, 0)), 0.0);
  if (std::isinf(request_rate) || offsets.empty()) return offsets;
  // NOTE: std::exponential_distribution's algorithm is implementation-defined; inverting the CDF of
  // our own uniform draw keeps schedules identical across standard libraries.
  std::mt19937_64 rng(seed);
  double now_s = 0.0;
  for (size_t i = 1; i < offsets.size(); ++i) {
    const double uniform = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;  // in (0, 1)
    now_s += -std::log(uniform) / request_rate;
    offsets[i] = now_s;
  }
  return offsets;
}

}  // namespace tessera::serve_bench

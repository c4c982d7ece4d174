// When each benchmark request is sent: a Poisson process, as in vLLM's benchmark_serving.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera::serve_bench {

// Send times, in seconds after the start, of `num_requests` requests arriving as a Poisson process
// of `request_rate` requests/s: the first at 0, then exponential gaps of mean 1/request_rate drawn
// from a generator seeded with `seed`. An infinite rate sends everything at 0; the rate must be
// > 0 (callers validate it). The same seed gives the same schedule on every platform.
std::vector<double> poisson_arrival_offsets_s(int32_t num_requests, double request_rate, uint64_t seed);

}  // namespace tessera::serve_bench

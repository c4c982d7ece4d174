// Helpers shared by the kernel tests: seeded random inputs and the SIMD ISAs this CPU runs.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"

namespace tessera::kernels::testing {

// n samples of N(0, stddev^2), the same for the same seed.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// AVX2 and AVX-512, where supported: the ISAs whose kernel tables are checked against scalar.
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(isa)) isas.push_back(isa);
  }
  return isas;
}

}  // namespace tessera::kernels::testing

// Software prefetch of streamed weights for the repacked decode kernels: decode reads each weight
// byte from DRAM once, and the unpacking between loads keeps the out-of-order window short of the
// next cache lines, so the kernels ask for them kWeightPrefetchBytes ahead.
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {
namespace {

inline constexpr size_t kWeightPrefetchBytes = 4096;

// One prefetch per cache line of [p, p + bytes), kWeightPrefetchBytes ahead (past a matrix's
// end this touches the next one's bytes or unmapped addresses: prefetches never fault).
inline void prefetch_weights_ahead(const uint8_t* p, size_t bytes) {
  for (size_t line = 0; line < bytes; line += 64) _mm_prefetch(p + kWeightPrefetchBytes + line, _MM_HINT_T0);
}

}  // namespace
}  // namespace tessera::kernels

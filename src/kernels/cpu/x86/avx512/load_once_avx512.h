// load_once: a 512-bit load the compiler must keep in a register. Left to itself, GCC folds the
// load into every instruction that uses the value (a nibble mask and a shift: two 64-byte loads),
// and on this machine's AVX-512 cores the extra load costs a cycle of load bandwidth per group:
// the repacked k-quant kernels, whose every group feeds two or more such instructions, were bound
// by it (Q4_K decode from L2, 256 x 2048: 1.02-1.09x, Q6_K part of 1.41x; docs/performance.md).
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <immintrin.h>

namespace tessera::kernels {
namespace {

inline __m512i load_once(const void* p) {
  __m512i v = _mm512_loadu_si512(p);
  asm("" : "+v"(v));
  return v;
}

}  // namespace
}  // namespace tessera::kernels

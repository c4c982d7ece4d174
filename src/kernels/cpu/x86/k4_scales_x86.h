// The 6-bit sub-block scales and mins of repacked Q4_K / Q5_K tiles (kernels/cpu/repack.h),
// unpacked per 8-row half with AVX2: shared by the AVX2 and AVX-512 repacked k-quant kernels.
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder: each
// including file compiles it for its own ISA.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace tessera::kernels {
namespace {

// The 6-bit scales and mins (Q4_K / Q5_K) of one half's 8 rows in one super-block (repack.h),
// as bytes [j][row]: sc[0] sub-blocks 0..3, sc[1] 4..7, likewise m. On the stack, so each use is
// one broadcast load and one shuffle.
struct K4HalfScales {
  alignas(32) uint8_t sc[2][32];
  alignas(32) uint8_t m[2][32];
};

inline void unpack_k4_half_scales(const uint8_t* packed, K4HalfScales* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  const __m256i top = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed + 64));
  // Bits [shift, shift + 2) of each top byte, moved to bits 4..5.
  auto top_bits = [&](int shift) {
    return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, shift), low2), 4);
  };
  for (int q = 0; q < 2; ++q) {
    const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed + 32 * q));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out->sc[q]),
                       _mm256_or_si256(_mm256_and_si256(low, low4), top_bits(4 * q)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out->m[q]),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low, 4), low4), top_bits(4 * q + 2)));
  }
}

}  // namespace
}  // namespace tessera::kernels

// F32 / F16 / BF16 weight matmul (activations in the same type, as vec_dot_type says), written
// once over a small vector-width abstraction and included by the AVX2 file (8 lanes, ymm) and
// the AVX-512 file (16 lanes, zmm). Products and sums are f32 FMAs; the order differs from the
// reference (which sums 16-bit types in double), well inside the matmul tolerance.
// NOTE: internal linkage only (anonymous namespace), see legacy_matmul_x86.h for why.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/kernel_table.h"
#include "tensor/quant.h"

namespace tessera::kernels {
namespace {

#if defined(TESSERA_FLOAT_ZMM)
using FVec = __m512;
constexpr int kLanes = 16;
inline FVec fzero() { return _mm512_setzero_ps(); }
inline FVec fmadd(FVec a, FVec b, FVec c) { return _mm512_fmadd_ps(a, b, c); }
// NOTE: not _mm512_reduce_add_ps: GCC 12's version trips -Wuninitialized inside its header.
inline float fsum(FVec v) {
  const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline FVec fload(const float* p) { return _mm512_loadu_ps(p); }
inline FVec fload(const uint16_t* p, DType type) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (type == DType::kF16) return _mm512_cvtph_ps(h);
  // bf16 -> f32 is exact: the 16 bits become the high half of the float.
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#else
using FVec = __m256;
constexpr int kLanes = 8;
inline FVec fzero() { return _mm256_setzero_ps(); }
inline FVec fmadd(FVec a, FVec b, FVec c) { return _mm256_fmadd_ps(a, b, c); }
inline float fsum(FVec v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline FVec fload(const float* p) { return _mm256_loadu_ps(p); }
inline FVec fload(const uint16_t* p, DType type) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (type == DType::kF16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#endif

// Element loaders by storage type; kType is a template constant so the branch folds away.
template <DType kType>
struct Elements;
template <>
struct Elements<DType::kF32> {
  using T = float;
  static FVec load(const float* p) { return fload(p); }
  static float scalar(float v) { return v; }
};
template <>
struct Elements<DType::kF16> {
  using T = uint16_t;
  static FVec load(const uint16_t* p) { return fload(p, DType::kF16); }
  static float scalar(uint16_t v) { return _cvtsh_ss(v); }
};
template <>
struct Elements<DType::kBF16> {
  using T = uint16_t;
  static FVec load(const uint16_t* p) { return fload(p, DType::kBF16); }
  static float scalar(uint16_t v) { return bf16_to_f32(v); }
};

// kRows weight rows x kTokens activation rows; each loaded vector is reused across the tile.
template <DType kType, int kRows, int kTokens>
void float_tile(const uint8_t* const* w_rows, const uint8_t* x, size_t x_row_bytes, int64_t n, float* out,
                int64_t out_stride) {
  using E = Elements<kType>;
  using T = typename E::T;
  const T* w[kRows];
  for (int r = 0; r < kRows; ++r) w[r] = reinterpret_cast<const T*>(w_rows[r]);
  const T* a[kTokens];
  for (int t = 0; t < kTokens; ++t) a[t] = reinterpret_cast<const T*>(x + static_cast<size_t>(t) * x_row_bytes);
  FVec acc[kRows][kTokens];
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) acc[r][t] = fzero();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    FVec av[kTokens];
    for (int t = 0; t < kTokens; ++t) av[t] = E::load(a[t] + i);
    for (int r = 0; r < kRows; ++r) {
      const FVec wv = E::load(w[r] + i);
      for (int t = 0; t < kTokens; ++t) acc[r][t] = fmadd(wv, av[t], acc[r][t]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < kTokens; ++t) {
      float sum = fsum(acc[r][t]);
      // Columns past the last whole vector (float rows need not be a multiple of the width).
      for (int64_t j = i; j < n; ++j) sum += E::scalar(w[r][j]) * E::scalar(a[t][j]);
      out[t * out_stride + r] = sum;
    }
  }
}

template <DType kType, int kTokens>
void float_rows_for_tokens(const MatrixView& weight, const uint8_t* x, size_t x_row_bytes, int64_t row_begin,
                           int64_t row_end, float* out) {
  constexpr int kRowTile = 4;
  int64_t r = row_begin;
  for (; r + kRowTile <= row_end; r += kRowTile) {
    const uint8_t* rows[kRowTile] = {weight.row(r), weight.row(r + 1), weight.row(r + 2), weight.row(r + 3)};
    float_tile<kType, kRowTile, kTokens>(rows, x, x_row_bytes, weight.num_cols, out + r, weight.num_rows);
  }
  for (; r < row_end; ++r) {
    const uint8_t* rows[1] = {weight.row(r)};
    float_tile<kType, 1, kTokens>(rows, x, x_row_bytes, weight.num_cols, out + r, weight.num_rows);
  }
}

// MatmulRowsFn for kType weights; tokens in tiles of up to kMaxTokens (<= 4).
template <DType kType, int kMaxTokens>
void float_matmul_rows(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes, int64_t num_tokens,
                       int64_t row_begin, int64_t row_end, float* out) {
  int64_t t = 0;
  for (; t + kMaxTokens <= num_tokens; t += kMaxTokens) {
    float_rows_for_tokens<kType, kMaxTokens>(weight, x_converted + t * x_row_bytes, x_row_bytes, row_begin, row_end,
                                             out + t * weight.num_rows);
  }
  const uint8_t* x = x_converted + t * x_row_bytes;
  float* o = out + t * weight.num_rows;
  switch (num_tokens - t) {
    case 0: break;
    case 1: float_rows_for_tokens<kType, 1>(weight, x, x_row_bytes, row_begin, row_end, o); break;
    case 2: float_rows_for_tokens<kType, 2>(weight, x, x_row_bytes, row_begin, row_end, o); break;
    default: float_rows_for_tokens<kType, 3>(weight, x, x_row_bytes, row_begin, row_end, o); break;
  }
}

void register_float_kernels(KernelTable& table) {
  // 4 x 2 tiles fit AVX2's 16 registers; AVX-512's 32 registers take 4 x 4.
  constexpr int kMaxTokens = kLanes == 16 ? 4 : 2;
  table.matmul_rows[static_cast<int>(DType::kF32)] = float_matmul_rows<DType::kF32, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kF16)] = float_matmul_rows<DType::kF16, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kBF16)] = float_matmul_rows<DType::kBF16, kMaxTokens>;
}

}  // namespace
}  // namespace tessera::kernels

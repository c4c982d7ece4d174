// AVX2 + FMA (+ F16C) versions of RMSNorm, SiLU gating, softmax and one query token of paged
// attention for a group of heads sharing a kv head (8 f32 lanes). Same contracts as kernels/ref/;
// the tests hold them to the reference over many sizes including tails.
#include <immintrin.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/x86/kv_cursor_x86.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kLanes = 8;

// Lanes [0, remaining) of a 256-bit mask register (all when remaining >= 8).
inline __m256i tail_mask(int64_t remaining) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int32_t n = remaining >= kLanes ? static_cast<int32_t>(kLanes) : static_cast<int32_t>(remaining);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

// e^x with the same reduction and polynomial as the AVX-512 exp_ps (within ~1.5 ulp of
// std::exp): x = n ln2 + b, e^b by a degree-5 polynomial. 2^n is applied as 2^(n/2) * 2^(n - n/2),
// two exact power-of-two factors, so results that underflow to subnormals round once and
// overflow gives inf. x is clamped to [-104, 89] first (beyond it the result is 0 or inf either
// way); a NaN stays NaN.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));  // NaN passes through
  const __m256 round = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), round);
  const __m256 n = _mm256_sub_ps(z, round);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256i n_int = _mm256_cvttps_epi32(n);  // integral already; in [-151, 129]
  const __m256i half = _mm256_srai_epi32(n_int, 1);
  const __m256i rest = _mm256_sub_epi32(n_int, half);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 scale_a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 scale_b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(j, scale_a), scale_b);
}

inline double sum_lanes(__m256d v) {
  const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

void rms_norm_avx2(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* row = x + t * dim;
    // Squares summed in double, as the reference (and ggml) do.
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
    for (int64_t i = 0; i < dim; i += kLanes) {
      const __m256 v = _mm256_maskload_ps(row + i, tail_mask(dim - i));
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
      sum_lo = _mm256_fmadd_pd(lo, lo, sum_lo);
      sum_hi = _mm256_fmadd_pd(hi, hi, sum_hi);
    }
    const double sum_squares = sum_lanes(_mm256_add_pd(sum_lo, sum_hi));
    const float mean = static_cast<float>(sum_squares / static_cast<double>(dim));
    const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(mean + eps));
    float* dst = out + t * dim;
    for (int64_t i = 0; i < dim; i += kLanes) {
      const __m256i m = tail_mask(dim - i);
      const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(row + i, m), scale);
      _mm256_maskstore_ps(dst + i, m, _mm256_mul_ps(v, _mm256_maskload_ps(weight + i, m)));
    }
  }
}

void silu_mul_avx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(silu, _mm256_maskload_ps(up + i, m)));
  }
}

void softmax_avx2(float* x, int64_t n) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 max_v = neg_inf;
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    // Masked-off lanes read as 0.0f; blend them to -inf so they never win the max.
    max_v = _mm256_max_ps(max_v, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m)));
  }
  __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(max_v), _mm256_extractf128_ps(max_v, 1));
  max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
  max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
  const __m256 max_value = _mm256_set1_ps(_mm_cvtss_f32(max4));
  __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(m), exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), max_value)));
    _mm256_maskstore_ps(x + i, m, e);
    sum_lo = _mm256_add_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum_hi = _mm256_add_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  const __m256 inv_sum = _mm256_set1_ps(static_cast<float>(1.0 / sum_lanes(_mm256_add_pd(sum_lo, sum_hi))));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv_sum));
  }
}

// ---- attention ----

inline __m256 load_kv(__m256i m, const float* p) { return _mm256_maskload_ps(p, m); }
// The first n (1..8) f16 values at p as f32, the rest 0.
inline __m256 load_f16(const uint16_t* p, int n) {
  // Whole 8-element loads only where 8 remain; a tail is inserted element by element (no copy
  // loop: GCC makes it a memcpy call, which spills the callers' accumulators).
  if (n == 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  __m128i half = _mm_setzero_si128();
  switch (n) {
    case 7: half = _mm_insert_epi16(half, p[6], 6); [[fallthrough]];
    case 6: half = _mm_insert_epi16(half, p[5], 5); [[fallthrough]];
    case 5: half = _mm_insert_epi16(half, p[4], 4); [[fallthrough]];
    case 4: half = _mm_insert_epi16(half, p[3], 3); [[fallthrough]];
    case 3: half = _mm_insert_epi16(half, p[2], 2); [[fallthrough]];
    case 2: half = _mm_insert_epi16(half, p[1], 1); [[fallthrough]];
    case 1: half = _mm_insert_epi16(half, p[0], 0); [[fallthrough]];
    default: break;
  }
  return _mm256_cvtph_ps(half);
}
inline __m256 load_kv(__m256i m, const uint16_t* p) {
  return load_f16(p, __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(m)))));
}

// out[i] = x[i] rounded to the nearest f16 (ties to even) and back; x == out allowed.
inline void round_to_f16(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

// out[i] = x[i] as f16, ties to even (F16C, eight at a time): the KV cache's write.
void to_f16_f16c(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (; i < n; ++i) out[i] = static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Eight positions per vector for group_scores (attention_x86.h); three heads per pass keep
// 3 x 4 accumulators, the K load and the query broadcast in the 16 registers.
// The mask carries its lane count, so an f16 load does not recount it per dimension.
struct PositionLanes {
  using Vec = __m256;
  struct Mask {
    __m256i bits;
    int count;
  };
  static constexpr int kLanes = 8;
  static constexpr int kMaxScoreHeads = 3;
  static Mask mask(int64_t n) { return {tail_mask(n), static_cast<int>(std::min<int64_t>(n, kLanes))}; }
  static Vec load(Mask m, const float* p) { return _mm256_maskload_ps(p, m.bits); }
  static Vec load(Mask m, const uint16_t* p) { return load_f16(p, m.count); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m.bits, v); }
};

// The f16 cache's fast path (head_dim 64 or 128), as on AVX-512: the weighted sum of V fuses its
// multiply-adds. Not bit for bit the reference; held to the f16 tolerance, and the same
// arithmetic per query wherever it runs.
inline bool f16_fast_path(const PagedKvLayer& kv) {
  return kv.type == DType::kF16 && (kv.head_dim == 8 * kLanes || kv.head_dim == 16 * kLanes);
}

// out_g[d] = sum_p scores_g[p] * v_p[d] for kHeads heads, each V vector loaded once for all of
// them; per head positions in order. With a separate multiply and add (kFused false) bit for bit
// the reference; the f16 fast path fuses them.
template <typename T, int kHeads, bool kFused>
void weighted_values_chunks(const float* scores, int32_t context, const PagedKvLayer& kv,
                            std::span<const int32_t> block_table, int64_t kv_head, float* out) {
  const int64_t head_dim = kv.head_dim;
  constexpr int64_t kChunk = 4 * kLanes;
  for (int64_t d0 = 0; d0 < head_dim; d0 += kChunk) {
    __m256i m[4];
    __m256 acc[kHeads][4];
    for (int i = 0; i < 4; ++i) {
      const int64_t remaining = head_dim - d0 - i * kLanes;
      m[i] = remaining > 0 ? tail_mask(remaining) : _mm256_setzero_si256();
      for (int g = 0; g < kHeads; ++g) acc[g][i] = _mm256_setzero_ps();
    }
    KvCursor<T> cursor(kv.v, kv, block_table, kv_head, context);
    for (int32_t p = 0; p < context; ++p) {
      const T* v = cursor.next() + d0;
      __m256 values[4];
      for (int i = 0; i < 4; ++i) values[i] = d0 + i * kLanes < head_dim ? load_kv(m[i], v + i * kLanes) : _mm256_setzero_ps();
      for (int g = 0; g < kHeads; ++g) {
        const __m256 s = _mm256_set1_ps(scores[g * context + p]);
        for (int i = 0; i < 4; ++i) {
          acc[g][i] = kFused ? _mm256_fmadd_ps(s, values[i], acc[g][i]) : _mm256_add_ps(acc[g][i], _mm256_mul_ps(s, values[i]));
        }
      }
    }
    for (int g = 0; g < kHeads; ++g) {
      for (int i = 0; i < 4; ++i) _mm256_maskstore_ps(out + g * head_dim + d0 + i * kLanes, m[i], acc[g][i]);
    }
  }
}

inline void softmax_x86(float* x, int64_t n) { softmax_avx2(x, n); }

}  // namespace
}  // namespace tessera::kernels

// NOTE: after the primitives it is written over (see the header).
#include "kernels/cpu/x86/attention_x86.h"

namespace tessera::kernels {

void register_avx2_elementwise(KernelTable& table) {
  table.rms_norm = rms_norm_avx2;
  table.silu_mul = silu_mul_avx2;
  table.softmax = softmax_avx2;
  table.to_f16 = to_f16_f16c;
  table.attention_heads = attention_heads_x86;
}

}  // namespace tessera::kernels

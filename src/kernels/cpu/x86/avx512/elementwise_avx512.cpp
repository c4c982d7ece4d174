// AVX-512 versions of the f32 ops around the matmuls: RMSNorm, SiLU gating, softmax and one
// query token of paged attention for a group of heads sharing a kv head. Same contracts as
// kernels/ref/; the tests hold them to the reference over many shapes including tails (masked
// loads, never a scalar loop).
// GCC 12's AVX-512 headers self-initialise their "undefined" vectors, which its own
// -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/x86/kv_cursor_x86.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kLanes = 16;

inline __mmask16 tail_mask(int64_t remaining) {
  return remaining >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << remaining) - 1);
}

// e^x, within ~1.5 ulp of std::exp over the whole float range (ggml's ggml_v_expf scheme):
// x = n ln2 + b, e^b by a degree-5 polynomial, 2^n by vscalefps; |n| > 192 saturates to 0 / inf.
inline __m512 exp_ps(__m512 x) {
  const __m512 round = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), round);
  const __m512 n = _mm512_sub_ps(z, round);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 result = _mm512_scalef_ps(j, n);
  const __mmask16 huge = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  if (huge == 0) return result;
  const __mmask16 negative = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512 saturated = _mm512_mask_blend_ps(negative, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(huge, result, saturated);
}

void rms_norm_avx512(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* row = x + t * dim;
    // Squares summed in double, as the reference (and ggml) do.
    __m512d sum_lo = _mm512_setzero_pd(), sum_hi = _mm512_setzero_pd();
    for (int64_t i = 0; i < dim; i += kLanes) {
      const __m512 v = _mm512_maskz_loadu_ps(tail_mask(dim - i), row + i);
      const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
      const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
      sum_lo = _mm512_fmadd_pd(lo, lo, sum_lo);
      sum_hi = _mm512_fmadd_pd(hi, hi, sum_hi);
    }
    const double sum_squares = _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi));
    const float mean = static_cast<float>(sum_squares / static_cast<double>(dim));
    const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
    float* dst = out + t * dim;
    for (int64_t i = 0; i < dim; i += kLanes) {
      const __mmask16 m = tail_mask(dim - i);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), scale);
      _mm512_mask_storeu_ps(dst + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, weight + i)));
    }
  }
}

void silu_mul_avx512(const float* gate, const float* up, int64_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void softmax_avx512(float* x, int64_t n) {
  __m512 max_v = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += kLanes) {
    max_v = _mm512_max_ps(max_v, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - i), x + i));
  }
  const __m512 max_value = _mm512_set1_ps(_mm512_reduce_max_ps(max_v));
  __m512d sum_lo = _mm512_setzero_pd(), sum_hi = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), max_value)));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum_lo = _mm512_add_pd(sum_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    sum_hi = _mm512_add_pd(sum_hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const __m512 inv_sum = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi))));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv_sum));
  }
}

// out[i] = x[i] rounded to the nearest f16 (ties to even) and back; x == out allowed.
inline void round_to_f16(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __m256i half = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(half));
  }
}

// K/V elements as f32: f32 as stored, f16 converted exactly (F16C); lanes left out read 0.
inline __m512 load_kv(__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_kv(__mmask16 m, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// Sixteen positions per vector for group_scores (attention_x86.h); four heads per pass keep
// 4 x 4 accumulators in registers.
struct PositionLanes {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kMaxScoreHeads = 4;
  static Mask mask(int64_t n) { return tail_mask(n); }
  template <typename T>
  static Vec load(Mask m, const T* p) { return load_kv(m, p); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};

// The f16 cache's fast path (head_dim 64 or 128) fuses the multiply-adds of the weighted sum of
// V. NOTE: not bit for bit the reference; an f16 cache already differs from ggml's f16 sums, and
// the tests hold this path to the f16 tolerance. Deterministic per query, so a token's output
// never depends on what else is in the batch.
inline bool f16_fast_path(const PagedKvLayer& kv) {
  return kv.type == DType::kF16 && (kv.head_dim == 4 * kLanes || kv.head_dim == 8 * kLanes);
}

// out_g[d] = sum_p scores_g[p] * v_p[d] for kHeads heads at once: each V vector is loaded once
// for all of them. Per head, lanes over d and positions in order; with a separate multiply and
// add (kFused false) bit for bit the reference, while the f16 cache's fast path (see
// f16_fast_path) fuses them. 64 dims per pass, 4 x kHeads accumulators in registers.
template <typename T, int kHeads, bool kFused>
void weighted_values_chunks(const float* scores, int32_t context, const PagedKvLayer& kv,
                            std::span<const int32_t> block_table, int64_t kv_head, float* out) {
  const int64_t head_dim = kv.head_dim;
  constexpr int64_t kChunk = 4 * kLanes;
  for (int64_t d0 = 0; d0 < head_dim; d0 += kChunk) {
    __mmask16 m[4];
    __m512 acc[kHeads][4];
    for (int i = 0; i < 4; ++i) {
      const int64_t remaining = head_dim - d0 - i * kLanes;
      m[i] = remaining > 0 ? tail_mask(remaining) : __mmask16(0);
      for (int g = 0; g < kHeads; ++g) acc[g][i] = _mm512_setzero_ps();
    }
    KvCursor<T> cursor(kv.v, kv, block_table, kv_head, context);
    for (int32_t p = 0; p < context; ++p) {
      const T* v = cursor.next() + d0;
      __m512 values[4];
      for (int i = 0; i < 4; ++i) values[i] = load_kv(m[i], v + i * kLanes);
      for (int g = 0; g < kHeads; ++g) {
        const __m512 s = _mm512_set1_ps(scores[g * context + p]);
        for (int i = 0; i < 4; ++i) {
          // The f16 cache fuses the multiply-add (see f16_fast_path); f32 stays exact.
          acc[g][i] = kFused ? _mm512_fmadd_ps(s, values[i], acc[g][i])
                             : _mm512_add_ps(acc[g][i], _mm512_mul_ps(s, values[i]));
        }
      }
    }
    for (int g = 0; g < kHeads; ++g) {
      for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(out + g * head_dim + d0 + i * kLanes, m[i], acc[g][i]);
    }
  }
}

inline void softmax_x86(float* x, int64_t n) { softmax_avx512(x, n); }

}  // namespace
}  // namespace tessera::kernels

// NOTE: after the primitives it is written over (see the header).
#include "kernels/cpu/x86/attention_x86.h"

namespace tessera::kernels {

void register_avx512_elementwise(KernelTable& table) {
  table.rms_norm = rms_norm_avx512;
  table.silu_mul = silu_mul_avx512;
  table.softmax = softmax_avx512;
  table.attention_heads = attention_heads_x86;
}

}  // namespace tessera::kernels

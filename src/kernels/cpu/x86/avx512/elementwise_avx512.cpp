// AVX-512 versions of the f32 ops around the matmuls: RMSNorm, SiLU gating, softmax and one
// (query token, head) of paged attention. Same contracts as kernels/ref/; the tests hold them
// to the reference over many shapes including tails (masked loads, never a scalar loop).
// GCC 12's AVX-512 headers self-initialise their "undefined" vectors, which its own
// -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/kernel_table.h"

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

// q . k over head_dim. NOTE: heads narrower than 64 are summed one element at a time, in order,
// exactly as the reference (and ggml's vec_dot_f32 leftover loop) do: on the tiny golden models
// a last-bit difference here flips 8-bit activation roundings downstream. Wider heads use four
// 16-lane accumulators over 64-element chunks, ggml's AVX-512 order.
inline float dot_head(const float* q, const float* k, int64_t head_dim) {
  if (head_dim < 4 * kLanes) {
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[d];  // no FMA: this file has fp-contract=off
    return dot;
  }
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t d = 0;
  for (; d + 4 * kLanes <= head_dim; d += 4 * kLanes) {
    for (int i = 0; i < 4; ++i) {
      acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + i * kLanes), _mm512_loadu_ps(k + d + i * kLanes), acc[i]);
    }
  }
  float dot = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3])));
  for (; d < head_dim; ++d) dot += q[d] * k[d];
  return dot;
}

void attention_head_avx512(const float* q_head, int32_t position, int64_t head, int64_t num_heads,
                           const PagedKvLayer& kv, std::span<const int32_t> block_table, float scale, float* scores,
                           float* out_head) {
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = head / (num_heads / kv.num_kv_heads);
  auto slot_offset = [&](int32_t pos) { return kv_offset(kv, block_table, pos, kv_head); };
  const int32_t context = position + 1;
  for (int32_t p = 0; p < context; ++p) scores[p] = dot_head(q_head, kv.k + slot_offset(p), head_dim) * scale;
  softmax_avx512(scores, context);
  // out[d] = sum_p scores[p] * v_p[d], lanes over d and positions in order with a separate
  // multiply and add: bit for bit the reference. Four vectors (64 dims) stay in registers.
  constexpr int64_t kChunk = 4 * kLanes;
  for (int64_t d0 = 0; d0 < head_dim; d0 += kChunk) {
    __mmask16 m[4];
    __m512 acc[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t remaining = head_dim - d0 - i * kLanes;
      m[i] = remaining > 0 ? tail_mask(remaining) : __mmask16(0);
      acc[i] = _mm512_setzero_ps();
    }
    for (int32_t p = 0; p < context; ++p) {
      const float* v = kv.v + slot_offset(p) + d0;
      const __m512 s = _mm512_set1_ps(scores[p]);
      for (int i = 0; i < 4; ++i) {
        acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m[i], v + i * kLanes)));
      }
    }
    for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(out_head + d0 + i * kLanes, m[i], acc[i]);
  }
}

}  // namespace

void register_avx512_elementwise(KernelTable& table) {
  table.rms_norm = rms_norm_avx512;
  table.silu_mul = silu_mul_avx512;
  table.softmax = softmax_avx512;
  table.attention_head = attention_head_avx512;
}

}  // namespace tessera::kernels

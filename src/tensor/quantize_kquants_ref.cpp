// Reference quantizers of the 256-element k-quant super-blocks (Q2_K ... Q6_K) and of the Q8_K
// activation format, without importance weights. Each mirrors ggml's quantize_row_*_ref and its
// helpers (make_qx_quants, make_q3_quants, make_qkx2_quants) operation for operation: same float
// expressions in the same order, same integer truncations, same tie-breaking; the bytes must equal
// what llama.cpp writes. NOTE: the `min` a fit keeps is reused in later search steps, as in ggml.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_ref_internal.h"

// NOTE: no fused multiply-add contraction here: ggml's reference code rounds every product and
// sum on its own, and fusing a * b + c changes results (and bytes, as seen with -march=native).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace tessera::quant_internal {
namespace {

// Below this the group counts as all zeros (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEpsilon = 1e-15f;

// The element of largest magnitude, sign included (the first on ties); sets *absolute_max.
float signed_absolute_max(int n, const float* x, float* absolute_max) {
  float signed_max = 0;
  *absolute_max = 0;
  for (int i = 0; i < n; ++i) {
    const float magnitude = std::fabs(x[i]);
    if (magnitude > *absolute_max) {
      *absolute_max = magnitude;
      signed_max = x[i];
    }
  }
  return signed_max;
}

int clamp_int(int value, int low, int high) { return std::max(low, std::min(high, value)); }

// Symmetric scale for n values with quants in [-nmax, nmax - 1] (stored biased as L + nmax),
// chosen to minimise the x^2-weighted squared error: start at scale = max / -nmax, then try 18
// nearby inverse scales and keep the best least-squares fit. (make_qx_quants, rmse_type 1.)
float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* quants) {
  float absolute_max;
  const float max = signed_absolute_max(n, x, &absolute_max);
  if (absolute_max < kGroupMaxEpsilon) {
    std::fill(quants, quants + n, int8_t{0});
    return 0.f;
  }
  float inverse_scale = -nmax / max;
  float sum_lx = 0;
  float sum_l2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(inverse_scale * x[i]), -nmax, nmax - 1);
    quants[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sum_lx += w * x[i] * l;
    sum_l2 += w * l * l;
  }
  float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f;
  float best = scale * sum_lx;  // the error reduction sum_lx^2 / sum_l2 of the current fit
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    inverse_scale = -(nmax + 0.1f * step) / max;
    sum_lx = sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(inverse_scale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * l;
      sum_l2 += w * l * l;
    }
    if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
      for (int i = 0; i < n; ++i) {
        quants[i] = static_cast<int8_t>(nmax + clamp_int(nearest_int(inverse_scale * x[i]), -nmax, nmax - 1));
      }
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

// Q3_K's group fit: quants in [-nmax, nmax - 1] (stored biased), x^2-weighted; starts from
// scale = max / -nmax and then moves single quants while that improves the least-squares fit
// (up to 5 passes). (make_q3_quants with do_rmse.)
float fit_symmetric_scale_by_coordinate_descent(int n, int nmax, const float* x, int8_t* quants) {
  float absolute_max;
  const float max = signed_absolute_max(n, x, &absolute_max);
  if (absolute_max < kGroupMaxEpsilon) {
    std::fill(quants, quants + n, int8_t{0});
    return 0.f;
  }
  const float inverse_scale = -nmax / max;
  float sum_lx = 0;
  float sum_l2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(inverse_scale * x[i]), -nmax, nmax - 1);
    quants[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sum_lx += w * x[i] * l;
    sum_l2 += w * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int num_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float without_lx = sum_lx - w * x[i] * quants[i];
      if (without_lx > 0) {
        float without_l2 = sum_l2 - w * quants[i] * quants[i];
        const int new_l = clamp_int(nearest_int(x[i] * without_l2 / without_lx), -nmax, nmax - 1);
        if (new_l != quants[i]) {
          without_lx += w * x[i] * new_l;
          without_l2 += w * new_l * new_l;
          if (without_l2 > 0 && without_lx * without_lx * sum_l2 > sum_lx * sum_lx * without_l2) {
            quants[i] = static_cast<int8_t>(new_l);
            sum_lx = without_lx;
            sum_l2 = without_l2;
            ++num_changed;
          }
        }
      }
    }
    if (num_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) quants[i] = static_cast<int8_t>(quants[i] + nmax);
  return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

// Parameters of the affine fit's search over inverse scales (rmin + rdelta * step + nmax) / range.
struct AffineSearch {
  float rmin;
  float rdelta;
  int num_steps;
  bool use_absolute_error;  // weighted |error| instead of weighted error^2
};

// Affine fit x ~ scale * q - offset with q in [0, nmax] and offset >= 0 (the group minimum,
// clipped at zero), minimising the weighted error over a grid of candidate inverse scales with a
// closed-form least-squares (scale, min) for each. Returns the scale; *offset = -min.
// (make_qkx2_quants.)
float fit_affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* quants, float* offset,
                       const AffineSearch& search) {
  uint8_t candidate[32];
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(quants, quants + n, uint8_t{0});
    *offset = -min;
    return 0.f;
  }
  float inverse_scale = nmax / (max - min);
  float scale = 1 / inverse_scale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    quants[i] = static_cast<uint8_t>(clamp_int(nearest_int(inverse_scale * (x[i] - min)), 0, nmax));
    float diff = scale * quants[i] + min - x[i];
    diff = search.use_absolute_error ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  for (int step = 0; step <= search.num_steps; ++step) {
    inverse_scale = (search.rmin + search.rdelta * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(inverse_scale * (x[i] - min)), 0, nmax);
      candidate[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float determinant = sum_w * sum_l2 - sum_l * sum_l;
    if (determinant > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / determinant;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / determinant;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * candidate[i] + this_min - x[i];
        diff = search.use_absolute_error ? std::fabs(diff) : diff * diff;
        error += weights[i] * diff;
      }
      if (error < best_error) {
        std::copy(candidate, candidate + n, quants);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *offset = -min;
  return scale;
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits the 8 groups of 32, quantizes their scales and
// mins to 6 bits against two f16 super-scales, then re-quantizes every value with the rounded
// scales. Writes d, dmin and scales of the block; returns the final quants in `quants`.
template <typename Block>
void quantize_k4_style(const float* x, Block* y, int nmax, const AffineSearch& search, uint8_t* quants) {
  float scales[kQK_K / 32];
  float mins[kQK_K / 32];
  float weights[32];
  float max_scale = 0;  // scales are never negative: the offset absorbs the sign
  float max_min = 0;
  for (int g = 0; g < kQK_K / 32; ++g) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * g + l] * x[32 * g + l];
    const float average_magnitude = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = average_magnitude + std::fabs(x[32 * g + l]);
    scales[g] = fit_affine_scale(32, nmax, x + 32 * g, weights, quants + 32 * g, &mins[g], search);
    if (scales[g] > max_scale) max_scale = scales[g];
    if (mins[g] > max_min) max_min = mins[g];
  }
  const float inverse_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inverse_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int g = 0; g < kQK_K / 32; ++g) {
    // NOTE: truncated to 8 bits before the clamp, exactly as ggml stores it.
    const uint8_t scale = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inverse_scale * scales[g])));
    const uint8_t min = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inverse_min * mins[g])));
    pack_k4_scale_min(g, scale, min, y->scales);
  }
  y->d = f32_to_f16(max_scale / 63.f);
  y->dmin = f32_to_f16(max_min / 63.f);

  for (int g = 0; g < kQK_K / 32; ++g) {
    uint8_t scale, min;
    unpack_k4_scale_min(g, y->scales, &scale, &min);
    const float d = f16_to_f32(y->d) * scale;
    if (d == 0) continue;  // keep the fit's quants
    const float dm = f16_to_f32(y->dmin) * min;
    for (int l = 0; l < 32; ++l) {
      quants[32 * g + l] = static_cast<uint8_t>(clamp_int(nearest_int((x[32 * g + l] + dm) / d), 0, nmax));
    }
  }
}

void quantize_q2_K(const float* x, BlockQ2_K* y) {
  constexpr float kMaxScaleQuant = 15.f;  // scales and mins are 4-bit
  uint8_t quants[kQK_K];
  float weights[16];
  float scales[kQK_K / 16];
  float mins[kQK_K / 16];
  float max_scale = 0;
  float max_min = 0;
  const AffineSearch search{-0.5f, 0.1f, 15, true};
  for (int g = 0; g < kQK_K / 16; ++g) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * g + l]);
    scales[g] = fit_affine_scale(16, 3, x + 16 * g, weights, quants + 16 * g, &mins[g], search);
    if (scales[g] > max_scale) max_scale = scales[g];
    if (mins[g] > max_min) max_min = mins[g];
  }

  if (max_scale > 0) {
    const float inverse_scale = kMaxScaleQuant / max_scale;
    for (int g = 0; g < kQK_K / 16; ++g)
      y->scales[g] = static_cast<uint8_t>(nearest_int(inverse_scale * scales[g]));
    y->d = f32_to_f16(max_scale / kMaxScaleQuant);
  } else {
    std::fill(y->scales, y->scales + kQK_K / 16, uint8_t{0});
    y->d = f32_to_f16(0.f);
  }
  if (max_min > 0) {
    const float inverse_min = kMaxScaleQuant / max_min;
    for (int g = 0; g < kQK_K / 16; ++g) {
      y->scales[g] = static_cast<uint8_t>(y->scales[g] | (nearest_int(inverse_min * mins[g]) << 4));
    }
    y->dmin = f32_to_f16(max_min / kMaxScaleQuant);
  } else {
    y->dmin = f32_to_f16(0.f);
  }

  for (int g = 0; g < kQK_K / 16; ++g) {
    const float d = f16_to_f32(y->d) * (y->scales[g] & 0xF);
    if (d == 0) continue;  // keep the fit's quants
    const float dm = f16_to_f32(y->dmin) * (y->scales[g] >> 4);
    for (int l = 0; l < 16; ++l) {
      quants[16 * g + l] = static_cast<uint8_t>(clamp_int(nearest_int((x[16 * g + l] + dm) / d), 0, 3));
    }
  }
  pack_2bit_quants(quants, y->qs);
}

void quantize_q3_K(const float* x, BlockQ3_K* y) {
  int8_t quants[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;  // signed: the group scale of largest magnitude
  float max_abs_scale = 0;
  for (int g = 0; g < kQK_K / 16; ++g) {
    scales[g] = fit_symmetric_scale_by_coordinate_descent(16, 4, x + 16 * g, quants + 16 * g);
    const float magnitude = std::fabs(scales[g]);
    if (magnitude > max_abs_scale) {
      max_abs_scale = magnitude;
      max_scale = scales[g];
    }
  }

  std::memset(y->scales, 0, kK_SCALE_SIZE);
  if (max_scale != 0) {
    const float inverse_scale = -32.f / max_scale;
    for (int g = 0; g < kQK_K / 16; ++g) {
      // NOTE: truncated to int8 before the clamp, as in ggml (the value is within [-32, 32]).
      int8_t l = static_cast<int8_t>(nearest_int(inverse_scale * scales[g]));
      l = static_cast<int8_t>(std::max<int>(-32, std::min<int>(31, l)) + 32);
      pack_q3_K_scale(g, l, y->scales);
    }
    y->d = f32_to_f16(1 / inverse_scale);
  } else {
    y->d = f32_to_f16(0.f);
  }

  for (int g = 0; g < kQK_K / 16; ++g) {
    const float d = f16_to_f32(y->d) * unpack_q3_K_scale(g, y->scales);
    if (d == 0) continue;  // keep the fit's quants
    for (int l = 0; l < 16; ++l) {
      quants[16 * g + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * g + l] / d), -4, 3) + 4);
    }
  }

  pack_q3_K_quants(quants, y);
}

void quantize_q4_K(const float* x, BlockQ4_K* y) {
  uint8_t quants[kQK_K];
  quantize_k4_style(x, y, 15, AffineSearch{-1.f, 0.1f, 20, false}, quants);
  pack_q4_K_quants(quants, y);
}

void quantize_q5_K(const float* x, BlockQ5_K* y) {
  uint8_t quants[kQK_K];
  quantize_k4_style(x, y, 31, AffineSearch{-0.5f, 0.1f, 15, false}, quants);
  pack_q5_K_quants(quants, y);
}

void quantize_q6_K(const float* x, BlockQ6_K* y) {
  int8_t quants[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;  // signed: the group scale of largest magnitude
  float max_abs_scale = 0;
  for (int g = 0; g < kQK_K / 16; ++g) {
    scales[g] = fit_symmetric_scale(16, 32, x + 16 * g, quants + 16 * g);
    const float magnitude = std::fabs(scales[g]);
    if (magnitude > max_abs_scale) {
      max_abs_scale = magnitude;
      max_scale = scales[g];
    }
  }
  if (max_abs_scale < kGroupMaxEpsilon) {
    std::memset(y, 0, sizeof(*y));
    return;
  }

  const float inverse_scale = -128.f / max_scale;
  y->d = f32_to_f16(1 / inverse_scale);
  for (int g = 0; g < kQK_K / 16; ++g) {
    y->scales[g] = static_cast<int8_t>(std::min(127, nearest_int(inverse_scale * scales[g])));
  }
  for (int g = 0; g < kQK_K / 16; ++g) {
    const float d = f16_to_f32(y->d) * y->scales[g];
    if (d == 0) continue;  // keep the fit's quants
    for (int l = 0; l < 16; ++l) {
      quants[16 * g + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * g + l] / d), -32, 31) + 32);
    }
  }

  pack_q6_K_quants(quants, y);
}

void quantize_q8_K(const float* x, BlockQ8_K* y) {
  float absolute_max;
  const float max = signed_absolute_max(kQK_K, x, &absolute_max);
  if (absolute_max == 0) {
    // ggml leaves bsums untouched here; zero is what they would sum to.
    std::memset(y, 0, sizeof(*y));
    return;
  }
  // -127 (not -128) keeps every quant in [-127, 127], so negating a quant never overflows.
  const float inverse_scale = -127.f / max;
  for (int j = 0; j < kQK_K; ++j)
    y->qs[j] = static_cast<int8_t>(std::min(127, nearest_int(inverse_scale * x[j])));
  for (int g = 0; g < kQK_K / 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += y->qs[16 * g + l];
    y->bsums[g] = static_cast<int16_t>(sum);
  }
  y->d = 1 / inverse_scale;
}

template <typename Block, typename QuantizeBlock>
void for_each_block(const float* src, Block* dst, int64_t num_blocks, QuantizeBlock quantize_block) {
  for (int64_t i = 0; i < num_blocks; ++i) quantize_block(src + i * kQK_K, &dst[i]);
}

}  // namespace

void quantize_q2_K_blocks(const float* src, BlockQ2_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q2_K);
}
void quantize_q3_K_blocks(const float* src, BlockQ3_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q3_K);
}
void quantize_q4_K_blocks(const float* src, BlockQ4_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q4_K);
}
void quantize_q5_K_blocks(const float* src, BlockQ5_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q5_K);
}
void quantize_q6_K_blocks(const float* src, BlockQ6_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q6_K);
}
void quantize_q8_K_blocks(const float* src, BlockQ8_K* dst, int64_t num_blocks) {
  for_each_block(src, dst, num_blocks, quantize_q8_K);
}

}  // namespace tessera::quant_internal
